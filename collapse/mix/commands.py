"""`semisynth mix`: compose a fine-tuning corpus from real / semi-synthetic / synthetic runs.

Takes `--config file.yaml` plus flags; a flag overrides the same field of the file.
"""

from __future__ import annotations

import argparse
import json

from semisynth.config import load_config


def register(sub: argparse._SubParsersAction) -> None:
    m = sub.add_parser("mix", help="compose a fine-tuning corpus from real / semi-synthetic / synthetic runs")
    m.add_argument("--config", required=True, help="YAML file with MixConfig fields (sources, shares, real_floor)")
    m.add_argument("--out", help="output folder")
    m.add_argument("--real-floor", type=float, help="minimum share of real records")
    m.add_argument("--size", type=int, help="total records")
    m.add_argument("--seed", type=int)
    m.add_argument("--force", action="store_true", default=None, help="use runs whose monitor report failed, skipped its gates, or judged other records (recorded in the manifest)")
    m.add_argument("--overwrite", action="store_true", default=None, help="replace an existing output folder")
    m.set_defaults(func=_mix)


def _mix(args: argparse.Namespace) -> int:
    from .builder import MixConfig, build_mix

    cfg = load_config(MixConfig, args.config, {"out": args.out, "real_floor": args.real_floor, "size": args.size,
                                               "seed": args.seed, "force": args.force,
                                               "overwrite": args.overwrite})
    from semisynth.paths import check_output_dir

    check_output_dir(cfg.out, "out (--out)")  # before any source is read
    manifest = build_mix(cfg)
    print(json.dumps({k: manifest[k] for k in ("size", "realised_real_share", "realised_shares_by_origin",
                                               "rejects_by_reason")}, indent=2))
    return 0
