"""`--runner ray` on a cluster whose worker node does not see the driver's files (real Ray, no mocks).

The head (0 CPUs: it runs no work) and the driver see everything; the worker node (2 CPUs) runs in its own
mount namespace with an empty tmpfs over the test's scratch folder, so every input, model and output there
exists only on the driver, as on a real multi-node cluster without a shared filesystem. Still one host:
what a node resolves from its hardware (dtype) is forced through its environment. Nodes join later for the
autoscaling and mixed-dtype tests. Needs `unshare --mount` (root or CAP_SYS_ADMIN); skipped where it fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from ray_processes import ray_session_processes, stop_ray_session

pytest.importorskip("ray")
pytestmark = [pytest.mark.ray, pytest.mark.slow]

SAMPLE = Path(__file__).resolve().parents[1] / "semisynth" / "data" / "sample_conversations.jsonl"
RAY = str(Path(sys.executable).with_name("ray"))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    address: str
    port: int
    hidden: Path  # exists for the driver; an empty tmpfs on the worker node
    dirs: list[str] = field(default_factory=list)
    cpus: int = 0
    float32_node: bool = False

    def add_node(self, cpus: int, env: dict[str, str] | None = None, isolated: bool = False) -> None:
        node_dir = tempfile.mkdtemp(prefix="rn", dir="/tmp")
        self.dirs.append(node_dir)
        cmd = [RAY, "start", "--address", self.address, "--temp-dir", node_dir, "--num-cpus", str(cpus),
               "--num-gpus", "0", "--node-ip-address", "127.0.0.1", "--disable-usage-stats",
               "--object-store-memory", str(200 << 20)]
        if isolated:  # its own mount namespace: the driver's scratch folder is an empty tmpfs there
            cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                   'mount -t tmpfs tmpfs "$0" && exec "$@"', str(self.hidden), *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120,
                       env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0", **(env or {})})
        self.cpus += cpus

    def ensure_float32_node(self) -> None:
        """A node whose CPU 'lacks' bf16 (forced through its environment): its workers resolve float32. The other
        nodes resolve what this host's CPU has; on a host without bf16 a node forced to bf16 joins too, so the
        cluster mixes both dtypes on any host."""
        if not self.float32_node:
            from semisynth.backends.device import cpu_has_bf16

            self.add_node(1, env={"SEMISYNTH_CPU_BF16": "0"})
            if not cpu_has_bf16():
                self.add_node(1, env={"SEMISYNTH_CPU_BF16": "1"})
            self.float32_node = True


@pytest.fixture(scope="module")
def cluster():
    hidden = Path(tempfile.mkdtemp(prefix="hid", dir="/tmp"))
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                            f"mount -t tmpfs tmpfs {hidden} && test ! -e {hidden}/x"], capture_output=True)
    if probe.returncode != 0:
        shutil.rmtree(hidden, ignore_errors=True)
        pytest.skip(f"no private mount namespace here (unshare --mount): {probe.stderr.decode()[-200:]}")
    port = _free_port()
    c = Cluster(f"127.0.0.1:{port}", port, hidden)
    head_dir = tempfile.mkdtemp(prefix="rh", dir="/tmp")
    c.dirs.append(head_dir)
    try:
        subprocess.run([RAY, "start", "--head", "--port", str(port), "--include-dashboard=false", "--temp-dir",
                        head_dir, "--num-cpus", "0", "--num-gpus", "0", "--node-ip-address", "127.0.0.1",
                        "--disable-usage-stats", "--object-store-memory", str(200 << 20)],
                       check=True, capture_output=True, timeout=120,
                       env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
        c.add_node(2, isolated=True)
        yield c
    finally:
        for d in reversed(c.dirs):
            stop_ray_session(d, gcs_port=port)
        left = [p.pid for d in c.dirs for p in ray_session_processes(d, port)]
        for d in c.dirs:
            shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(hidden, ignore_errors=True)
        assert not left, f"Ray processes outlived the cluster: {left}"


def _gen_cfg(cluster: Cluster, model: Path, out: Path, runner: dict | None = None) -> dict:
    seeds = cluster.hidden / "seeds.jsonl"
    if not seeds.exists():
        seeds.write_text("".join(SAMPLE.read_text().splitlines(keepends=True)[:10]))
    return {"input": {"path": str(seeds), "text_field": "text", "messages_field": "messages"},
            "backend": {"kind": "vllm", "model": str(model)},
            "generators": [{"kind": "paraphrase", "variants": 2, "style": "keep_irregularities"}],
            "sampling": {"max_tokens": 24, "temperature": 0.9},
            "out": str(out), "seed": 3, "shard_size": 4, "runner": runner or {"kind": "local"}}


def _generate(cfg: dict):
    from semisynth.generation.run import GenerateConfig, generate

    return generate(GenerateConfig.model_validate(cfg), progress=False)


def _ray(cluster: Cluster, workers: int = 2, **kw) -> dict:
    return {"kind": "ray", "address": cluster.address, "workers": workers, "cpus_per_worker": 1, **kw}


def _files(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def test_generate_on_a_node_without_the_driver_files_equals_the_local_run(cluster, tiny_model_dir):
    """Seeds and --out exist only on the driver (the model is on a path both see): same records, rejects and
    markers as the local run; every marker and the manifest name the engine the workers resolved."""
    local = _generate(_gen_cfg(cluster, tiny_model_dir, cluster.hidden / "gen-local"))
    manifest = _generate(_gen_cfg(cluster, tiny_model_dir, cluster.hidden / "gen-ray", _ray(cluster)))
    got, want = _files(cluster.hidden / "gen-ray"), _files(cluster.hidden / "gen-local")
    compared = [k for k in want if k.split("/")[0] in ("records", "rejects", "done") or k == "seeds.jsonl"]
    assert len([k for k in compared if k.startswith("done/")]) == manifest["shards"]["total"] >= 4
    assert [k for k in compared if got.get(k) != want[k]] == []
    markers = [json.loads(got[k]) for k in compared if k.startswith("done/")]
    assert all(m["engine"] == manifest["engine"] for m in markers)
    assert manifest["engines_agree"] is True and len(manifest["shard_engines"]) == 1
    assert manifest["engine"]["engine_args"]["dtype"] == local["engine"]["engine_args"]["dtype"]
    assert manifest["shard_engines"][0]["shards"] == [f"shard-{i:05d}" for i in range(len(markers))]


def test_a_model_folder_only_the_driver_sees_is_one_line_naming_the_node_and_path(cluster, tiny_model_dir):
    from semisynth.errors import UserError

    model = cluster.hidden / "model-on-the-driver"
    if not model.exists():
        shutil.copytree(tiny_model_dir, model)
    out = cluster.hidden / "gen-hidden-model"
    with pytest.raises(UserError) as e:
        _generate(_gen_cfg(cluster, model, out, _ray(cluster)))
    msg = str(e.value)
    assert e.value.where == str(model) and re.search(r"not readable on Ray node \S+ \([0-9a-f]{8}\)", msg), msg
    assert "\n" not in msg and not out.exists()


_LOCAL_MONITOR = """
import sys, torch
torch.set_num_threads(1)  # the workers' thread count (cpus_per_worker 1): float sums follow it
from semisynth.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_monitor_on_a_node_without_the_driver_files_writes_the_local_report(cluster):
    """Both corpora and --out only on the driver: the texts travel to the embedding workers; the report is
    the local one's byte for byte (at the workers' thread count)."""
    from semisynth.cli import main
    from semisynth.records import Lineage, Record

    texts = [json.loads(line)["text"] for line in SAMPLE.read_text().splitlines()[:80]]
    real = [Record.create("real", text=t) for t in texts]
    syn = [Record.create("paraphrase", text=t.lower().replace("!", "."), parents=(r.id,),
                         lineage=Lineage(generator="paraphrase", style="clean"))
           for t, r in zip(texts[::2], real[::2], strict=True)]
    paths = cluster.hidden / "mon-real.jsonl", cluster.hidden / "mon-syn.jsonl"
    for path, records in zip(paths, (real, syn), strict=True):
        path.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records))
    config = cluster.hidden / "mon.yaml"
    config.write_text(json.dumps({"cache_dir": None, "n_boot": 50, "n_perm": 200, "subsample_n": 20,
                                  "subsample_repeats": 2, "batch_size": 16, "review_sample": 20}))
    args = ["monitor", "--real", str(paths[0]), "--synthetic", str(paths[1]), "--config", str(config)]
    local = subprocess.run([sys.executable, "-c", _LOCAL_MONITOR, *args, "--out", str(cluster.hidden / "mon-local")],
                           capture_output=True, text=True, timeout=600)
    assert local.returncode == 0, local.stderr[-3000:]
    assert main([*args, "--out", str(cluster.hidden / "mon-ray"), "--runner", "ray", "--ray-address",
                 cluster.address, "--workers", "2"]) == 0
    for name in ("report.json", "review_sample.jsonl", "report.html"):
        ours = (cluster.hidden / "mon-ray" / name).read_text().replace("mon-ray", "mon-local")
        assert ours == (cluster.hidden / "mon-local" / name).read_text(), name


