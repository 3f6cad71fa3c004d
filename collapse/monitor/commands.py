"""`semisynth monitor`: the collapse monitor as a CLI command (exit 3 when --fail-on-gate and a gate fails or
no gate could be evaluated)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

EXIT_GATE_FAILED = 3


def _review_arg(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number of records or 'auto'") from None
    if n < 1:
        raise argparse.ArgumentTypeError("expected at least 1")
    return n


def register(sub: argparse._SubParsersAction) -> None:
    from semisynth.collapse.monitor.config import MonitorConfig
    from semisynth.flags import RUNNER_ALIASES, add_config_flags

    p = sub.add_parser("monitor", help="does the synthetic data keep the real distribution? (report.json + report.html)")
    p.add_argument("--real", required=True, help="real corpus: run dir, JSONL, CSV, Parquet or datasets folder")
    p.add_argument("--synthetic", required=True, help="synthetic corpus (same formats)")
    p.add_argument("--out", default="monitor-report", help="output folder (default: monitor-report)")
    p.add_argument("--real-embeddings", help=".npy, one row per real record, same order")
    p.add_argument("--synthetic-embeddings", help=".npy, one row per synthetic record, same order")
    p.add_argument("--fail-on-gate", action="store_true", help=f"exit {EXIT_GATE_FAILED} when a gate fails or none could be evaluated")
    # every MonitorConfig field is a flag (--embedder, --cache-dir, --text-field, --seed, --no-html, --runner ...)
    add_config_flags(p, MonitorConfig, aliases=RUNNER_ALIASES,
                     custom={"review_sample": {"type": _review_arg, "nargs": "?", "const": "auto", "metavar": "N",
                                               "help": "write review_sample.jsonl of N records (no N: from the "
                                                       "margin of error)"}})
    p.set_defaults(func=run)


def monitor_paths(real: str | os.PathLike, synthetic: str | os.PathLike, cfg: Any, out: str | os.PathLike,
                  real_embeddings: str | os.PathLike | None = None,
                  synthetic_embeddings: str | os.PathLike | None = None) -> dict[str, Any]:
    """`semisynth monitor` and `semisynth.monitor()`: read both corpora, check the embeddings given, run the monitor
    into `out`, and rewrite the card of a generate run judged (its README.md quotes the verdicts); the report."""
    from semisynth.collapse.monitor.embeddings import load_embeddings
    from semisynth.collapse.monitor.pipeline import run_monitor
    from semisynth.errors import UserError
    from semisynth.io import ColumnMapping, read_records
    from semisynth.paths import check_output_dir
    from semisynth.runner import check_ray_target

    check_output_dir(out, "--out")  # before reading or embedding anything
    if cfg.cache_dir:
        check_output_dir(cfg.cache_dir, "cache_dir (--cache-dir)")
    # an unreachable --ray-address (or GPUs this machine lacks) is one line now, not at the first text the
    # embedding cache misses: with every text cached it was never looked at (exit 0 on a dead address)
    check_ray_target(cfg.runner)
    mapping = ColumnMapping(text=cfg.text_field)
    real_records = read_records(real, mapping, default_origin="real", refuse_blank=True)
    synthetic_records = read_records(synthetic, mapping, default_origin="synthetic", refuse_blank=True)
    r_emb = load_embeddings(real_embeddings, len(real_records)) if real_embeddings else None
    s_emb = load_embeddings(synthetic_embeddings, len(synthetic_records)) if synthetic_embeddings else None
    if bool(real_embeddings) != bool(synthetic_embeddings):
        given, missing = (("--real-embeddings", "--synthetic-embeddings") if real_embeddings else
                          ("--synthetic-embeddings", "--real-embeddings"))
        raise UserError(given, f"given without {missing}: both corpora must be embedded by the same model",
                        f"give {missing} too (same model, one row per record), or neither to embed both here")
    inputs = {side: {"path": str(Path(path).resolve()), "text_field": cfg.text_field, "default_origin": side}
              for side, path in (("real", real), ("synthetic", synthetic))}
    report = run_monitor(real_records, synthetic_records, cfg, Path(out), r_emb, s_emb, inputs=inputs)
    from semisynth.dataset_card import folder_kind, write_card

    syn = Path(synthetic)
    if syn.is_dir() and (syn / "run.json").exists():
        try:
            if folder_kind(syn) == "run":
                write_card(syn)  # the run's card now quotes this report (when it is <run>/monitor)
        except (UserError, OSError):  # a run without a manifest (killed before its first one) keeps no card
            pass
    return report


def run(args: argparse.Namespace) -> int:
    cfg = args.config_flags.load(args)
    report = monitor_paths(args.real, args.synthetic, cfg, args.out, args.real_embeddings, args.synthetic_embeddings)
    v = report["verdict"]

    def r3(x: float | None) -> float | None:
        return None if x is None else round(x, 3)

    ci = v.get("smoothing_index_ci") or [None, None]
    null = v.get("smoothing_index_null") or [None, None]
    aucs = "; ".join(f"classifier AUC ({k}) {r3(c['auc'])} {c['verdict']}"
                     for k, c in (v.get("classifier_two_sample") or {}).items())
    print(f"smoothing index {r3(v['smoothing_index'])} [{r3(ci[0])}, {r3(ci[1])}] {v.get('smoothing_index_verdict')} "
          f"(real vs real at this n [{r3(null[0])}, {r3(null[1])}]); exaggeration index "
          f"{r3(v.get('exaggeration_index'))} {v.get('exaggeration_index_verdict')}; "
          f"smoothed: {', '.join(v['smoothed_features']) or 'none'}"
          f"; inconclusive: {len(v.get('inconclusive_features') or [])} features"
          f"{'; ' + aucs if aucs else ''}; report: {Path(args.out) / 'report.json'}")
    gates = report["gates"]
    for f in gates.get("skipped") or []:
        print(f"gate skipped: {f['figure']}: {f.get('reason', '')}", file=sys.stderr)
    if not gates["passed"]:
        for f in gates["failed"]:
            print(f"gate failed: {f['figure']}: {f.get('reason', '')}", file=sys.stderr)
        if gates.get("status") == "not_evaluated":
            print(f"gates not passed: {gates.get('reason')}", file=sys.stderr)
        if args.fail_on_gate:
            return EXIT_GATE_FAILED
    return 0
