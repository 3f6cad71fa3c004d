"""What a Ray worker on another node needs, without Ray: models built once and never swapped under a reader,
shipped folders written once per node, config paths made absolute before shipping, each shard's engine in its
marker and in the manifest, a node's dtype forced through its environment. (The cluster tests that use these
are tests/test_ray_cluster.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

TINY = dict(tiny_hidden=32, tiny_layers=1, tiny_vocab=300, heldout_size=50)


def _family(workspace: Path):
    from semisynth.collapse.experiments.families.causal_lm import CausalLMFamily

    return CausalLMFamily(workspace=workspace, **TINY)


def _stamp(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in [folder, *sorted(folder.iterdir())]}


@pytest.mark.slow
def test_a_second_worker_never_rebuilds_the_base_another_is_loading(tmp_path):
    """Two workers sharing --out each had their own family; the second rebuilt out/base_model and swapped
    the folder (rename away, rename in, delete the old one) while the first was loading it."""
    base = Path(_family(tmp_path)._base(tmp_path))
    before = _stamp(base)
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(before)
    assert _family(tmp_path)._base(tmp_path) == str(base)  # a second worker, same --out
    assert _stamp(base) == before  # the same folder, the same files: nothing swapped, nothing rewritten


_BUILD = """
import sys
from pathlib import Path
from semisynth.collapse.experiments.families.causal_lm import CausalLMFamily
Path(sys.argv[2]).touch()
while not Path(sys.argv[3]).exists():  # both builders start together
    pass
