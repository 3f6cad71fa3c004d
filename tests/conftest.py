"""Session-wide test setup: offline hub, deterministic single-process engines, shared tiny model."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# One Ray auth mode for the whole session and every process it starts. Left unset, the first local ray.init()
# turns token auth on in this process (os.environ and Ray's cached config) and writes ~/.ray/auth_token; a
# later `ray start` cluster, or a module that set the mode for itself, then disagrees with this process, and
# its workers die at start or ray.init fails with InvalidAuthToken (CI, 2026-12-05). Every Ray here is on
# loopback and lives for one module.
os.environ["RAY_AUTH_MODE"] = "disabled"

import pytest  # noqa: E402
from ray_processes import ray_session_processes, stop_ray_session  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A ~3M-parameter Llama with a BPE tokenizer and chat template, built in the session (no hub)."""
    from semisynth.models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model") / "model")


# --- Ray (tests/test_ray_runner.py): a private local Ray, and a two-node cluster on this machine ------------
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def local_ray():
    """ray.init with 2 CPUs in this process, its own temp dir; shut down and swept after the module."""
    import tempfile

    import ray

    temp_dir = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # short: Ray's socket paths must stay < 108 chars
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=temp_dir, object_store_memory=256 << 20,
             log_to_driver=False)
    try:
        yield temp_dir
    finally:
        ray.shutdown()
        stop_ray_session(temp_dir)


@pytest.fixture(scope="module")
def ray_cluster():
    """A two-node cluster on this machine: `ray start --head` + `ray start --address`, 1 CPU each, own temp dirs.
    Yields the head's address; both nodes are stopped (by pid) afterwards."""
    import shutil
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    ray_bin = str(Path(sys.executable).with_name("ray"))
    head_dir, node_dir = (tempfile.mkdtemp(prefix=p, dir="/tmp") for p in ("rh", "rn"))
    port = _free_port()
    address = f"127.0.0.1:{port}"
    common = ["--num-cpus", "1", "--num-gpus", "0", "--node-ip-address", "127.0.0.1", "--disable-usage-stats",
              "--object-store-memory", str(200 << 20)]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    try:
        subprocess.run([ray_bin, "start", "--head", "--port", str(port), "--include-dashboard=false",
                        "--temp-dir", head_dir, *common], check=True, capture_output=True, env=env, timeout=120)
        subprocess.run([ray_bin, "start", "--address", address, "--temp-dir", node_dir, *common],
                       check=True, capture_output=True, env=env, timeout=120)
        yield address
    finally:
        for d in (node_dir, head_dir):
            stop_ray_session(d, gcs_port=port)
        left = [p.pid for d in (node_dir, head_dir) for p in ray_session_processes(d, port)]
        for d in (node_dir, head_dir):
            shutil.rmtree(d, ignore_errors=True)
        assert not left, f"Ray processes outlived the cluster: {left}"
