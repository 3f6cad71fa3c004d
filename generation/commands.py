"""CLI: `semisynth generate` and `semisynth demo`."""

from __future__ import annotations

import argparse
import json
import os
from importlib.resources import files
from pathlib import Path

from semisynth.config import load_config

DEMO_MODEL = "smollm2-135m-instruct"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="paraphrase / synthesise from real seeds into a run directory",
                       description="Generate records from real seeds. Flags override the YAML config.")
    p.add_argument("--config", help="YAML config (see README: GenerateConfig)")
    p.add_argument("--input", dest="input.path", help="seed corpus (.jsonl/.csv/.parquet/datasets folder)")
    p.add_argument("--text-field", dest="input.text_field")
    p.add_argument("--messages-field", dest="input.messages_field")
    p.add_argument("--limit", dest="input.limit", type=int)
    p.add_argument("--no-pii-mask", dest="input.mask_pii", action="store_const", const=False)
    p.add_argument("--backend", dest="backend.kind", choices=["vllm", "http", "transformers"])
    p.add_argument("--model", dest="backend.model", help="HF model folder, or a packaged model name (e.g. smollm2-135m-instruct)")
    p.add_argument("--base-url", dest="backend.base_url", help="OpenAI-compatible server (http backend)")
    p.add_argument("--max-tokens", dest="sampling.max_tokens", type=int)
    p.add_argument("--temperature", dest="sampling.temperature", type=float)
    p.add_argument("--variants", type=int, help="paraphrase variants per seed (replaces the generators list)")
    p.add_argument("--style", choices=["keep_irregularities", "clean"], help="paraphrase style (with --variants)")
    p.add_argument("--out", dest="out", help="run directory")
    p.add_argument("--seed", dest="seed", type=int)
    p.add_argument("--shard-size", dest="shard_size", type=int)
    p.add_argument("--token-budget", dest="token_budget", type=int)
    p.add_argument("--runner", dest="runner.kind", choices=["local", "ray"],
                   help="where shards run: local (default) or a Ray actor pool (README: Scaling)")
    p.add_argument("--ray-address", dest="runner.address",
                   help="with --runner ray: 'auto', 'ray://HOST:10001'; default starts a local Ray")
    p.add_argument("--workers", dest="runner.workers", type=int, help="with --runner ray: actors (one engine each)")
    p.add_argument("--no-transfer", dest="transfer.enabled", action="store_const", const=False,
                   help="keep the model's output as written (no irregularity transfer)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_generate)

    d = sub.add_parser("demo", help="the main job end to end on the bundled real sample with a packaged model")
    d.add_argument("--out", default="runs/demo", help="demo directory (default: runs/demo)")
    d.add_argument("--model", default=DEMO_MODEL, help="model folder or a packaged model name")
    d.add_argument("--limit", type=int, default=None, help="use only the first N seeds")
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=_demo)


def _overrides(args: argparse.Namespace) -> dict:
    out = {k: v for k, v in vars(args).items() if "." in k or k in ("out", "seed", "shard_size", "token_budget")}
    if args.variants is not None or args.style is not None:
        out["generators"] = [{"kind": "paraphrase", "variants": args.variants or 2,
                              "style": args.style or "keep_irregularities"}]
    return out


def _generate(args: argparse.Namespace) -> int:
    from .run import GenerateConfig, generate

    config = load_config(GenerateConfig, args.config, _overrides(args))
    manifest = generate(config, progress=False if args.quiet else None)
    _print_summary(manifest, config.out)
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
    out = check_output_dir(args.out, "--out")  # before the model loads
    # every stage present before any work: a demo without its monitor stage is a failure, not a half success
    monitor = [ep for ep in cli.entry_points(group="semisynth.commands") if ep.name == "monitor"]
    if not monitor:
        raise UserError("demo: stage 'monitor'", "is not installed (no 'monitor' in the semisynth.commands "
                        "entry points)", "reinstall semisynth with every stage: `make venv`")
    try:
        monitor[0].load()
    except ImportError as e:
        raise UserError("demo: stage 'monitor'", f"could not be loaded ({e})", "run `make venv` to reinstall") from None
    if args.limit is not None and args.limit < 1:
        raise UserError("--limit", f"{args.limit} seeds", "use --limit 1 or more (or leave it out for all seeds)")
    config = GenerateConfig.model_validate(demo_config(out, args.model, args.limit))
    print(f"[1/2] generating from the bundled real sample with {args.model} -> {config.out}", flush=True)
    manifest = generate(config, progress=False if args.quiet else None)
    _print_summary(manifest, config.out)
    print(f"[2/2] monitoring real vs generated -> {out / 'monitor'}", flush=True)
    return cli.main(["monitor", "--real", str(out / "generate" / "seeds.jsonl"), "--synthetic", config.out,
                     "--out", str(out / "monitor"), "--review-sample"])
