"""A blind reading audit (scripts/audit.py: one reader's labels) as a review.json the mix can gate on, and its
figures beside the audit's own score.json (an independent Wilson implementation).

Labels map to the review's decisions: OK -> acceptable, DRIFT -> changed_meaning, JUNK -> not_fluent_or_leaked,
COPY -> copy_of_seed; gold items are left out; audited records no longer in the run are counted and left out.
The audit sample is plain random (not the monitor's stratified sample), so each record weighs the same.

  .venv/bin/python scripts/review_from_audit.py audits/2026-12-05-demo-smollm2-final runs/demo/generate \
      runs/demo/generate/monitor/report.json --out /tmp/review.json
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from semisynth.io import read_records  # noqa: E402
from semisynth.preference.curation import Annotation, review_item  # noqa: E402
from semisynth.preference.review import build_review, item_verdicts  # noqa: E402

DECISION = {"OK": "acceptable", "DRIFT": "changed_meaning", "JUNK": "not_fluent_or_leaked", "COPY": "copy_of_seed"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("audit", type=Path, help="audit folder (pairs.tsv with labels, key.tsv)")
    ap.add_argument("run", type=Path, help="the `semisynth generate` run the audit read")
    ap.add_argument("monitor_report", type=Path, help="the run's monitor report.json (the review's fingerprint)")
    ap.add_argument("--out", type=Path, required=True, help="review.json to write")
    args = ap.parse_args()
    recs = {r.id: r for r in read_records(args.run)}
    seeds = {s.id: s for s in read_records(args.run / "seeds.jsonl")}
    with (args.audit / "pairs.tsv").open(encoding="utf-8", newline="") as f:
        labels = {p["item"]: p["label"].strip() for p in csv.DictReader(f, dialect="excel-tab")}
    with (args.audit / "key.tsv").open(encoding="utf-8", newline="") as f:
        key = list(csv.DictReader(f, dialect="excel-tab"))
    items, anns, missing = {}, [], 0
    for k in key:
        if k["generator"].startswith("gold") or labels.get(k["item"]) not in DECISION:
            continue
        r = recs.get(k["record_id"])
        if r is None:
            missing += 1
            continue
        it = review_item(r, seeds.get(r.parents[0]) if r.parents else None)
        items[it.id] = it
        anns.append(Annotation(it.id, "reader", {"decision": DECISION[labels[k["item"]]]}))
    rep = build_review(args.audit.name, items, anns, item_verdicts(items, anns, min_raters=1), n_boot=0,
                       monitor_report=json.loads(args.monitor_report.read_text()),
                       monitor_report_path=str(args.monitor_report))
    args.out.write_text(json.dumps(rep, indent=1))
    score_file = args.audit / "score.json"
    score = json.loads(score_file.read_text())["by_generator"] if score_file.exists() else {}
    print(f"{len(items)} audited records reviewed ({missing} no longer in the run); wrote {args.out}")
    o = rep["acceptance"]["overall"]
    print(f"overall: {o['accepted']}/{o['n']} = {o['rate']:.4f} [{o['ci_low']:.4f}, {o['ci_high']:.4f}]")
    for g, r in rep["acceptance"]["by_generator"].items():
        s = score.get(g) or {}
        ci = s.get("ok_ci95") or [float("nan")] * 2
        print(f"{g}: {r['accepted']}/{r['n']} = {r['rate']:.4f} [{r['ci_low']:.4f}, {r['ci_high']:.4f}]"
              f"   audit.py score.json: n={s.get('n')} [{ci[0]:.4f}, {ci[1]:.4f}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
