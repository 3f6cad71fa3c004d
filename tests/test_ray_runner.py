"""`--runner ray` on real Ray (no mocks): the same bytes as a local run, on a local Ray and on a
two-node cluster; a worker killed mid-run or a killed driver loses and duplicates nothing; a worker
whose engine cannot start is one line and exit 2; a shard that keeps killing its worker becomes
backend_error rejects (the one fault double: a stage that exits its process).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml
from ray_processes import live_ray_processes, ray_session_processes, stop_ray_session

pytest.importorskip("ray")
pytestmark = [pytest.mark.ray, pytest.mark.slow]

SAMPLE = Path(__file__).resolve().parents[1] / "semisynth" / "data" / "sample_conversations.jsonl"
COMPARED = ("records", "rejects", "done")


def _cfg(model: Path, out: Path, runner: dict | None = None, backend: str = "vllm") -> dict:
    return {
        "input": {"path": str(SAMPLE), "text_field": "text", "messages_field": "messages", "limit": 16},
        "backend": {"kind": backend, "model": str(model)},
        "generators": [{"kind": "paraphrase", "variants": 2, "style": "keep_irregularities"},
                       {"kind": "pure_synthetic", "variants": 1, "taxonomy": "intents", "leaves": ["praise"]}],
        "sampling": {"max_tokens": 32, "temperature": 0.9},
        "out": str(out), "seed": 3, "shard_size": 3,
        "runner": runner or {"kind": "local"},
    }


def _generate(cfg: dict):
    from semisynth.generation.run import GenerateConfig, generate

    return generate(GenerateConfig.model_validate(cfg), progress=False)


def _cli(cfg: dict, tmp: Path, *extra: str, env: dict | None = None, popen: bool = False):
    path = tmp / f"{Path(cfg['out']).name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "semisynth.cli", "generate", "--config", str(path), "--quiet", *extra]
    if popen:
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)


def _files(run: Path) -> dict[str, bytes]:
    out = {"seeds.jsonl": (run / "seeds.jsonl").read_bytes()}
    for sub in COMPARED:
        out.update({f"{sub}/{p.name}": p.read_bytes() for p in sorted((run / sub).iterdir())})
    return out


def assert_same_run(run: Path, ref: Path) -> None:
    got, want = _files(run), _files(ref)
    assert sorted(got) == sorted(want)
    assert [k for k in want if got[k] != want[k]] == [], "files differ from the local run"
    assert json.loads((run / "run.json").read_text())["run_id"] == json.loads((ref / "run.json").read_text())["run_id"]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["invariant"]["holds"]
    assert not list(run.rglob("*.tmp"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_model_dir):
    """The local run every Ray run must reproduce byte for byte."""
    tmp = tmp_path_factory.mktemp("ray")
    manifest = _generate(_cfg(tiny_model_dir, tmp / "local"))
    assert manifest["shards"]["total"] >= 8 and manifest["invariant"]["holds"]
    return tmp, tmp / "local"


def test_ray_run_is_byte_identical_to_the_local_run(local_ray, reference, tiny_model_dir):
    tmp, ref = reference
    out = tmp / "ray"
    manifest = _generate(_cfg(tiny_model_dir, out, {"kind": "ray", "workers": 2, "cpus_per_worker": 1}))
    assert manifest["config"]["runner"]["kind"] == "ray"
    assert_same_run(out, ref)


def _stage_workers(temp_dir: str) -> list:
    return [p for p in ray_session_processes(temp_dir) if "StageWorker" in " ".join(p.cmdline())]


def test_worker_killed_mid_run_loses_and_duplicates_nothing(local_ray, reference, tiny_model_dir):
    tmp, ref = reference
    out = tmp / "ray-killed"
    total = json.loads((ref / "manifest.json").read_text())["shards"]["total"]
    seen: dict[str, int] = {}

    def kill_one_worker() -> None:  # as soon as the first shard is committed, kill -9 a worker holding an engine
        deadline = time.time() + 300
        while time.time() < deadline and not list((out / "done").glob("*.json")):
            time.sleep(0.01)
        workers = _stage_workers(local_ray)
        busy = [p for p in workers if ".run" in " ".join(p.cmdline())] or workers
        if busy:
            seen["markers_at_kill"] = len(list((out / "done").glob("*.json")))
            os.kill(busy[0].pid, signal.SIGKILL)
            seen["killed"] = busy[0].pid

    killer = threading.Thread(target=kill_one_worker, daemon=True)
    killer.start()
    _generate(_cfg(tiny_model_dir, out, {"kind": "ray", "workers": 2, "cpus_per_worker": 1}))
    killer.join(timeout=5)
    assert "killed" in seen and seen["markers_at_kill"] < total, f"the kill should land mid-run: {seen}"
    assert_same_run(out, ref)


def _crashing_stage(backend, **options):
    """Fault double: in a worker the stage exits its process on every shard; on the driver (where the
    runner turns exhausted shards into rejects) it is the real GenerationStage."""
    from semisynth.generation.generators import GenerationStage
    from semisynth.runner import _FailedBackend

    if isinstance(backend, _FailedBackend):
        return GenerationStage(backend, **options)

    def crash(items):
        os._exit(1)

    return crash


def test_shard_that_keeps_killing_its_worker_becomes_backend_error_rejects(local_ray, reference, tiny_model_dir):
    import ray.cloudpickle

    from semisynth.backends import TransformersSpec
    from semisynth.generation.generators import plan_tasks
    from semisynth.generation.prompts import load_template
    from semisynth.generation.run import GenerateConfig
    from semisynth.ray_runner import RayRunner
    from semisynth.runner import RunnerConfig, StageSpec
    from semisynth.seeds import load_seeds

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the double lives in this test module
    tmp, _ = reference
    cfg = GenerateConfig.model_validate(_cfg(tiny_model_dir, tmp / "crash"))
    seeds = load_seeds(cfg.input.path, cfg.input.mapping(), limit=2)
    templates = {g.template_name(): load_template(g.template_name()) for g in cfg.generators}
    tasks = plan_tasks(seeds.records, cfg.generators[:1], templates, {}, cfg.sampling.params(), 3)
    spec = StageSpec(_crashing_stage, TransformersSpec(model=str(tiny_model_dir)),
                     {"sampling": cfg.sampling.params(), "checks": cfg.checks, "run_id": "r",
                      "run_seed": 3})
    runner = RayRunner(tmp / "crash", shard_size=4, progress=False,
                       config=RunnerConfig(kind="ray", workers=1, max_attempts=2, shard_timeout_s=120))
    runner.start(spec)
    try:
        prog = runner.run(tasks, item_key=lambda t: t.id)
    finally:
        runner.close()
    assert prog.complete and prog.records == 0 and prog.rejects == len(tasks)
    rows = [json.loads(line) for p in sorted((tmp / "crash" / "rejects").glob("shard-*.jsonl"))
            for line in p.read_text().splitlines()]
    assert sorted(r["task_id"] for r in rows) == sorted(t.id for t in tasks)
    assert {r["reason"] for r in rows} == {"backend_error"}
    assert all("worker failed 2 times" in r["detail"] and r["parents"] for r in rows)


def test_worker_whose_engine_cannot_start_is_one_line_and_exit_2(local_ray, reference, tiny_model_dir):
    import ray

    tmp, _ = reference
    broken = tmp / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{}")  # looks like a model folder, no engine can load it
    out = tmp / "ray-broken"
    address = ray.get_runtime_context().gcs_address
    res = _cli(_cfg(broken, out, {"kind": "ray", "workers": 1}), tmp, "--ray-address", address)
    assert res.returncode == 2, res.stderr[-2000:]
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "engine could not start in a Ray worker" in lines[0], res.stderr[-2000:]
    assert not out.exists()


def test_two_node_cluster_run_is_byte_identical_to_the_local_run(ray_cluster, reference, tiny_model_dir):
    tmp, ref = reference
    out = tmp / "cluster"
    res = _cli(_cfg(tiny_model_dir, out, {"kind": "ray", "workers": 2, "cpus_per_worker": 1}), tmp,
               "--ray-address", ray_cluster)
    assert res.returncode == 0, res.stderr[-3000:]
    assert_same_run(out, ref)


def test_killed_driver_rerun_resumes_from_the_markers(reference, tiny_model_dir):
    tmp, ref = reference
    out = tmp / "driver-killed"
    cfg = _cfg(tiny_model_dir, out, {"kind": "ray", "workers": 2, "cpus_per_worker": 1})
    ray_tmp = tempfile.mkdtemp(prefix="rd", dir="/tmp")
    env = {**os.environ, "RAY_TMPDIR": ray_tmp}  # the driver's private local Ray lives here
    total = json.loads((ref / "manifest.json").read_text())["shards"]["total"]
    try:
        proc = _cli(cfg, tmp, env=env, popen=True)
        deadline = time.time() + 300
        while time.time() < deadline and not list((out / "done").glob("*.json")) and proc.poll() is None:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        done_before = len(list((out / "done").glob("*.json")))
        assert 0 < done_before < total, "the kill should land mid-run"
        stop_ray_session(ray_tmp)  # Ray's reaper ends the orphaned session; sweep whatever it has not yet
        res = _cli(cfg, tmp, env=env)
        assert res.returncode == 0, res.stderr[-3000:]
        assert_same_run(out, ref)
    finally:
        stop_ray_session(ray_tmp)


def test_ray_embedding_equals_the_local_embedder_bit_for_bit(local_ray, tmp_path):
    import numpy as np

    from semisynth.collapse.monitor.embeddings import Embedder
    from semisynth.ray_runner import embed_texts, ray_embedder
    from semisynth.runner import RunnerConfig

    rows = [json.loads(line) for line in SAMPLE.read_text().splitlines()[:90]]
    texts = [r.get("text") or " ".join(m["content"] for m in r.get("messages", [])) for r in rows]
    uniq = list(dict.fromkeys(texts))
    texts += texts[:5]  # the Embedder encodes a repeated text once
    # The local reference in a clean process at the workers' thread count (cpus_per_worker=1): float sums
    # follow the thread count, and a vLLM engine run earlier in this process changes torch's CPU state.
    (tmp_path / "texts.json").write_text(json.dumps([texts, uniq]))
    code = ("import json, sys, numpy as np, torch; torch.set_num_threads(1); "
            "from semisynth.collapse.monitor.embeddings import Embedder; t, u = json.load(open(sys.argv[1])); "
            "np.save(sys.argv[2], Embedder(batch_size=16).encode(t)); np.save(sys.argv[3], Embedder(batch_size=16).encode(u))")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "texts.json"), str(tmp_path / "l.npy"),
                    str(tmp_path / "u.npy")], check=True, timeout=300, capture_output=True)
    local, local_uniq = np.load(tmp_path / "l.npy"), np.load(tmp_path / "u.npy")
    cfg = RunnerConfig(kind="ray", workers=2, cpus_per_worker=1)
    assert np.array_equal(embed_texts(uniq, "all-MiniLM-L6-v2", 16, cfg), local_uniq)
    cached = ray_embedder("all-MiniLM-L6-v2", 16, cache_dir=tmp_path, config=cfg)
    assert np.array_equal(cached.encode(texts), local)
    assert cached.encoded_last == len(set(texts))
    again = Embedder("all-MiniLM-L6-v2", batch_size=16, cache_dir=tmp_path)  # the cache is shared with local runs
    assert np.array_equal(again.encode(texts), local) and again.encoded_last == 0  # all from the cache


_THREADS_DRIVER = """
import json, sys
from semisynth.ray_runner import RayRunner
from semisynth.runner import RunnerConfig, StageSpec

