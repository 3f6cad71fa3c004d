"""The human review gate on a real run, with readers' labels as the raters' answers (issue 22 on real data).

A real `semisynth generate` run that was read blind (an `audits/` folder whose key.tsv names the run's records)
is monitored with a review sample, pushed to a local Argilla as a review dataset for three raters, and the three
raters answer through their own queues with the blind reader's label of each record (OK -> acceptable, DRIFT ->
changed_meaning, JUNK -> not_fluent_or_leaked, COPY -> copy_of_seed). Then `preference report` writes review.json,
its acceptance is compared with Wilson's interval on the reader's labels of the sampled records (computed here,
independently), and `mix` is asked to let the run in at min_accepted just over and just under the lower bound.

  .venv/bin/python scripts/review_real_run.py /tmp/runs/air-q15-t03/run audits/2026-12-05-air-heldout-qwen1.5b-t03 \
      --work /tmp/review-real
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from audit import read_labels  # noqa: E402
from review_from_audit import DECISION as LABEL_TO_DECISION  # noqa: E402


def reader_labels(audit: Path) -> dict[str, str]:
    """record id -> the blind reader's label (gold items left out; labels checked by audit.py's reader)."""
    label = read_labels(audit / "pairs.tsv")
    with (audit / "key.tsv").open(encoding="utf-8", newline="") as f:
        return {k["record_id"]: label[k["item"]] for k in csv.DictReader(f, dialect="excel-tab")
                if not k["generator"].startswith("gold")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("audit", type=Path)
    ap.add_argument("--work", type=Path, required=True, help="a scratch folder (replaced)")
    ap.add_argument("--review-sample", type=int, default=40)
    args = ap.parse_args()
    from statsmodels.stats.proportion import proportion_confint

    from semisynth.cli import main as cli
    from semisynth.preference import curation
    from semisynth.preference.client import Connection
    from semisynth.preference.simulator import RaterSimulator, SimulatedRater
    from semisynth.preference.stack import LocalStack

    labels = reader_labels(args.audit)
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    run = args.work / "run"
    shutil.copytree(args.run, run, ignore=shutil.ignore_patterns("monitor", "logs"))
    kept = [json.loads(x) for p in sorted((run / "records").glob("*.jsonl")) for x in p.read_text().splitlines()]
    assert {r["id"] for r in kept} <= set(labels), "every kept record of the run must have been read"
    # the default gates but the typo-rate ratio, which a run of ~50 records cannot judge (too few expected typos:
    # the mix would refuse the run for that, before it reads the review)
    (args.work / "monitor.yaml").write_text(
        "gates:\n  - {figure: frechet, max_baseline_ratio: 2.0}\n  - {figure: irregularity.smoothing_index, max: 0.5}\n"
        "  - {figure: irregularity.smoothing_index, verdict_not: [smoothed]}\n")
    assert cli(["monitor", "--real", str(run / "seeds.jsonl"), "--synthetic", str(run), "--out", str(run / "monitor"),
                "--config", str(args.work / "monitor.yaml"), "--review-sample", str(args.review_sample)]) == 0
    sample = [json.loads(x) for x in (run / "monitor" / "review_sample.jsonl").read_text().splitlines()]
    state = args.work / "argilla"
    assert cli(["argilla", "up", "--state-dir", str(state)]) == 0
    stack = LocalStack(state)
    try:
        conn = Connection(stack.url(), stack.credentials()["api_key"])
        conn.check()
        base = ["--state-dir", str(state), "--dataset", "rev-real"]
        assert cli(["preference", "push", *base, "--kind", "review", "--input", str(run / "monitor" /
                    "review_sample.jsonl"), "--seeds", str(run / "seeds.jsonl"), "--raters", "ra,rb,rc", "-k", "3",
                    "--credentials-out", str(args.work / "raters.json")]) == 0
        pulled = curation.pull(conn, "rev-real")
        truth = {iid: LABEL_TO_DECISION[labels[it.payload["record"]["id"]]] for iid, it in pulled.items.items()}
        done = RaterSimulator(conn, "rev-real", [SimulatedRater(u, 0.0) for u in ("ra", "rb", "rc")], truth).run()
        assert cli(["preference", "report", *base, "--out", str(args.work / "report"), "--monitor-report",
                    str(run / "monitor" / "report.json")]) == 0
    finally:
        cli(["argilla", "down", "--state-dir", str(state)])
    review = json.loads((run / "monitor" / "review.json").read_text())
    ok = sum(labels[r["id"]] == "OK" for r in sample)
    lo, hi = proportion_confint(ok, len(sample), alpha=0.05, method="wilson")
    o = review["acceptance"]["overall"]
    figures = {"kept": len(kept), "sampled": len(sample), "answers_per_rater": done,
               "reader_ok_in_sample": ok, "independent_wilson": [round(lo, 4), round(hi, 4)],
               "review_json_overall": {k: o[k] for k in ("accepted", "n", "rate", "ci_low", "ci_high")},
               "failure_reasons": {k: v["n"] for k, v in review["failure_reasons"].items()}}
    mixes = {}
    for name, m in (("over", o["ci_low"] + 0.01), ("under", max(0.0, o["ci_low"] - 0.01))):
        cfg = args.work / f"mix-{name}.yaml"
        cfg.write_text(json.dumps({"out": str(args.work / f"mix-{name}"), "sources": [
            {"path": str(run / "seeds.jsonl"), "kind": "real"},
            {"path": str(run), "kind": "semi_synthetic", "min_accepted": round(m, 4)}]}))
        mixes[f"min_accepted {m:.4f}"] = cli(["mix", "--config", str(cfg)])
    figures["mix_exit_codes"] = mixes
    manifest = args.work / "mix-under" / "manifest.json"
    if manifest.exists():
        gate = [s for s in json.loads(manifest.read_text())["sources"] if s["kind"] == "semi_synthetic"][0]["gates"]
        figures["mix_review_gate"] = {k: gate["review"].get(k) for k in ("review_sha256", "fingerprint_match",
                                                                          "rejected_left_out", "edited_entered")}
        figures["mix_rejects_by_reason"] = json.loads(manifest.read_text()).get("rejects_by_reason")
    print(json.dumps(figures, indent=1))
    (args.work / "figures.json").write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
