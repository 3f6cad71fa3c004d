"""Rule-detectable defects in a run's kept records, each as a share of the kept records (issue 20's "under 1 %").

The rules are the reader checks of generation/facts.py and the copy check of generation/checks.py, applied to
every kept record next to its seed, whatever the run's own checks were (so a run made without them, or by
another tool, is measured the same way). A kept record can show several defects; each is counted once per kind.

  .venv/bin/python scripts/reader_defects.py runs/demo/generate [more run dirs]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generation.checks import CheckConfig, seed_copy  # noqa: E402
from generation.facts import fact_change, form_defect  # noqa: E402
from semisynth.io import read_records  # noqa: E402


def defects(run: Path) -> tuple[int, Counter[str], dict[str, list[tuple[str, str]]]]:
    """(kept records, defect counts, up to 3 examples per defect as (seed, record))."""
    seeds = {r.id: r for r in read_records(run / "seeds.jsonl")}
    cfg = CheckConfig()
    counts: Counter[str] = Counter()
    examples: dict[str, list[tuple[str, str]]] = {}
    kept = 0
    for path in sorted((run / "records").glob("*.jsonl")):
        for rec in read_records(path):
            kept += 1
            seed = seeds.get(rec.parents[0]) if rec.parents else None
            seed_text = seed.content if seed is not None else None
            found = set()
            if (f := form_defect(rec.content, seed_text)) is not None:
                found.add(f[0])
            paraphrase = rec.lineage.generator.startswith("paraphrase")
            if paraphrase and seed_text is not None:
                if (f := fact_change(seed_text, rec.content, seed.language)) is not None:
                    found.add(f[0])
                copied = seed_copy(rec.content, seed_text, cfg.near_copy_similarity, cfg.verbatim_min_chars,
                                   cfg.verbatim_min_share)
                if copied is not None:
                    found.add(copied[0])
            for d in found:
                counts[d] += 1
                examples.setdefault(d, [])
                if len(examples[d]) < 3:
                    examples[d].append((seed_text or "", rec.content))
    return kept, counts, examples


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="`semisynth generate` output directories")
    ap.add_argument("--examples", action="store_true", help="print up to 3 examples per defect")
    args = ap.parse_args()
    out = {}
    for run in args.runs:
        kept, counts, examples = defects(run)
        out[str(run)] = {"kept": kept, "defects": {d: {"n": n, "share": round(n / max(kept, 1), 4)}
                                                   for d, n in counts.most_common()}}
        print(f"{run}: {kept} kept records")
        for d, n in counts.most_common():
            print(f"  {d:24s} {n:5d}  {n / max(kept, 1):7.2%}")
            if args.examples:
                for s, r in examples[d]:
                    print(f"      seed:   {s!r}\n      record: {r!r}")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
