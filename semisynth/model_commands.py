"""`semisynth model ...`: build a tiny model for dry runs, prepare the packaged demo model."""

from __future__ import annotations

import argparse

from semisynth.models import PACKAGED_MODELS


def _tiny(args: argparse.Namespace) -> int:
    from semisynth.models import build_tiny_model
    from semisynth.paths import check_output_dir

    check_output_dir(args.dir, "DIR")
    print(build_tiny_model(args.dir, seed=args.seed))
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from semisynth.models import prepare_packaged_model
    from semisynth.paths import check_output_dir

    if args.cache_dir is not None:
        check_output_dir(args.cache_dir, "--cache-dir")
    print(prepare_packaged_model(args.name, cache_dir=args.cache_dir))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    model = subparsers.add_parser("model", help="local models: a tiny test model, packaged GGUF models")
    sub = model.add_subparsers(dest="model_command", metavar="SUBCOMMAND")
    sub.required = True

    tiny = sub.add_parser("tiny", help="build a tiny random Llama + tokenizer (seconds; gibberish output, for dry runs)")
    tiny.add_argument("dir", help="output folder (replaced atomically if it exists)")
    tiny.add_argument("--seed", type=int, default=0, help="weight init seed (same seed -> identical files)")
    tiny.set_defaults(func=_tiny)

    prep = sub.add_parser("prepare", help="convert a model shipped in a Python package to a HF folder (cached); prints its path")
    prep.add_argument("name", nargs="?", default="smollm2-135m-instruct", choices=sorted(PACKAGED_MODELS),
                      help="packaged model (default: smollm2-135m-instruct)")
    prep.add_argument("--cache-dir", default=None, help="where converted models live (default ~/.cache/semisynth/models)")
    prep.set_defaults(func=_prepare)
