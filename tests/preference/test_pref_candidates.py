"""`semisynth preference candidates`: prompts answered by several arms on a real vLLM engine."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from semisynth.preference.curation import Item

SAMPLE = Path(__file__).resolve().parents[2] / "semisynth" / "data" / "sample_conversations.jsonl"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}
    return subprocess.run([sys.executable, "-m", "semisynth.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=600)


@pytest.mark.slow
def test_candidates_answer_every_prompt_or_reject_it_with_a_reason(tiny_model_dir, tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    rows = [json.loads(line) for line in SAMPLE.read_text().splitlines()[:12]]
    prompts.write_text("".join(json.dumps({"text": r.get("text") or r["messages"][0]["content"]}) + "\n"
                               for r in rows))
    cfg = tmp_path / "cand.yaml"
    cfg.write_text(f"""
prompts: {prompts}
out: {tmp_path / 'items.jsonl'}
seed: 3
arms:
  - {{name: cold, backend: {{model: {tiny_model_dir}}}, temperature: 0.2, max_tokens: 16}}
  - {{name: hot, backend: {{model: {tiny_model_dir}}}, temperature: 1.2, max_tokens: 16}}
  - {{name: terse, backend: {{model: {tiny_model_dir}}}, temperature: 0.8, max_tokens: 16, system: Answer briefly.}}
""")
    res = _cli("preference", "candidates", "--config", str(cfg), cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    items = [Item.from_dict(json.loads(x)) for x in (tmp_path / "items.jsonl").read_text().splitlines()]
    rejects = [json.loads(x) for x in (tmp_path / "items.rejects.jsonl").read_text().splitlines() if x]
    # No silent loss: every prompt is an item or a reject with a reason.
    assert summary["prompts"] == 12 == len(items) + len(rejects)
    assert all(r["reason"] == "too_few_candidates" for r in rejects)
    assert items, "a tiny model at three temperatures should give distinct answers for most prompts"
    for it in items:
        assert it.kind == "preference"
        cands = it.payload["candidates"]
        assert len(cands) >= 2 and len({c["text"] for c in cands}) == len(cands)
        assert {c["arm"] for c in cands} <= {"cold", "hot", "terse"}
        assert all(c["model"] and c["sampling"]["seed"] is not None for c in cands)

    again = _cli("preference", "candidates", "--config", str(cfg), "--out", str(tmp_path / "again.jsonl"),
                 cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    # Deterministic: the same config and seed give the same items.
    assert (tmp_path / "again.jsonl").read_text() == (tmp_path / "items.jsonl").read_text()


def test_candidates_bad_arm_is_one_line_exit_2(tmp_path):
    res = _cli("preference", "candidates", "--prompts", str(SAMPLE), "--out", str(tmp_path / "x.jsonl"),
               "--arm", "oops", "--arm", "b=m", cwd=tmp_path)
    assert res.returncode == 2
    assert "NAME=MODEL" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.jsonl").exists()


def test_candidates_need_two_arms(tmp_path):
    res = _cli("preference", "candidates", "--prompts", str(SAMPLE), "--out", str(tmp_path / "x.jsonl"),
               "--arm", "a=smollm2-135m-instruct", cwd=tmp_path)
    assert res.returncode == 2 and "arms" in res.stderr and "Traceback" not in res.stderr