_LOCAL_COLLAPSE = """
import json, sys, torch
torch.set_num_threads(1)  # the workers' thread count (cpus_per_worker 1): float sums follow it
from semisynth.collapse.experiments.chains import run_experiment
from semisynth.collapse.experiments.config import ExperimentConfig
run_experiment(ExperimentConfig(**json.loads(sys.argv[1])))
"""


def test_collapse_tiny_lm_on_a_node_without_the_driver_files_equals_the_local_run(cluster, monkeypatch):
    """Relative --out and real_data, both only on the driver; the tiny base is built there and shipped; two
    chains build their models at once on the worker node; the weights come back to be written. The folder
    equals a local run's at the workers' thread count, weights included."""
    from semisynth.collapse.experiments.chains import run_experiment
    from semisynth.collapse.experiments.config import ExperimentConfig

    monkeypatch.chdir(cluster.hidden)
    rows = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    (cluster.hidden / "real.jsonl").write_text("".join(json.dumps({"text": r["text"]}) + "\n" for r in rows
                                                       if r.get("text")))
    cfg = dict(family="tiny_lm", backend="transformers", real_data="real.jsonl", mode=["replace"], seeds=[0, 1],
               generations=1, sample_size=24, heldout_size=10, metric_sample=10, lm_epochs=1,
               lm_max_new_tokens=12, progress=False)
    local = subprocess.run([sys.executable, "-c", _LOCAL_COLLAPSE, json.dumps({**cfg, "out": "lm-local"})],
                           cwd=cluster.hidden, capture_output=True, text=True, timeout=600)
    assert local.returncode == 0, local.stderr[-3000:]
    res = run_experiment(ExperimentConfig(out="lm-ray", runner=_ray(cluster), **cfg))
    assert res.out == cluster.hidden / "lm-ray" and len(res.timings) == 4
    got, want = _files(cluster.hidden / "lm-ray"), _files(cluster.hidden / "lm-local")
    assert sorted(got) == sorted(want)
    weights = [k for k in want if k.startswith("runs/") and k.endswith("/model/model.safetensors")]
    assert len(weights) == 4 and not (cluster.hidden / "lm-ray" / "embeddings").exists()
    for k in want:
        if k.endswith("metrics.json"):
            assert json.loads(got[k])["metrics"] == json.loads(want[k])["metrics"], k
        elif k == "experiment.json":
            a, b = json.loads(got[k]), json.loads(want[k])
            assert a["config"].pop("out").endswith("lm-ray") and b["config"].pop("out").endswith("lm-local")
            assert a["identity"] == b["identity"]
        else:
            assert got[k] == want[k], k
    model = json.loads(got["runs/replace/seed0/gen001/model.json"])
    assert model["engine"]["train_device"] == "cpu" and model["engine"]["sample"]["kind"] == "transformers"


