"""`semisynth mix`: compose a fine-tuning corpus from real / semi-synthetic / synthetic runs.

Takes `--config file.yaml` plus flags; a flag overrides the same field of the file.
"""

from __future__ import annotations

import argparse
import json

from semisynth.flags import add_config_flags


def register(sub: argparse._SubParsersAction) -> None:
    from .config import MixConfig

    m = sub.add_parser("mix", help="compose a fine-tuning corpus from real / semi-synthetic / synthetic runs",
                       description="Every MixConfig field is a flag; flags override the YAML config.")
    add_config_flags(m, MixConfig, config_required=True)
    m.set_defaults(func=_mix)


def _mix(args: argparse.Namespace) -> int:
    from .builder import build_mix

    cfg = args.config_flags.load(args)
    from semisynth.paths import check_output_dir

    check_output_dir(cfg.out, "out (--out)")  # before any source is read
    manifest = build_mix(cfg)
    print(json.dumps({k: manifest[k] for k in ("size", "realised_real_share", "realised_shares_by_origin",
                                               "rejects_by_reason")}, indent=2))
    return 0
