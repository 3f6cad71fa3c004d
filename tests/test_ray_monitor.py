"""`semisynth monitor --runner ray`: the embedding runs on a real local Ray and the report is the local one's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import semisynth
from semisynth.cli import main
from semisynth.records import Lineage, Record

pytestmark = pytest.mark.ray

SAMPLE = Path(semisynth.__file__).parent / "data" / "sample_conversations.jsonl"
# Cheap statistics; no embedding cache, so the Ray run really encodes every text.
CONFIG = {"cache_dir": None, "n_boot": 50, "n_perm": 200, "subsample_n": 20, "subsample_repeats": 2,
          "batch_size": 16, "review_sample": 20}


def _corpora(tmp: Path) -> tuple[Path, Path]:
    texts = [json.loads(line)["text"] for line in SAMPLE.read_text().splitlines()[:120]]  # 60 per side: Frechet runs
    real = [Record.create("real", text=t) for t in texts]
    syn = [Record.create("paraphrase", text=t.lower().replace("!", "."), parents=(r.id,),
                         lineage=Lineage(generator="paraphrase", style="clean"))
           for t, r in zip(texts[::2], real[::2], strict=True)]
    paths = tmp / "real.jsonl", tmp / "synthetic.jsonl"
    for path, records in zip(paths, (real, syn), strict=True):
        path.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records))
    return paths


def _config(tmp: Path, name: str, **extra) -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(json.dumps({**CONFIG, **extra}))  # JSON is YAML
    return path


def test_monitor_on_ray_writes_the_local_report_byte_for_byte(local_ray, tmp_path):
    real, syn = _corpora(tmp_path)
    args = ["monitor", "--real", str(real), "--synthetic", str(syn)]
    # The local reference in a clean process at the workers' thread count (cpus_per_worker=1): float sums
    # follow torch's thread count (tests/test_ray_runner.py says why).
    code = ("import sys, torch; torch.set_num_threads(1); from semisynth.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    local = subprocess.run([sys.executable, "-c", code, *args, "--out", str(tmp_path / "local"),
                            "--config", str(_config(tmp_path, "local"))],
                           capture_output=True, text=True, timeout=600)
    assert local.returncode == 0, local.stderr[-3000:]
    # Ray from the YAML config, and from the flags (which override it).
    yaml_cfg = _config(tmp_path, "ray", runner={"kind": "ray", "workers": 2, "cpus_per_worker": 1})
    assert main([*args, "--out", str(tmp_path / "ray"), "--config", str(yaml_cfg)]) == 0
    assert main([*args, "--out", str(tmp_path / "ray-flags"), "--config", str(_config(tmp_path, "flags")),
                 "--runner", "ray", "--workers", "2"]) == 0
    for out in ("ray", "ray-flags"):
        for name in ("report.json", "review_sample.jsonl", "report.html"):
            # the report names its own folder (review_sample.path)
            ours = (tmp_path / out / name).read_text().replace(str(tmp_path / out), str(tmp_path / "local"))
            assert ours == (tmp_path / "local" / name).read_text(), (out, name)
    report = json.loads((tmp_path / "ray" / "report.json").read_text())
    assert report["embedding"]["frechet"]["status"] == "ok" and "runner" not in report["config"]


def test_the_embed_step_encodes_on_ray_when_the_config_says_so(local_ray):
    from semisynth.collapse.monitor.config import MonitorConfig
    from semisynth.collapse.monitor.pipeline import MonitorState, embed

    texts = [json.loads(line)["text"] for line in SAMPLE.read_text().splitlines()[:12]]
    records = [Record.create("real", text=t) for t in texts]
    cfg = MonitorConfig(cache_dir=None, batch_size=4, runner={"kind": "ray", "workers": 2})
    state = MonitorState(records, records[:6], cfg)
    embed(state)
    assert type(state.embedder).__name__ == "RayEmbedder" and state.embedder.encoded_last == 6
    assert state.R.shape == (12, 384) and state.S.shape == (6, 384)


_EMBED_ONCE = """
import json, sys
import ray
import semisynth.ray_runner as rr
from semisynth.collapse.monitor.config import MonitorConfig
from semisynth.collapse.monitor.pipeline import MonitorState, embed
from semisynth.records import Record

starts, connect = [], rr.connect
def counted(config):  # the real connect, counted: True where it started a Ray
    starts.append(connect(config))
    return starts[-1]
rr.connect = counted
texts = [json.loads(line)["text"] for line in open(sys.argv[1]).read().splitlines()[:12]]
records = [Record.create("real", text=t) for t in texts]
state = MonitorState(records, records[:6], MonitorConfig(cache_dir=None, batch_size=4, runner={"kind": "ray"}))
embed(state)
print(json.dumps({"starts": starts, "still_up": ray.is_initialized(), "shapes": [state.R.shape, state.S.shape]}))
"""


def test_monitor_without_an_address_starts_one_private_ray_for_both_encodes(tmp_path):
    import os
    import tempfile

    from ray_processes import live_ray_processes, stop_ray_session

    ray_tmp = tempfile.mkdtemp(prefix="rm", dir="/tmp")
    try:
        res = subprocess.run([sys.executable, "-c", _EMBED_ONCE, str(SAMPLE)], capture_output=True, text=True,
                             timeout=600, env={**os.environ, "RAY_TMPDIR": ray_tmp})
        assert res.returncode == 0, res.stderr[-3000:]
        got = json.loads(res.stdout.strip().splitlines()[-1])
        # one Ray started (by the embedder), reused by both encodes, stopped by the embed step
        assert got == {"starts": [True, False, False], "still_up": False, "shapes": [[12, 384], [6, 384]]}
    finally:
        stop_ray_session(ray_tmp)
    assert not live_ray_processes(ray_tmp)