def test_an_autoscaling_cluster_runs_once_a_node_joins(cluster, tmp_path):
    """3 workers on a cluster that has 2 CPUs at the start: the run waits (it used to be refused) and
    finishes once a node joins; the folder equals the local run's."""
    from semisynth.collapse.experiments.chains import run_experiment
    from semisynth.collapse.experiments.config import ExperimentConfig

    cfg = dict(family="categorical", mode=["replace", "mix", "accumulate"], real_fraction=[0.5], seeds=[0],
               generations=2, sample_size=100, progress=False)
    local = run_experiment(ExperimentConfig(out=str(tmp_path / "local"), **cfg))
    got: dict = {}

    def run() -> None:
        try:
            got["res"] = run_experiment(ExperimentConfig(out=str(tmp_path / "ray"), **cfg,
                                                         runner=_ray(cluster, 3, start_timeout_s=180)))
        except BaseException as e:  # reported below
            got["error"] = e

    driver = threading.Thread(target=run, daemon=True)
    driver.start()
    time.sleep(4)
    assert driver.is_alive(), f"refused before a node could join: {got.get('error')}"
    assert not list((tmp_path / "ray").glob("runs/*/seed*/gen*/DONE"))  # still waiting for resources
    cluster.add_node(1)
    driver.join(timeout=240)
    assert "error" not in got, got.get("error")
    assert got["res"].rows == local.rows
    assert _files(tmp_path / "ray").keys() == _files(tmp_path / "local").keys()


