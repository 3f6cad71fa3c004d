"""CLI: `semisynth generate` and `semisynth demo`."""

from __future__ import annotations

import argparse
import json
import os
from importlib.resources import files
from pathlib import Path

from pydantic import Field

from semisynth.config import CommandConfig
from semisynth.flags import RUNNER_ALIASES, add_config_flags

DEMO_MODEL = "smollm2-135m-instruct"


# Flag names users already type, kept beside the generated ones (`--input-path`, `--backend-model`, ...).
GENERATE_ALIASES = {
    "--input": "input.path", "--text-field": "input.text_field", "--messages-field": "input.messages_field",
    "--limit": "input.limit", "--no-pii-mask": "input.mask_pii", "--backend": "backend.kind",
    "--model": "backend.model", "--base-url": "backend.base_url", "--max-tokens": "sampling.max_tokens",
    "--temperature": "sampling.temperature", "--no-transfer": "transfer.enabled", **RUNNER_ALIASES,
}


def register(sub: argparse._SubParsersAction) -> None:
    from .run import GenerateConfig

    p = sub.add_parser("generate", help="paraphrase / synthesise from real seeds into a run directory",
                       description="Generate records from real seeds. Every GenerateConfig field is a flag; "
                                   "flags override the YAML config.")
    add_config_flags(p, GenerateConfig, aliases=GENERATE_ALIASES)
    p.add_argument("--variants", type=int, help="paraphrase variants per seed (replaces the generators list)")
    p.add_argument("--style", choices=["keep_irregularities", "clean"], help="paraphrase style (with --variants)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--push-to-hub", metavar="REPO", help="then upload the records and the dataset card to this "
                   "hub dataset repo (OWNER/NAME; token from HF_TOKEN or `hf auth login`)")
    p.set_defaults(func=_generate)

    d = sub.add_parser("demo", help="the main job end to end on the bundled real sample with a packaged model")
    add_config_flags(d, DemoConfig, config_flag=False)
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=_demo)


class DemoConfig(CommandConfig):
    """`semisynth demo`: generate + monitor on the bundled sample."""

    out: str = Field("runs/demo", description="demo directory")
    model: str = Field(DEMO_MODEL, description="model folder or a packaged model name")
    limit: int | None = Field(None, description="use only the first N seeds")


def _shortcuts(args: argparse.Namespace) -> dict:
    """`--variants/--style` replace the generators list."""
    if args.variants is None and args.style is None:
        return {}
    return {"generators": [{"kind": "paraphrase", "variants": 2 if args.variants is None else args.variants,
                            "style": args.style or "keep_irregularities"}]}


def _overrides(args: argparse.Namespace) -> dict:
    """The flags given, as config overrides (load_config's `overrides`)."""
    return args.config_flags.overrides(args) | _shortcuts(args)


def _generate(args: argparse.Namespace) -> int:
    from .run import generate

    config = args.config_flags.load(args, _shortcuts(args))
    if args.push_to_hub:
        from semisynth.dataset_card import check_repo_id

        check_repo_id(args.push_to_hub)  # before the run, not after it
    manifest = generate(config, progress=False if args.quiet else None)
    _print_summary(manifest, config.out)
    if args.push_to_hub:
        from semisynth.dataset_card import push_to_hub

        pushed = push_to_hub(config.out, args.push_to_hub)
        print(f"pushed {len(pushed['files'])} files (records and README.md) to {pushed['repo_url']}")
    return 0


def _print_summary(manifest: dict, out: str) -> None:
    c = manifest["counts"]
    print(f"{manifest['status']}: {c['input_rows']} input rows -> {c['seeds']} seeds -> {c['tasks']} tasks: "
          f"{c['outputs']} records, {c['rejected']} rejected {json.dumps(c['rejected_by_reason'])}; "
          f"tokens in/out {manifest['tokens']['in']}/{manifest['tokens']['out']}; "
          f"invariant {'holds' if manifest['invariant']['holds'] else 'BROKEN'}; {out}/manifest.json")


def demo_config(out: Path, model: str, limit: int | None) -> dict:
    sample = files("semisynth") / "data" / "sample_conversations.jsonl"
    return {
        "input": {"path": str(sample), "text_field": "text", "messages_field": "messages",
                  "keep_fields": ["source", "license", "sentiment"], "limit": limit},
        "backend": {"kind": "vllm", "model": model},
        "generators": [
            {"kind": "paraphrase", "variants": 2, "style": "keep_irregularities"},
            {"kind": "paraphrase", "variants": 1, "style": "clean"},
            {"kind": "seeded_synthetic", "variants": 1, "taxonomy": "intents"},
            {"kind": "pure_synthetic", "variants": 3, "taxonomy": "intents"},
        ],
        # length-aware: a task may spend 2x its seed's tokens (at least 32, at most 192), then it is `truncated`
        "sampling": {"max_tokens": 192, "max_tokens_ratio": 2.0, "max_tokens_floor": 32, "temperature": 0.8,
                     "top_p": 0.95},
        "out": str(out / "generate"),
        "seed": 0,
    }


def _demo(args: argparse.Namespace) -> int:
    from semisynth import cli
    from semisynth.errors import UserError
    from semisynth.paths import check_output_dir

    from .run import GenerateConfig, generate

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cfg: DemoConfig = args.config_flags.load(args)
    out = check_output_dir(cfg.out, "--out")  # before the model loads
    # every stage present before any work: a demo without its monitor stage is a failure, not a half success
    monitor = [ep for ep in cli.entry_points(group="semisynth.commands") if ep.name == "monitor"]
    if not monitor:
        raise UserError("demo: stage 'monitor'", "is not installed (no 'monitor' in the semisynth.commands "
                        "entry points)", "reinstall semisynth with every stage: `make venv`")
    try:
        monitor[0].load()
    except ImportError as e:
        raise UserError("demo: stage 'monitor'", f"could not be loaded ({e})", "run `make venv` to reinstall") from None
    if cfg.limit is not None and cfg.limit < 1:
        raise UserError("--limit", f"{cfg.limit} seeds", "use --limit 1 or more (or leave it out for all seeds)")
    config = GenerateConfig.model_validate(demo_config(out, cfg.model, cfg.limit))
    print(f"[1/2] generating from the bundled real sample with {cfg.model} -> {config.out}", flush=True)
    manifest = generate(config, progress=False if args.quiet else None)
    _print_summary(manifest, config.out)
    # the report goes where the run's dataset card looks for it (<run>/monitor), so the card quotes its verdicts
    report = out / "generate" / "monitor"
    print(f"[2/2] monitoring real vs generated -> {report}", flush=True)
    return cli.main(["monitor", "--real", str(out / "generate" / "seeds.jsonl"), "--synthetic", config.out,
                     "--out", str(report), "--review-sample"])
