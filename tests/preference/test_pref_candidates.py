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
    # quiet runs (issue 23): vLLM's chatter (a warning per float32 weight cast) is in the log beside the items
    assert "Attempted to load weight" not in res.stderr + res.stdout
    assert "Attempted to load weight" in (tmp_path / "items.engine.log").read_text()
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    items = [Item.from_dict(json.loads(x)) for x in (tmp_path / "items.jsonl").read_text().splitlines()]
    rejects = [json.loads(x) for x in (tmp_path / "items.rejects.jsonl").read_text().splitlines() if x]
    prompt_rejects = [r for r in rejects if "task_id" not in r]
    cand_rejects = [r for r in rejects if "task_id" in r]
    # No silent loss: every prompt is an item or a reject, every candidate is in an item or the ledger.
    assert summary["prompts"] == 12 == len(items) + len(prompt_rejects)
    assert summary["candidates"] == 36 == sum(len(it.payload["candidates"]) for it in items) + len(cand_rejects)
    assert all(r["reason"] and r["parents"] for r in rejects)
    assert {r["reason"] for r in prompt_rejects} <= {"too_few_candidates", "duplicate_prompt"}
    for it in items:
        assert it.kind == "preference"
        cands = it.payload["candidates"]
        assert len(cands) >= 2 and len({c["text"] for c in cands}) == len(cands)
        assert {c["arm"] for c in cands} <= {"cold", "hot", "terse"}
        assert all(c["model"] and c["sampling"]["seed"] is not None for c in cands)
        assert all(c["finish_reason"] == "stop" for c in cands)  # truncated answers are ledgered, not rated

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


class Scripted:
    """Fault injection only: a backend whose answers are written out per prompt (a test double)."""

    def __init__(self, name: str, answers: dict[str, tuple[str, str]]):
        self.model_name, self.answers, self.seeds = name, answers, {}

    def generate(self, reqs):
        from semisynth.backends import Completion

        out = []
        for r in reqs:
            prompt = r.messages[-1]["content"]
            self.seeds[prompt] = r.params.seed
            text, finish = self.answers.get(prompt, (f"{self.model_name} says: {prompt[::-1]}", "stop"))
            out.append(Completion(text, finish, 5, 5, "boom" if finish == "error" else None))
        return out

    def close(self):
        pass


def test_candidates_ledger_every_bad_answer_with_its_reason_and_seed_by_content():
    from semisynth.backends import SamplingParams
    from semisynth.preference.candidates import Arm, build_preference_items
    from semisynth.records import Record

    texts = ["fine prompt", "empty one", "cut off", "refused", "same twice", "echo please", "broken"]
    prompts = [Record.create("real", text=t, language="en") for t in texts]
    prompts.append(Record.create("real", text="fine prompt", language="en"))  # same content id as the first
    a = Scripted("a", {"empty one": ("  ", "stop"), "cut off": ("it goes on and on", "length"),
                       "refused": ("I'm sorry, I can't help with that.", "stop"),
                       "same twice": ("The Same answer", "stop"), "broken": ("", "error")})
    b = Scripted("b", {"same twice": ("the same  answer", "stop"), "echo please": ("Echo please", "stop")})
    c = Scripted("c", {"broken": ("", "error"), "refused": ("As an AI I cannot", "stop")})
    arms = [Arm(n, be, SamplingParams(32, 0.7, 0.9)) for n, be in (("a", a), ("b", b), ("c", c))]
    run = build_preference_items(prompts, arms, seed=7)
    s = run.summary()
    assert s["items"] + s["rejected_prompts"] == len(prompts) == 8
    assert s["candidates"] == 7 * 3 == s["candidates_kept"] + s["candidates_rejected"]
    why = {(r.parents[0], r.task_id): r.reason for r in run.rejects}
    pid = {p.content: p.id for p in prompts}
    assert why[(pid["empty one"], "a")] == "empty"
    assert why[(pid["cut off"], "a")] == "truncated"
    assert why[(pid["refused"], "a")] == why[(pid["refused"], "c")] == "refusal"
    assert why[(pid["same twice"], "b")] == "duplicate"  # same text as arm a after normalising
    assert why[(pid["echo please"], "b")] == "copy_of_prompt"
    assert why[(pid["broken"], "a")] == why[(pid["broken"], "c")] == "backend_error"
    assert why[(pid["refused"], None)] == why[(pid["broken"], None)] == "too_few_candidates"
    assert why[(pid["broken"], "b")] == "too_few_candidates"  # the survivor of a rejected prompt is ledgered too
    assert [r.reason for r in run.prompt_rejects].count("duplicate_prompt") == 1
    assert {it.payload["prompt_id"] for it in run.items} == {pid[t] for t in ("fine prompt", "empty one", "cut off",
                                                                              "same twice", "echo please")}
    # seeds follow the prompt's content id, not its position: reordering and cutting the list changes none
    again = Scripted("a", {})
    build_preference_items(list(reversed(prompts))[:3], [Arm("a", again, arms[0].params), arms[1]], seed=7)
    assert all(again.seeds[t] == a.seeds[t] for t in again.seeds)
    assert len({a.seeds[t] for t in texts}) == len(texts)