def test_a_cluster_that_never_grows_enough_is_one_line_after_start_timeout(cluster, tmp_path):
    from semisynth.collapse.experiments.chains import run_experiment
    from semisynth.collapse.experiments.config import ExperimentConfig
    from semisynth.errors import UserError

    with pytest.raises(UserError) as e:
        run_experiment(ExperimentConfig(out=str(tmp_path / "never"), family="categorical", generations=1,
                                        seeds=[0], sample_size=50, progress=False,
                                        runner=_ray(cluster, cluster.cpus + 8, start_timeout_s=3)))
    msg = str(e.value)
    assert "not ready after 3 s" in msg and f"need {cluster.cpus + 8} CPU" in msg and "no node joined" in msg, msg
    assert "\n" not in msg
    assert not (tmp_path / "never").exists()  # no experiment.json left behind: nothing was made
    # one worker larger than any node: it waits only for an autoscaler that adds such a node, and says so
    with pytest.raises(UserError) as e:
        run_experiment(ExperimentConfig(out=str(tmp_path / "too-big"), family="categorical", generations=1,
                                        seeds=[0], sample_size=50, progress=False,
                                        runner=_ray(cluster, 1, cpus_per_worker=64, start_timeout_s=2)))
    msg = str(e.value)
    assert "not ready after 2 s" in msg and "no node offers one worker's 64 CPU" in msg, msg
    assert "only an autoscaler" in msg and "cpus_per_worker" in e.value.fix and "\n" not in msg, msg
    assert not (tmp_path / "too-big").exists()


