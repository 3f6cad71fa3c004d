"""Fingerprints that bind a monitor report to the exact records it judged and the config it judged them with.

Why: a gate verdict is about a set of records. If the run is resumed or extended after monitoring, the
report no longer describes the data, and `semisynth mix` must notice. The fingerprint of a corpus is the
sha256 of its sorted (id, content hash of the whole record) pairs: order-free, and any added, removed or
edited record (text, origin, parents, language, lineage, meta other than the file:line it was read from)
changes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from semisynth.hashing import content_hash, ids_digest
from semisynth.records import Record

METHOD = "sha256 of the canonical JSON of sorted [id, content_hash(record.to_dict() without meta.source)] pairs"


def record_digest(r: Record) -> str:
    """Content hash of the whole record except meta.source: the file:line a plain row was read from names a
    place, not content, and changes with the working directory the file was read from."""
    d = r.to_dict()
    if "source" in d.get("meta", {}):
        d["meta"] = {k: v for k, v in d["meta"].items() if k != "source"}
    return content_hash(d)


def records_fingerprint(records: Iterable[Record]) -> dict[str, Any]:
    pairs = sorted([r.id, record_digest(r)] for r in records)
    return {"n": len(pairs), "ids": ids_digest(p[0] for p in pairs), "records": content_hash(pairs, 64)}


def config_fingerprint(config: Mapping[str, Any]) -> str:
    return content_hash(dict(config), 64)


def monitor_fingerprint(real: Sequence[Record], synthetic: Sequence[Record], config: Mapping[str, Any],
                        inputs: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """What report.json records: both corpora, the config, and how each corpus was read (path, text field,
    default origin) so a later check can read the same files the same way."""
    inputs = inputs or {}
    return {"method": METHOD,
            "real": {**records_fingerprint(real), "read_as": dict(inputs.get("real") or {})},
            "synthetic": {**records_fingerprint(synthetic), "read_as": dict(inputs.get("synthetic") or {})},
            "config": config_fingerprint(config)}


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()

