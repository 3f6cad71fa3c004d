"""`semisynth model ...`: build a tiny model for dry runs, prepare the packaged demo model."""

from __future__ import annotations

import argparse
from typing import Literal

from pydantic import Field

from semisynth.config import CommandConfig
from semisynth.flags import add_config_flags
from semisynth.models import PACKAGED_MODELS

PackagedModel = Literal[tuple(sorted(PACKAGED_MODELS))]  # type: ignore[valid-type]


class TinyModelConfig(CommandConfig):
    """`semisynth model tiny DIR`."""

    dir: str = Field(..., description="output folder (replaced atomically if it exists)")
    seed: int = Field(0, description="weight init seed (same seed -> identical files)")


class PrepareModelConfig(CommandConfig):
    """`semisynth model prepare [NAME]`."""

    name: PackagedModel = Field("smollm2-135m-instruct", description="packaged model")
    cache_dir: str | None = Field(None, description="where converted models live (default ~/.cache/semisynth/models)")


def _tiny(args: argparse.Namespace) -> int:
    from semisynth.models import build_tiny_model
    from semisynth.paths import check_output_dir

    cfg: TinyModelConfig = args.config_flags.load(args)
    check_output_dir(cfg.dir, "DIR")
    print(build_tiny_model(cfg.dir, seed=cfg.seed))
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from semisynth.models import prepare_packaged_model
    from semisynth.paths import check_output_dir

    cfg: PrepareModelConfig = args.config_flags.load(args)
    if cfg.cache_dir is not None:
        check_output_dir(cfg.cache_dir, "--cache-dir")
    print(prepare_packaged_model(cfg.name, cache_dir=cfg.cache_dir))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    model = subparsers.add_parser("model", help="local models: a tiny test model, packaged GGUF models")
    sub = model.add_subparsers(dest="model_command", metavar="SUBCOMMAND")
    sub.required = True

    tiny = sub.add_parser("tiny", help="build a tiny random Llama + tokenizer (seconds; gibberish output, for dry runs)")
    add_config_flags(tiny, TinyModelConfig, positional=("dir",), config_flag=False)
    tiny.set_defaults(func=_tiny)

    prep = sub.add_parser("prepare", help="convert a model shipped in a Python package to a HF folder (cached); prints its path")
    add_config_flags(prep, PrepareModelConfig, positional=("name",), config_flag=False)
    prep.set_defaults(func=_prepare)