def test_a_resume_on_workers_that_resolve_another_dtype_is_refused(cluster, tmp_path):
    """The run id holds the backend's device as the driver resolves it, not what the workers resolve: a run
    whose shards were made on bf16 workers, resumed on workers that resolve float32 (both forced through
    runner.env_vars), is refused before any shard is sent; no engine is opened (the stage only resolves)."""
    import ray.cloudpickle

    from semisynth.backends import backend_spec
    from semisynth.errors import UserError
    from semisynth.ray_runner import RayRunner
    from semisynth.runner import RunnerConfig, StageSpec, make_runner

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    spec = StageSpec(_slow_stage, resolves=backend_spec(kind="vllm", model="m"))
    out = tmp_path / "resumed"

    def run(items: int, **kw) -> None:
        runner = make_runner(RunnerConfig(**_ray(cluster, **kw)), out, shard_size=1, progress=False)
        assert isinstance(runner, RayRunner)
        runner.start(spec)
        try:
            runner.run([str(i) for i in range(items)])
        finally:
            runner.close()

    run(2, env_vars={"SEMISYNTH_CPU_BF16": "1"})  # whatever the host's CPU: bf16, then float32
    made = sorted(p.name for p in (out / "done").iterdir())
    with pytest.raises(UserError) as e:
        run(4, env_vars={"SEMISYNTH_CPU_BF16": "0"})
    msg = str(e.value)
    assert "holds 2 shard(s) made with vllm on cpu (dtype=bfloat16)" in msg, msg
    assert "this run resolves vllm on cpu (dtype=float32)" in msg and "\n" not in msg, msg
    assert sorted(p.name for p in (out / "done").iterdir()) == made  # nothing sent, nothing committed


def test_workers_that_resolve_different_dtypes_are_refused_at_start(cluster, tiny_model_dir, tmp_path):
    """A node whose CPU lacks bf16 (forced through its environment) beside nodes that have it: the run is
    refused before any engine starts, naming both resolutions; nothing is written."""
    from semisynth.errors import UserError

    cluster.ensure_float32_node()
    out = tmp_path / "mixed"
    start = time.monotonic()
    with pytest.raises(UserError) as e:  # one worker per CPU of the cluster: one lands on the float32 node
        _generate(_gen_cfg(cluster, tiny_model_dir, out, _ray(cluster, cluster.cpus)))
    msg = str(e.value)
    assert "resolve different engines" in msg and "dtype=bfloat16" in msg and "dtype=float32" in msg, msg
    assert "allow_mixed_engines" in msg and not out.exists()
    assert time.monotonic() - start < 60  # before any engine started


def _slow_stage():
    """A stage that takes a moment per shard (so every worker gets some), made where it runs."""
    from semisynth.runner import ShardResult

    def stage(items):
        time.sleep(0.3)
        return ShardResult([], [], {"items": len(items)})

    return stage


def test_allowed_mixed_engines_are_recorded_per_shard(cluster, tmp_path):
    """With runner.allow_mixed_engines the same cluster runs; each shard's marker names the engine of the
    worker that made it, and the manifest summary says the engines differ and lists both."""
    import ray.cloudpickle

    from semisynth.backends import backend_spec
    from semisynth.ray_runner import RayRunner
    from semisynth.runner import RunnerConfig, StageSpec, shard_engines

    cluster.ensure_float32_node()
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the stage lives in this test module
    spec = StageSpec(_slow_stage, resolves=backend_spec(kind="vllm", model="m"))  # resolved, never opened
    runner = RayRunner(tmp_path / "mixed-ok", shard_size=1, progress=False,
                       config=RunnerConfig(**_ray(cluster, cluster.cpus, allow_mixed_engines=True)))
    runner.start(spec)
    try:
        assert {e["engine_args"]["dtype"] for e in runner.engines()} == {"bfloat16", "float32"}
        prog = runner.run([str(i) for i in range(24)])
    finally:
        runner.close()
    assert prog.complete
    summary = shard_engines(tmp_path / "mixed-ok")
    assert summary["engines_agree"] is False and summary["engine"].startswith("mixed")
    by_dtype = {g["engine"]["engine_args"]["dtype"]: len(g["shards"]) for g in summary["shard_engines"]}
    assert set(by_dtype) == {"bfloat16", "float32"} and sum(by_dtype.values()) == 24, by_dtype