def torch_stage():  # defined in __main__: Ray pickles it by value
    import torch  # noqa: F401  (the actor reports torch's thread count once torch is loaded)
    return lambda items: None

runner = RayRunner(sys.argv[1], progress=False, config=RunnerConfig(kind="ray", workers=2, cpus_per_worker=1))
runner.start(StageSpec(torch_stage))
try:
    print(json.dumps([w["torch_threads"] for w in runner.workers_info]))
finally:
    runner.close()
"""


def test_workers_run_torch_at_their_cpus_even_with_openmp_preloaded(tmp_path):
    """vLLM's CPU platform puts torch's libgomp in the driver's LD_PRELOAD (and its guide tells users to
    preload an OpenMP runtime): a preloaded runtime reads OMP_NUM_THREADS before Ray sets it, so 1-CPU
    actors ran torch with one thread per core of the node and two engines fought over two cores (0.21x)."""
    import torch

    gomp = sorted(Path(torch.__file__).parent.joinpath("lib").glob("libgomp*.so*"))
    if not gomp:
        pytest.skip("this torch build has no bundled libgomp to preload")
    ray_tmp = tempfile.mkdtemp(prefix="rp", dir="/tmp")
    env = {**os.environ, "RAY_TMPDIR": ray_tmp, "LD_PRELOAD": str(gomp[0])}
    try:
        res = subprocess.run([sys.executable, "-c", _THREADS_DRIVER, str(tmp_path / "run")], capture_output=True,
                             text=True, timeout=300, env=env)
        assert res.returncode == 0, res.stderr[-3000:]
        assert json.loads(res.stdout.strip().splitlines()[-1]) == [1, 1]
    finally:
        stop_ray_session(ray_tmp)  # by pid, whatever the outcome
    assert not live_ray_processes(ray_tmp)
