"""Session-wide test setup: offline hub, deterministic single-process engines, shared tiny model."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A ~3M-parameter Llama with a BPE tokenizer and chat template, built in the session (no hub)."""
    from semisynth.models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model") / "model")
