"""Benchmark: raw `vllm.LLM.generate` vs `semisynth generate` on the same prompts and sampling params.

Both use the same engine settings and the same rendered chat prompts with per-request seeds; the
semisynth side includes everything it adds (checks, language id, lineage, atomic shard writes,
markers). Prints tokens/s for both and the ratio (goal >= 0.95).

    .venv/bin/python bench/generation.py [--model DIR|smollm2-135m-instruct] [--seeds 256] [--max-tokens 64]
Default model: a tiny Llama built on the spot (fast; the ratio is then the harshest case because
the engine is fastest relative to per-record overhead).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")

from semisynth.backends import VLLMBackend, open_backend, resolve_model_dir  # noqa: E402
from semisynth.generation.generators import GenerationStage, GeneratorSpec, plan_tasks  # noqa: E402
from semisynth.generation.prompts import load_template  # noqa: E402
from semisynth.generation.run import GenerateConfig, generate  # noqa: E402
from semisynth.io import ColumnMapping  # noqa: E402
from semisynth.models import build_tiny_model  # noqa: E402
from semisynth.seeds import load_seeds  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "semisynth" / "data" / "sample_conversations.jsonl"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model folder or packaged name (default: tiny model)")
    ap.add_argument("--seeds", type=int, default=240)
    ap.add_argument("--variants", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--shard-size", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-gen-"))
    model = str(resolve_model_dir(args.model)) if args.model else str(build_tiny_model(tmp / "tiny"))
    cfg = GenerateConfig.model_validate({
        "input": {"path": str(SAMPLE), "text_field": "text", "messages_field": "messages", "limit": args.seeds},
        "backend": {"kind": "vllm", "model": model},
        "generators": [{"kind": "paraphrase", "variants": args.variants, "style": "keep_irregularities"}],
        "sampling": {"max_tokens": args.max_tokens, "temperature": 0.8, "top_p": 0.95},
        "out": str(tmp / "run"), "seed": 0, "shard_size": args.shard_size,
    })

    # --- the same prompts, rendered exactly as semisynth renders them -----------------------------
    seeds = load_seeds(cfg.input.path, ColumnMapping(text="text", messages="messages"), limit=args.seeds)
    spec: GeneratorSpec = cfg.generators[0]
    templates = {spec.template_name(): load_template(spec.template_name())}
    tasks = plan_tasks(seeds.records, cfg.generators, templates, {}, cfg.sampling.params(), cfg.seed)
    raw, ours = [], []
    for r in range(args.rounds):  # A B A B ...: machine drift hits both sides alike
        raw.append(raw_round(cfg, tasks, args.shard_size))
        run_cfg = cfg.model_copy(update={"out": str(tmp / f"run{r}")})
        manifest = generate(run_cfg, progress=False)
        ours.append((manifest["tokens"]["out"], manifest["generation_wall_s"], manifest["wall_time_s"]))
        print(f"round {r}: raw {raw[-1][0] / raw[-1][1]:8.1f} tok/s   semisynth {ours[-1][0] / ours[-1][1]:8.1f} tok/s",
              flush=True)
    raw_tps = statistics.median(t / s for t, s in raw)
    ours_tps = statistics.median(t / s for t, s, _ in ours)
    print(f"model: {model}  prompts: {len(tasks)}  max_tokens: {args.max_tokens}  shard/batch: {args.shard_size}  "
          f"rounds: {args.rounds}")
    print(f"raw vllm.LLM.generate : {raw[0][0]:7d} tokens/round, median {raw_tps:8.1f} tok/s")
    print(f"semisynth generate    : {ours[0][0]:7d} tokens/round, median {ours_tps:8.1f} tok/s "
          f"(end to end incl. engine start and seed loading: {ours[0][2]:.2f} s)")
    print(f"ratio semisynth/raw   : {ours_tps / raw_tps:.3f}  (goal >= 0.95)")
    print(f"same tokens generated : {all(o[0] == raw[0][0] for o in ours + raw)}")
    return 0


def raw_round(cfg: GenerateConfig, tasks: list, batch: int) -> tuple[int, float]:
    """The raw library on the identical rendered prompts and per-request seeds."""
    backend = open_backend(cfg.backend)  # the engine settings `generate` uses
    assert isinstance(backend, VLLMBackend)
    stage = GenerationStage(backend, cfg.sampling.params(), cfg.checks.to_check_config(), "bench", cfg.seed)
    requests = [stage._request(t) for t in tasks]
    prompts = [backend.render(r) for r in requests]
    params = [backend.sampling_params(r.params) for r in requests]
    llm = backend.llm
    t0 = time.perf_counter()
    tokens = 0
    for i in range(0, len(prompts), batch):
        outs = llm.generate(prompts[i:i + batch], params[i:i + batch], use_tqdm=False)
        tokens += sum(len(o.outputs[0].token_ids) for o in outs)
    elapsed = time.perf_counter() - t0
    backend.close()
    del llm, backend, stage
    gc.collect()
    return tokens, elapsed


if __name__ == "__main__":
    sys.exit(main())
