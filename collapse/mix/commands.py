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
    m.add_argument("--push-to-hub", metavar="REPO", help="then upload the corpus and the dataset card to this hub "
                   "dataset repo (OWNER/NAME; token from HF_TOKEN or `hf auth login`)")
    m.set_defaults(func=_mix)


def _mix(args: argparse.Namespace) -> int:
    from .builder import build_mix

    cfg = args.config_flags.load(args)
    if args.push_to_hub:
        from semisynth.dataset_card import check_repo_id

        check_repo_id(args.push_to_hub)  # before the mix is built
    manifest = build_mix(cfg)  # checks --out before any source is read
    print(json.dumps({k: manifest[k] for k in ("size", "realised_real_share", "realised_shares_by_origin",
                                               "rejects_by_reason")}, indent=2))
    if args.push_to_hub:
        from semisynth.dataset_card import push_to_hub

        pushed = push_to_hub(cfg.out, args.push_to_hub)
        print(f"pushed {len(pushed['files'])} files (corpus and README.md) to {pushed['repo_url']}")
    return 0
