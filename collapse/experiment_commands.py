"""`semisynth collapse run` (iterative-collapse experiments) and `semisynth mix` (training-mix builder).

Both take `--config file.yaml` plus flags; a flag overrides the same field of the file.
"""

from __future__ import annotations

import argparse
import json
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

    m = sub.add_parser("mix", help="compose a fine-tuning corpus from real / semi-synthetic / synthetic runs")
    m.add_argument("--config", required=True, help="YAML file with MixConfig fields (sources, shares, real_floor)")
    m.add_argument("--out", help="output folder")
    m.add_argument("--real-floor", type=float, help="minimum share of real records")
    m.add_argument("--size", type=int, help="total records")
    m.add_argument("--seed", type=int)
    m.add_argument("--force", action="store_true", default=None, help="use runs whose monitor report failed, skipped its gates, or judged other records (recorded in the manifest)")
    m.add_argument("--overwrite", action="store_true", default=None, help="replace an existing output folder")
    m.set_defaults(func=_mix)


def _run(args: argparse.Namespace) -> int:
    from .experiments import ExperimentConfig, run_experiment, summarise

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


def _mix(args: argparse.Namespace) -> int:
    from .mix import MixConfig, build_mix

    cfg = load_config(MixConfig, args.config, {"out": args.out, "real_floor": args.real_floor, "size": args.size,
                                               "seed": args.seed, "force": args.force,
                                               "overwrite": args.overwrite})
    from semisynth.paths import check_output_dir

    check_output_dir(cfg.out, "out (--out)")  # before any source is read
    manifest = build_mix(cfg)
    print(json.dumps({k: manifest[k] for k in ("size", "realised_real_share", "realised_shares_by_origin",
                                               "rejects_by_reason")}, indent=2))
    return 0
