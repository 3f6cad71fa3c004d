"""`collapse run --runner ray` on a real local Ray (2 CPUs, started and stopped here; no mocks): the run folder
is the local runner's byte for byte (results.csv, report.html, every generation's files; metrics.json up to its
wall times), from the YAML `runner:` section and from flags; a driver killed with -9 mid-run resumes from the
generations it committed; no Ray process outlives the module."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ray_processes import live_ray_processes, stop_ray_session, wait_for_no_stage_workers

pytest.importorskip("ray")
pytestmark = [pytest.mark.ray, pytest.mark.slow]

CATEGORICAL = dict(family="categorical", mode=["replace", "mix", "accumulate"], real_fraction=[0.5], seeds=[0, 1],
                   generations=3, sample_size=200, progress=False)
NGRAM = dict(family="ngram", mode=["replace", "mix"], real_fraction=[0.5], seeds=[0], generations=8,
             sample_size=150, metric_sample=50, heldout_size=50, progress=False)


def _run(out: Path, runner: dict | None = None, **kw):
    from semisynth.collapse.experiments.chains import run_experiment
    from semisynth.collapse.experiments.config import ExperimentConfig

    return run_experiment(ExperimentConfig(out=str(out), runner=runner or {"kind": "local"}, **kw))


def assert_same_run(a: Path, b: Path) -> None:
    """Every file of two run folders equal byte for byte, except the wall times in metrics.json and the
    `out` path in experiment.json."""
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    assert any(p.name == "DONE" for p in files_a) and Path("results.csv") in files_a
    for rel in files_a:
        if rel.name == "metrics.json":
            assert json.loads((a / rel).read_text())["metrics"] == json.loads((b / rel).read_text())["metrics"], rel
        elif rel.name == "experiment.json":
            ja, jb = (json.loads((d / rel).read_text()) for d in (a, b))
            ja["config"].pop("out"), jb["config"].pop("out")
            assert ja == jb
        else:
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_ray_collapse_run_is_byte_identical_to_the_local_runner(local_ray, tmp_path, capsys):
    from semisynth.cli import main

    local = _run(tmp_path / "local", **CATEGORICAL)
    assert len(local.timings) == 3 * 2 * 4  # 3 conditions x 2 seeds x generations 0..3, all run
    # from the YAML's runner: section
    ray_run = _run(tmp_path / "ray", {"kind": "ray", "workers": 2, "cpus_per_worker": 1}, **CATEGORICAL)
    assert sorted((t["condition"], t["seed"], t["generation"]) for t in ray_run.timings) == \
        sorted((t["condition"], t["seed"], t["generation"]) for t in local.timings)
    assert ray_run.rows == local.rows
    assert_same_run(tmp_path / "local", tmp_path / "ray")
    # from the command line: YAML without a runner, --runner ray --workers 2
    yaml = tmp_path / "cat.yaml"
    yaml.write_text("family: categorical\nmode: [replace, mix, accumulate]\nreal_fraction: 0.5\nseeds: [0, 1]\n"
                    "generations: 3\nsample_size: 200\n")
    assert main(["collapse", "run", "--config", str(yaml), "--out", str(tmp_path / "cli"), "--no-progress",
                 "--runner", "ray", "--workers", "2"]) == 0
    capsys.readouterr()
    assert_same_run(tmp_path / "local", tmp_path / "cli")
    assert wait_for_no_stage_workers(local_ray) == []


def test_a_killed_ray_driver_resumes_from_its_committed_generations(local_ray, tmp_path):
    """kill -9 the driver (a separate process on the same Ray) once some generations are committed; the same
    command again keeps them (not rewritten) and finishes; the folder equals a fresh local run's."""
    import ray

    out = tmp_path / "killed"
    args = [sys.executable, "-m", "semisynth.cli", "collapse", "run", "--out", str(out), "--family", "ngram",
            "--mode", "replace,mix", "--real-fraction", "0.5", "--seeds", "0", "--generations", str(NGRAM["generations"]),
            "--sample-size", "150", "--metric-sample", "50", "--heldout-size", "50", "--no-progress",
            "--runner", "ray", "--ray-address", ray.get_runtime_context().gcs_address, "--workers", "2"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.time() + 240
        while len(list(out.glob("runs/*/seed*/gen*/DONE"))) < 3:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.time() < deadline, "no generation committed in time"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    done = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/seed*/gen*/DONE")}
    total = 2 * (NGRAM["generations"] + 1)
    assert 3 <= len(done) < total  # killed mid-run
    assert not (out / "results.csv").exists()
    resumed = _run(out, {"kind": "ray", "workers": 2, "cpus_per_worker": 1}, **NGRAM)
    assert len(resumed.timings) == total - len(done)  # only what was not committed was run again
    assert {p: p.stat().st_mtime_ns for p in done} == done
    _run(tmp_path / "fresh", **NGRAM)
    assert_same_run(tmp_path / "fresh", out)
    assert wait_for_no_stage_workers(local_ray) == []


def test_no_ray_process_outlives_the_module(local_ray):
    import ray

    ray.shutdown()
    stop_ray_session(local_ray)
    assert live_ray_processes(local_ray) == []
