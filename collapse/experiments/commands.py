"""`semisynth collapse run`: iterative-collapse experiments.

Takes `--config file.yaml` plus flags; a flag overrides the same field of the file.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from semisynth.config import load_config


def _collapse_subparsers(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """`collapse` may already be registered by another collapse command module: attach to it then."""
    parser = sub.choices.get("collapse")
    if parser is None:
        parser = sub.add_parser("collapse", help="collapse experiments (run)")
        inner = parser.add_subparsers(dest="collapse_command", metavar="SUBCOMMAND")
        inner.required = True
        return inner
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise RuntimeError("`semisynth collapse` is registered as a leaf command; it needs subcommands for `run`")


def register(sub: argparse._SubParsersAction) -> None:
    inner = _collapse_subparsers(sub)
    p = inner.add_parser("run", help="train, generate, retrain on the output; watch the distribution degrade")
    p.add_argument("--config", help="YAML file with ExperimentConfig fields")
    p.add_argument("--out", help="run directory (rerun to resume)")
    p.add_argument("--family", help="categorical | gaussian | ngram | tiny_lm | hf_lm")
    p.add_argument("--mode", help="replace | accumulate | mix (comma-separated for several)")
    p.add_argument("--real-fraction", help="fresh real share per generation for mix (comma-separated for several)")
    p.add_argument("--generations", type=int, help="synthetic generations after generation 0")
    p.add_argument("--seeds", help="comma-separated seeds, e.g. 0,1,2")
    p.add_argument("--sample-size", type=int, help="training records per generation")
    p.add_argument("--embedder", help="hashing | all-MiniLM-L6-v2 | multilingual-e5-small | none")
    p.add_argument("--real-data", help="real text corpus for ngram/tiny_lm/hf_lm")
    p.add_argument("--base-model", help="hf_lm: model to fine-tune each generation")
    p.add_argument("--ngram-order", type=int)
    p.add_argument("--backend", help="vllm | transformers (LM families)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from .chains import ExperimentConfig, run_experiment, summarise

    overrides: dict[str, Any] = {
        "out": args.out, "family": args.family, "mode": args.mode, "real_fraction": args.real_fraction,
        "generations": args.generations, "seeds": args.seeds, "sample_size": args.sample_size,
        "embedder": args.embedder, "real_data": args.real_data, "base_model": args.base_model,
        "ngram_order": args.ngram_order, "backend": args.backend,
        "progress": False if args.no_progress else None,
    }
    cfg = load_config(ExperimentConfig, args.config, overrides)
    res = run_experiment(cfg)
    last = max(r["generation"] for r in res.rows)
    summary = summarise([r for r in res.rows if r["generation"] in (0, last)])
    key = "heldout_ppl" if cfg.family in ("ngram", "tiny_lm", "hf_lm") else \
        ("sq_distance" if cfg.family == "categorical" else "variance")
    for (mode, f, metric), by_gen in sorted(summary.items()):
        if metric == key:
            label = f"mix f={f:g}" if mode == "mix" else mode
            print(f"{label}: {metric} {by_gen[0][0]:.4g} -> {by_gen[last][0]:.4g} (gen {last}, "
                  f"{by_gen[last][2]} seeds)")
    print(f"results: {res.out / 'results.csv'}\nreport:  {res.out / 'report.html'}", file=sys.stderr)
    return 0
