"""`preference candidates --runner ray` on a real local Ray (2 CPUs, started and stopped here; no mocks):
the items and the ledger are byte-identical to the local runner's, with two engines (two backend specs)
and several arms per engine; no Ray process outlives the module."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ray_processes import live_ray_processes, stop_ray_session, wait_for_no_stage_workers

pytest.importorskip("ray")
pytestmark = [pytest.mark.ray, pytest.mark.slow]

SAMPLE = Path(__file__).resolve().parents[1] / "semisynth" / "data" / "sample_conversations.jsonl"


def _prompts(tmp: Path, n: int = 10) -> Path:
    rows = [json.loads(line) for line in SAMPLE.read_text().splitlines()[:n]]
    path = tmp / "prompts.jsonl"
    path.write_text("".join(json.dumps({"text": r.get("text") or r["messages"][0]["content"]}) + "\n" for r in rows))
    return path


def _cfg(model: Path, prompts: Path, out: Path, runner: dict):
    from semisynth.preference.configs import CandidatesConfig

    engine = {"model": str(model)}
    return CandidatesConfig.model_validate({
        "prompts": str(prompts), "out": str(out), "seed": 3, "shard_size": 4, "runner": runner,
        "arms": [
            {"name": "cold", "backend": engine, "temperature": 0.2, "max_tokens": 16},
            {"name": "hot", "backend": engine, "temperature": 1.2, "max_tokens": 16},
            {"name": "terse", "backend": engine, "temperature": 0.8, "max_tokens": 16, "system": "Answer briefly."},
            # a second engine: another backend spec, its own runner pass
            {"name": "other", "backend": {**engine, "seed": 1}, "temperature": 0.9, "max_tokens": 16},
        ]})


def test_ray_candidates_are_byte_identical_to_the_local_runner(local_ray, tiny_model_dir, tmp_path):
    from semisynth.preference.candidates import run_candidates

    prompts = _prompts(tmp_path)
    local = run_candidates(_cfg(tiny_model_dir, prompts, tmp_path / "local.jsonl", {"kind": "local"}))
    ray_run = run_candidates(_cfg(tiny_model_dir, prompts, tmp_path / "ray.jsonl",
                                  {"kind": "ray", "workers": 2, "cpus_per_worker": 1}))
    assert (tmp_path / "ray.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    assert (tmp_path / "ray.rejects.jsonl").read_bytes() == (tmp_path / "local.rejects.jsonl").read_bytes()
    drop = ("out", "rejects")
    assert {k: v for k, v in ray_run.items() if k not in drop} == {k: v for k, v in local.items() if k not in drop}
    # every prompt and every candidate accounted for, and the work was real: some items, all four arms answered
    assert local["prompts"] == 10 == local["items"] + local["rejected_prompts"]
    assert local["candidates"] == 40 == local["candidates_kept"] + local["candidates_rejected"]
    items = [json.loads(x) for x in (tmp_path / "local.jsonl").read_text().splitlines()]
    rejects = [json.loads(x) for x in (tmp_path / "local.rejects.jsonl").read_text().splitlines() if x]
    answered = {c["arm"] for it in items for c in it["payload"]["candidates"]} | \
        {r["task_id"] for r in rejects if "task_id" in r}
    assert answered == {"cold", "hot", "terse", "other"}
    # the runner closed its pool: no worker process is left (ray.kill is asynchronous)
    assert wait_for_no_stage_workers(local_ray) == []


def test_no_ray_process_outlives_the_module(local_ray):
    import ray

    ray.shutdown()
    stop_ray_session(local_ray)
    assert live_ray_processes(local_ray) == []
