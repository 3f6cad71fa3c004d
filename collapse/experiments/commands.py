"""`semisynth collapse run`: iterative-collapse experiments.

Takes `--config file.yaml` plus flags; a flag overrides the same field of the file.
"""

from __future__ import annotations

import argparse
import sys

from semisynth.flags import RUNNER_ALIASES, add_config_flags


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
    from .config import ExperimentConfig

    inner = _collapse_subparsers(sub)
    p = inner.add_parser("run", help="train, generate, retrain on the output; watch the distribution degrade",
                         description="Every ExperimentConfig field is a flag; flags override the YAML config.")
    add_config_flags(p, ExperimentConfig, aliases=RUNNER_ALIASES)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from .chains import run_experiment
    from .results import summarise

    cfg = args.config_flags.load(args)
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
