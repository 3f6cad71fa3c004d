"""Benchmark: the n-gram collapse experiment (5 generations x 5 seeds, target <= 60 s on 2 cores) and the
tiny-LM experiment's per-generation time (train + vLLM sampling + metrics).

    flock /tmp/semisynth-heavy.lock .venv/bin/python bench/collapse.py [--modes replace,accumulate,mix] [--lm]
Prints one JSON object; run it alone (torch/vLLM processes slow each other 3-15x on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from semisynth.collapse.experiments.chains import run_experiment  # noqa: E402
from semisynth.collapse.experiments.config import ExperimentConfig  # noqa: E402


def _timing_summary(timings: list[dict]) -> dict:
    return {k: round(statistics.mean(t[k] for t in timings), 3) for k in ("fit_s", "sample_s", "metrics_s", "total_s")}


def bench_ngram(modes: str, sample_size: int, generations: int, seeds: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = ExperimentConfig(out=f"{tmp}/ngram", family="ngram", mode=modes, real_fraction=0.1,
                               generations=generations, seeds=list(range(seeds)), sample_size=sample_size,
                               progress=False)
        t0 = time.perf_counter()
        res = run_experiment(cfg)
        wall = time.perf_counter() - t0
    ppl = {}
    for r in res.rows:
        if r["metric"] == "heldout_ppl" and r["generation"] == generations:
            ppl.setdefault(r["mode"], []).append(r["value"])
    return {"experiment": "ngram", "modes": modes, "generations": generations, "seeds": seeds,
            "sample_size": sample_size, "wall_s": round(wall, 2),
            "wall_s_per_mode": round(wall / len(cfg.mode), 2), "per_generation": _timing_summary(res.timings),
            "final_heldout_ppl_mean": {m: round(statistics.mean(v), 1) for m, v in ppl.items()}}


def bench_lm(sample_size: int, generations: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = ExperimentConfig(out=f"{tmp}/lm", family="tiny_lm", mode="replace", generations=generations, seeds=[0],
                               sample_size=sample_size, heldout_size=100, metric_sample=100, progress=False)
        t0 = time.perf_counter()
        res = run_experiment(cfg)
        wall = time.perf_counter() - t0
    return {"experiment": "tiny_lm", "generations": generations, "sample_size": sample_size, "wall_s": round(wall, 2),
            "per_generation": _timing_summary(res.timings),
            "per_generation_each": [{k: round(v, 2) if isinstance(v, float) else v for k, v in t.items()}
                                    for t in res.timings]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modes", default="replace,accumulate,mix")
    ap.add_argument("--sample-size", type=int, default=1000)
    ap.add_argument("--generations", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--lm", action="store_true", help="also time the tiny-LM experiment")
    ap.add_argument("--lm-sample-size", type=int, default=200)
    args = ap.parse_args()
    out = {"cpu_count": os.cpu_count(), "ngram": bench_ngram(args.modes, args.sample_size, args.generations,
                                                             args.seeds)}
    if args.lm:
        out["tiny_lm"] = bench_lm(args.lm_sample_size, 2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
