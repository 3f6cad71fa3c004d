"""Benchmark: `generate` with the Ray runner vs the local runner, same machine, same work, same config.

Rounds alternate local / Ray (A B A B) so machine drift hits both alike. Throughput is completion
tokens per second of shard time (`generation_wall_s`: engines already started on both sides; Ray's
start-up and the workers' engine starts are printed apart). Every Ray run directory is checked
byte for byte against the local one. Prints the ratio Ray/local (goal >= 0.85 on the same cores).

    .venv/bin/python bench/ray_runner.py [--model DIR|smollm2-135m-instruct] [--seeds 240]
        [--workers 2 --cpus-per-worker 1] [--rounds 2]

`--workers 1 --cpus-per-worker 2` measures the price of Ray alone (one engine, like local);
the default 2 x 1 is two engines of one torch thread each against one local engine of torch's default
(one thread per core). Each actor's torch threads are its CPUs (OMP_NUM_THREADS in its environment: see
`semisynth.ray_runner.worker_env`, issue 13). `--local-threads N` pins the local engine's torch threads
(e.g. 1 on a loaded machine, where an engine with a thread per core spin-waits on the one a neighbour's
process holds). Default model: a tiny Llama built on the spot.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")

from semisynth.backends import resolve_model_dir  # noqa: E402
from semisynth.generation.run import GenerateConfig, generate  # noqa: E402
from semisynth.models import build_tiny_model  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "semisynth" / "data" / "sample_conversations.jsonl"


def same_dirs(a: Path, b: Path) -> bool:
    for sub in ("records", "rejects", "done"):
        names = sorted(p.name for p in (a / sub).iterdir())
        if names != sorted(p.name for p in (b / sub).iterdir()):
            return False
        if not all(filecmp.cmp(a / sub / n, b / sub / n, shallow=False) for n in names):
            return False
    return True


def commit_rate(n: int = 20_000, shard_size: int = 256) -> float:
    """Tasks/s of the driver-side commit alone (dedup, atomic shard writes, markers): the stage returns
    ready records at once, so this is the ceiling a cluster of any size hits at the driver."""
    from semisynth.records import Lineage, Origin, Record
    from semisynth.runner import LocalRunner, ShardResult

    def stage(items):
        return ShardResult([Record.create(Origin.PARAPHRASE, text=f"paraphrase number {i} of a seed, some words long",
                                          parents=("p",), language="en", lineage=Lineage(task_id=str(i)))
                            for i in items], [], {"prompt_tokens": 50, "completion_tokens": 20})

    out = Path(tempfile.mkdtemp(prefix="bench-commit-"))
    runner = LocalRunner(out, shard_size, progress=False)
    t0 = time.perf_counter()
    runner.run(list(range(n)), stage, item_key=str)
    return n / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model folder or packaged name (default: tiny model)")
    ap.add_argument("--backend", default="vllm", choices=["vllm", "transformers"])
    ap.add_argument("--seeds", type=int, default=240)
    ap.add_argument("--variants", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--shard-size", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cpus-per-worker", type=float, default=1.0)
    ap.add_argument("--gpus-per-worker", type=float, default=0.0)
    ap.add_argument("--address", default=None, help="existing cluster ('auto', 'ray://HOST:10001'); default: local Ray")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--dtype", default="float32", help="vllm weights dtype (GPU: bfloat16)")
    ap.add_argument("--kv-cache-mib", type=int, default=64, help="vllm KV cache per engine (GPU: e.g. 16384)")
    ap.add_argument("--max-model-len", type=int, default=512)
    ap.add_argument("--cuda-graphs", action="store_true", help="vllm: capture CUDA graphs (enforce_eager off; GPU only)")
    ap.add_argument("--local-threads", type=int, default=None, help="torch threads of the local engine (default: torch's)")
    args = ap.parse_args()
    import torch

    if args.local_threads:  # before any engine starts: vLLM's CPU worker locks the count afterwards
        torch.set_num_threads(args.local_threads)
    local_threads = torch.get_num_threads()
    print(f"load average at start : {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    model = str(resolve_model_dir(args.model)) if args.model else str(build_tiny_model(tmp / "tiny"))
    base = {
        "input": {"path": str(SAMPLE), "text_field": "text", "messages_field": "messages", "limit": args.seeds},
        "backend": {"kind": args.backend, "model": model, "dtype": args.dtype, "max_model_len": args.max_model_len,
                    "kv_cache_memory_bytes": args.kv_cache_mib << 20, "enforce_eager": not args.cuda_graphs},
        "generators": [{"kind": "paraphrase", "variants": args.variants, "style": "keep_irregularities"}],
        "sampling": {"max_tokens": args.max_tokens, "temperature": 0.8, "top_p": 0.95},
        "seed": 0, "shard_size": args.shard_size,
    }
    ray_runner = {"kind": "ray", "workers": args.workers, "cpus_per_worker": args.cpus_per_worker,
                  "gpus_per_worker": args.gpus_per_worker, "address": args.address}
    local, ray = [], []
    identical = True
    for r in range(args.rounds):
        for kind, runner, into in (("local", {"kind": "local"}, local), ("ray", ray_runner, ray)):
            out = tmp / f"{kind}{r}"
            t0 = time.perf_counter()
            m = generate(GenerateConfig.model_validate({**base, "out": str(out), "runner": runner}), progress=False)
            into.append((m["tokens"]["out"], m["generation_wall_s"], time.perf_counter() - t0))
        identical &= same_dirs(tmp / f"ray{r}", tmp / f"local{r}")
        print(f"round {r}: local {local[-1][0] / local[-1][1]:8.1f} tok/s   ray {ray[-1][0] / ray[-1][1]:8.1f} tok/s",
              flush=True)
    local_tps = statistics.median(t / s for t, s, _ in local)
    ray_tps = statistics.median(t / s for t, s, _ in ray)
    print(f"model: {model}  backend: {args.backend}  tasks: {args.seeds * args.variants}  max_tokens: {args.max_tokens}  "
          f"shard: {args.shard_size}  rounds: {args.rounds}  cpus: {os.cpu_count()}")
    print(f"local runner ({local_threads} thr)  : {local[0][0]:7d} tokens/round, median {local_tps:8.1f} tok/s "
          f"(end to end incl. engine start: {statistics.median(e for *_, e in local):.1f} s)")
    print(f"ray runner {args.workers} x {args.cpus_per_worker:g} CPU : {ray[0][0]:7d} tokens/round, median {ray_tps:8.1f} tok/s "
          f"({ray_tps / args.workers:.1f} per worker; end to end incl. Ray + engine starts: "
          f"{statistics.median(e for *_, e in ray):.1f} s)")
    print(f"ratio ray/local       : {ray_tps / local_tps:.3f}  (goal >= 0.85)")
    print(f"same bytes on disk    : {identical}")
    print(f"driver commit alone   : {commit_rate():,.0f} tasks/s (records built, deduped, written, marked)")
    print(f"load average at end   : {' '.join(f'{x:.2f}' for x in os.getloadavg())} (over {os.cpu_count()} cores: "
          "ratios in one run compare; absolute tok/s only on an idle machine)")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
