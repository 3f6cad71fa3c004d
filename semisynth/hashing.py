"""Content hashes: deterministic ids for records, tasks, templates and caches."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace, so equal content always hashes equally."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def content_hash(obj: Any, length: int = 16) -> str:
    """Short hex sha256 of the canonical JSON of `obj` (16 hex chars = 64 bits, plenty per corpus)."""
    if isinstance(obj, bytes):
        data = obj
    elif isinstance(obj, str):
        data = obj.encode("utf-8")
    else:
        data = canonical_json(obj).encode("utf-8")
    return hashlib.sha256(data).hexdigest()[:length]


def ids_digest(ids: Iterable[str]) -> str:
    """The order-free digest of a corpus's record ids: the "ids" part of a monitor fingerprint, which a dataset
    card compares to tell whether a report judged the records that are there now."""
    return content_hash(sorted(ids), 64)


def seed_from(*parts: Any) -> int:
    """A 31-bit integer seed derived from arbitrary parts (per-request sampling seeds, per-task RNGs)."""
    return int(content_hash(list(parts), 8), 16) & 0x7FFFFFFF