f = CausalLMFamily(workspace=Path(sys.argv[1]), tiny_hidden=32, tiny_layers=1, tiny_vocab=300, heldout_size=50)
print(f._base(Path(sys.argv[1])))
"""


@pytest.mark.slow
def test_two_workers_building_the_base_at_once_never_show_a_half_built_folder(tmp_path):
    """Two processes build out/base_model at the same moment while a reader polls it: once the folder exists
    it is always complete (config, weights, tokenizer), and both builders end up with the same folder."""
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", _BUILD, str(tmp_path), str(tmp_path / f"up{i}"), str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    base = tmp_path / "base_model"
    seen: list[str] = []
    stop = threading.Event()

    def read() -> None:
        needed = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")
        appeared = False
        while not stop.is_set():
            present = [n for n in needed if (base / n).is_file()]
            if present:
                appeared = True
            if appeared and len(present) != len(needed):
                seen.append(f"half-built or missing: {sorted(present)}")
            time.sleep(0.0005)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.time() + 120
        while not all((tmp_path / f"up{i}").exists() for i in range(2)):
            assert time.time() < deadline and all(p.poll() is None for p in procs), procs[0].stderr.read()[-2000:]
            time.sleep(0.05)
        go.touch()
        outs = [p.communicate(timeout=300) for p in procs]
    finally:
        stop.set()
        reader.join(timeout=5)
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    assert {o[0].strip() for o in outs} == {str(base.resolve())}
    assert seen == []
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # the loser's copy is gone


def test_a_shipped_folder_is_written_once_per_node_and_complete_when_named(tmp_path):
    from semisynth.collapse.experiments.families.causal_lm import materialize_folder

    files = {"config.json": b"{}", "model.safetensors": bytes(range(256)) * 4000, "sub/tokenizer.json": b"[]"}
    got: list[Path] = []
    threads = [threading.Thread(target=lambda: got.append(materialize_folder(files, tmp_path))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 1
    folder = got[0]
    assert {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()} == files
    stamp = _stamp(folder)
    assert materialize_folder(files, tmp_path) == folder and _stamp(folder) == stamp  # reused, not rewritten
    assert [p for p in tmp_path.iterdir() if p != folder] == []
    other = materialize_folder({**files, "config.json": b'{"a": 1}'}, tmp_path)  # other bytes: another name
    assert other != folder and (other / "config.json").read_bytes() == b'{"a": 1}'


def test_config_paths_are_absolute_before_anything_is_shipped(tmp_path, monkeypatch):
    from semisynth.collapse.experiments.chains import absolute_paths
    from semisynth.collapse.experiments.config import ExperimentConfig
    from semisynth.ray_runner import portable_spec
    from semisynth.runner import StageSpec

    monkeypatch.chdir(tmp_path)
    (tmp_path / "base").mkdir()
    (tmp_path / "real.jsonl").write_text("")
    cfg = absolute_paths(ExperimentConfig(out="runs/x", family="hf_lm", base_model="base", real_data="real.jsonl"))
    assert (cfg.out, cfg.real_data, cfg.base_model) == (str(tmp_path / "runs/x"), str(tmp_path / "real.jsonl"),
                                                        str(tmp_path / "base"))
    hub = absolute_paths(ExperimentConfig(out="y", family="hf_lm", base_model="HuggingFaceTB/SmolLM2-135M"))
    assert hub.base_model == "HuggingFaceTB/SmolLM2-135M"  # a name, not a folder here: each node resolves it
    from semisynth.backends import backend_spec

    spec = portable_spec(StageSpec(dict, backend_spec(kind="transformers", model="base")))
    assert spec.backend.model == str(tmp_path / "base") and spec.paths == (str(tmp_path / "base"),)
    named = StageSpec(dict, backend_spec(kind="transformers", model="smollm2-135m-instruct"))
    assert portable_spec(named) is named


def test_a_path_a_worker_cannot_read_is_one_line_naming_where_and_the_path(tmp_path):
    from semisynth.errors import UserError
    from semisynth.runner import StageSpec

    missing = str(tmp_path / "only-on-the-driver")
    with pytest.raises(UserError) as e:
        StageSpec(dict, paths=(missing,)).check_paths("Ray node 10.0.0.7 (ab12cd34)")
    assert e.value.where == missing and "not readable on Ray node 10.0.0.7 (ab12cd34)" in e.value.what
    assert "\n" not in str(e.value)


def test_each_shard_marker_names_its_engine_and_a_resume_on_another_engine_is_refused_unless_allowed(tmp_path):
    from semisynth.errors import UserError
    from semisynth.runner import LocalRunner, ShardResult, shard_engines

    bf16 = {"kind": "vllm", "device": "cpu", "engine_args": {"dtype": "bfloat16"}}
    fp32 = {"kind": "vllm", "device": "cpu", "engine_args": {"dtype": "float32"}}
    runner = LocalRunner(tmp_path, shard_size=2, progress=False)
    runner._engine = bf16  # what start(spec) resolves in this process
    runner.run(list("abcd"), stage=lambda items: ShardResult([], []))
    runner._engine = fp32  # a resumed run whose engine resolved otherwise (another node)
    with pytest.raises(UserError) as e:  # refused before any shard runs: the run would mix them silently
        runner.run(list("abcdef"), stage=lambda items: ShardResult([], []))
    msg = str(e.value)
    assert e.value.where == str(tmp_path) and "holds 2 shard(s) made with vllm on cpu (dtype=bfloat16)" in msg, msg
    assert "this run resolves vllm on cpu (dtype=float32)" in msg and "allow_mixed_engines" in msg, msg
    assert "\n" not in msg and len(list((tmp_path / "done").glob("*.json"))) == 2
    runner.run(list("abcd"), stage=lambda items: ShardResult([], []))  # nothing left to run: not refused
    runner.allow_mixed_engines = True  # runner.allow_mixed_engines: the resume adds fp32 shards, each named
    runner.run(list("abcdef"), stage=lambda items: ShardResult([], []))
    markers = sorted((tmp_path / "done").glob("*.json"))
    assert [json.loads(m.read_text())["engine"]["engine_args"]["dtype"] for m in markers] == \
        ["bfloat16", "bfloat16", "float32"]
    summary = shard_engines(tmp_path)
    assert summary["engines_agree"] is False and summary["engine"].startswith("mixed")
    assert [(g["engine"]["engine_args"]["dtype"], g["shards"]) for g in summary["shard_engines"]] == \
        [("bfloat16", ["shard-00000", "shard-00001"]), ("float32", ["shard-00002"])]
    (tmp_path / "done" / "shard-00002.json").unlink()
    assert shard_engines(tmp_path)["engine"] == bf16 and shard_engines(tmp_path)["engines_agree"] is True


@pytest.mark.parametrize("forced, dtype", [("0", "float32"), ("1", "bfloat16")])
def test_a_node_environment_forces_the_cpu_dtype(forced, dtype):
    code = "from semisynth.backends import CPU_ENGINE_DEFAULTS as d; print(d['dtype'])"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "SEMISYNTH_CPU_BF16": forced})
    assert res.stdout.strip() == dtype, res.stderr[-2000:]
