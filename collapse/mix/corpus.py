"""How a mix is stored: a `datasets` folder with flat, typed columns (lineage as a struct, sampling and meta as
JSON strings, so any record round-trips), and `load_mix` to get the records back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from semisynth.records import Lineage, Origin, Record

LINEAGE_FIELDS = ("generator", "template", "template_hash", "model", "seed", "run_id", "taxonomy_leaf",
                  "task_id", "variant", "style", "source", "edited_from")
_INT_FIELDS = {"seed", "variant"}

def corpus_row(r: Record, source: str) -> dict[str, Any]:
    lin = r.lineage
    return {
        "id": r.id, "origin": r.origin.value, "text": r.text,
        "messages": [{"role": m.role, "content": m.content} for m in r.messages] if r.messages else None,
        "parents": list(r.parents), "language": r.language,
        "lineage": {k: (getattr(lin, k) if k in _INT_FIELDS else (None if getattr(lin, k) is None
                                                                  else str(getattr(lin, k))))
                    for k in LINEAGE_FIELDS},
        "lineage_sampling": json.dumps(dict(lin.sampling), sort_keys=True, default=str),
        "meta_json": json.dumps(dict(r.meta), sort_keys=True, default=str),
        "mix_source": source,
    }


def corpus_features() -> Any:
    import datasets

    s = datasets.Value("string")
    lineage = {k: datasets.Value("int64") if k in _INT_FIELDS else s for k in LINEAGE_FIELDS}
    return datasets.Features({
        "id": s, "origin": s, "text": s, "messages": datasets.List({"role": s, "content": s}),
        "parents": datasets.List(s), "language": s, "lineage": lineage, "lineage_sampling": s,
        "meta_json": s, "mix_source": s,
    })


def load_mix(corpus_dir: str | Path) -> list[Record]:
    """The corpus as records again (lineage, sampling and meta restored)."""
    import datasets

    ds = datasets.load_from_disk(str(corpus_dir))
    out = []
    for row in ds:
        lin = {k: v for k, v in (row["lineage"] or {}).items() if v is not None}
        lin["sampling"] = json.loads(row["lineage_sampling"] or "{}")
        out.append(Record(id=row["id"], origin=Origin(row["origin"]), text=row["text"],
                          messages=tuple(row["messages"]) if row["messages"] else None,
                          parents=tuple(row["parents"] or ()), language=row["language"] or "und",
                          lineage=Lineage.from_dict(lin), meta=json.loads(row["meta_json"] or "{}")))
    return out

