"""Benchmark: `semisynth generate` vs raw `vllm.LLM.generate`, in tokens/s of KEPT output.

Three sides, the same rendered chat prompts, per-request seeds, per-task max_tokens and stop strings
(so the texts match), every output judged by semisynth's own checks (a raw side's completions are
replayed through the same stage, untimed), so "kept" means the same thing everywhere:

- semisynth  : `generate` end to end on its shards (checks, language id, meaning check, transfer,
               lineage, atomic writes, markers all inside the timing).
- best raw   : raw vLLM used well: the same engine (prefix caching on), one `generate` per shard with
               the requests in semisynth's order (longest budget first, shared prompts side by side).
               Goal: semisynth / best raw >= 0.95.
- naive raw  : raw vLLM used naively: prefix caching off, one request per variant in input order.
               Goal: semisynth / naive raw >= 1.3.

    .venv/bin/python bench/generation.py [--model smollm2-135m-instruct|DIR|tiny] [--seeds 48] [--rounds 2]

Rounds alternate A B C A B C ... so machine drift hits all sides alike; medians are reported. Each side
and round runs in a fresh process (in one process a second vLLM engine runs slower than the first).
The default model is the demo's (SmolLM2-135M-Instruct): a tiny random model never stops on its own
and its outputs are all rejects, so kept tokens/s would be 0/0.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")

from semisynth.backends import Completion, GenerationRequest, VLLMBackend, open_backend, resolve_model_dir  # noqa: E402
from semisynth.generation.commands import demo_config  # noqa: E402
from semisynth.generation.generators import GenerationStage, plan_tasks  # noqa: E402
from semisynth.generation.prompts import load_template  # noqa: E402
from semisynth.generation.run import GenerateConfig, generate  # noqa: E402
from semisynth.models import build_tiny_model  # noqa: E402
from semisynth.seeds import load_seeds  # noqa: E402
from semisynth.taxonomy import load_taxonomy  # noqa: E402

SIDES = ("semisynth", "best raw", "naive raw")


class _Replay:
    """Hands back completions already made (by a raw side), so the real stage judges them untimed."""

    def __init__(self, model_name: str, completions: list[Completion]):
        self.model_name, self._comps = model_name, completions

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        out, self._comps = self._comps[:len(requests)], self._comps[len(requests):]
        return out

    def close(self) -> None:
        pass


def _config(args: argparse.Namespace, tmp: Path) -> tuple[str, GenerateConfig]:
    model = str(build_tiny_model(tmp / "tiny")) if args.model == "tiny" else str(resolve_model_dir(args.model))
    base = demo_config(tmp, model, args.seeds)
    # One draw per task: this compares what a draw costs (the raw sides make one); redraws are a yield
    # choice, measured by the demo's manifest. The first seeds of the sample are single messages, so no
    # side writes a conversation turn by turn.
    base["sampling"]["attempts"] = 1
    base.update(shard_size=args.shard_size, out=str(tmp / "run"))
    return model, GenerateConfig.model_validate(base)


def _tasks(cfg: GenerateConfig) -> list:
    seeds = load_seeds(cfg.input.path, cfg.input.mapping(), mask=cfg.input.mask_pii, limit=cfg.input.limit,
                       max_record_bytes=cfg.input.max_record_bytes)
    templates = {g.template_name(): load_template(g.template_name()) for g in cfg.generators}
    taxonomies = {g.taxonomy: load_taxonomy(g.taxonomy) for g in cfg.generators if g.taxonomy}
    return plan_tasks(seeds.records, cfg.generators, templates, taxonomies, cfg.sampling.params(), cfg.seed)


def run_side(args: argparse.Namespace) -> int:
    """One side, one round, in this process alone (a second vLLM engine in one process runs slower than
    the first, which would bias whichever side came second); writes its figures to --json."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-gen-side-"))
    model, cfg = _config(args, tmp)
    if args.side == "semisynth":
        m = generate(cfg.model_copy(update={"out": str(tmp / "run")}), progress=False)
        result = {"kept": m["tokens"]["out_kept"], "total": m["tokens"]["out"], "wall": m["generation_wall_s"],
                  "texts": [], "tasks": m["counts"]["tasks"], "model": model}
    else:
        tasks = _tasks(cfg)
        kept, total, wall, texts = raw_round(cfg, tasks, args.shard_size, naive=args.side == "naive raw")
        result = {"kept": kept, "total": total, "wall": wall, "texts": texts, "tasks": len(tasks), "model": model}
    Path(args.json).write_text(json.dumps(result))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m-instruct", help="model folder, packaged name, or 'tiny'")
    ap.add_argument("--seeds", type=int, default=48, help="seeds from the bundled sample (demo generators)")
    ap.add_argument("--shard-size", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)  # internal: one side in a fresh process
    ap.add_argument("--json", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        return run_side(args)
    tmp = Path(tempfile.mkdtemp(prefix="bench-gen-"))
    sides: dict[str, list[tuple[int, int, float]]] = {side: [] for side in SIDES}
    texts: dict[str, list[str]] = {}
    info: dict = {}
    for r in range(args.rounds):
        for side in SIDES:
            out = tmp / f"{side.replace(' ', '_')}-{r}.json"
            cmd = [sys.executable, __file__, "--side", side, "--json", str(out), "--model", args.model,
                   "--seeds", str(args.seeds), "--shard-size", str(args.shard_size)]
            subprocess.run(cmd, check=True)
            res = json.loads(out.read_text())
            info = res
            sides[side].append((res["kept"], res["total"], res["wall"]))
            if res["texts"]:
                texts.setdefault(side, res["texts"])
            k, t, s = sides[side][-1]
            print(f"round {r} {side:10s}: kept {k / s:7.1f} tok/s  all {t / s:7.1f} tok/s  ({k}/{t} tokens kept, "
                  f"{s:.1f} s)", flush=True)
    med = {side: statistics.median(k / s for k, _, s in rows) for side, rows in sides.items()}
    print(f"model: {info['model']}  tasks: {info['tasks']}  shard: {args.shard_size}  rounds: {args.rounds}  "
          "(each side and round in its own process; one draw per task)")
    for side, v in med.items():
        print(f"{side:10s}: median {v:8.1f} kept-output tok/s")
    print(f"ratio semisynth / best raw : {med['semisynth'] / med['best raw']:.3f}  (goal >= 0.95)")
    print(f"ratio semisynth / naive raw: {med['semisynth'] / med['naive raw']:.3f}  (goal >= 1.3)")
    same = sum(a == b for a, b in zip(texts["best raw"], texts["naive raw"], strict=True))
    print(f"best raw and naive raw gave the same text for {same}/{len(texts['best raw'])} requests")
    return 0


def raw_round(cfg: GenerateConfig, tasks: list, shard: int, *, naive: bool) -> tuple[int, int, float, list[str]]:
    """Raw vLLM on semisynth's requests; (kept tokens, all tokens, engine seconds, texts)."""
    spec = cfg.backend
    if naive:
        spec = spec.model_copy(update={"enable_prefix_caching": False})
    backend = open_backend(spec)
    assert isinstance(backend, VLLMBackend)
    stage = GenerationStage(backend, cfg.sampling.params(), cfg.checks, "bench", cfg.seed,
                            budget=cfg.sampling.budget(), prefill=cfg.sampling.prefill)
    requests = [stage.request(t) for t in tasks]
    prompts = [backend.render(r) for r in requests]
    params = [backend.sampling_params(r.params) for r in requests]
    llm = backend.llm
    comps: list[Completion] = []
    t0 = time.perf_counter()
    for i in range(0, len(prompts), shard):
        idx = list(range(i, min(i + shard, len(prompts))))
        if not naive:  # what a careful user does by hand: the order semisynth's backend uses, a clean cache
            idx.sort(key=lambda j: (-requests[j].params.max_tokens, prompts[j]))
            llm.reset_prefix_cache()
        outs = llm.generate([prompts[j] for j in idx], [params[j] for j in idx], use_tqdm=False)
        got = {j: o for j, o in zip(idx, outs, strict=True)}
        for j in range(i, i + len(idx)):
            o = got[j].outputs[0]
            comps.append(Completion(o.text, o.finish_reason if o.finish_reason in ("stop", "length") else "error",
                                    len(got[j].prompt_token_ids or ()), len(o.token_ids)))
    elapsed = time.perf_counter() - t0
    backend.close()
    del llm, backend
    gc.collect()
    judge = GenerationStage(_Replay("bench", comps), cfg.sampling.params(), cfg.checks, "bench",
                            cfg.seed, transfer=None, budget=cfg.sampling.budget(), prefill=cfg.sampling.prefill)
    kept = 0
    for i in range(0, len(tasks), shard):
        kept += judge(tasks[i:i + shard]).stats["kept_completion_tokens"]
    judge_total = sum(c.completion_tokens for c in comps)
    return kept, judge_total, elapsed, [c.text for c in comps]


if __name__ == "__main__":
    sys.exit(main())
