"""Answer prefill and bounded redraws: the two ways generation turns more of its tokens into records.

Pins: the lead the model is handed (output tag, the seed's leading @handle/placeholder, a conversation's
first role); the chat prompt really continues that turn (real tokenizer, no end-of-turn after the lead);
the record is the whole answer, lead included; a redraw run keeps every first-draw record of a one-draw
run byte for byte, finds more, says which draw it kept in lineage, lists every draw's reason in the
ledger, counts every draw's tokens, and still accounts for each task exactly once (real vLLM, tiny model).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from semisynth.generation.generators import GenerationTask, answer_lead
from semisynth.generation.prompts import load_template
from semisynth.hashing import seed_from
from semisynth.records import Lineage, Message, Origin, Record

SAMPLE = Path(__file__).resolve().parents[1] / "semisynth" / "data" / "sample_conversations.jsonl"


def _task(seed: Record | None, template: str = "paraphrase_keep_style") -> GenerationTask:
    return GenerationTask("t", "paraphrase:keep_irregularities", "paraphrase", 0, seed, None,
                          load_template(template), None, "keep_irregularities")


def _seed(text: str | None = None, messages: list[Message] | None = None) -> Record:
    return Record.create(Origin.REAL, text=text, messages=messages, language="en", lineage=Lineage(source="x:1"))


def test_answer_lead_is_the_output_tag_then_what_the_seed_opens_with():
    assert answer_lead(_task(_seed("<HANDLE> my bag is lost"))) == "<rewrite><HANDLE>"
    assert answer_lead(_task(_seed("<HANDLE> <HANDLE> pls help"))) == "<rewrite><HANDLE> <HANDLE>"
    assert answer_lead(_task(_seed("@united @delta pls help"))) == "<rewrite>@united @delta"
    assert answer_lead(_task(_seed("my bag is lost <URL>"))) == "<rewrite>"  # only what the seed opens with
    conv = _seed(messages=[Message("user", "hi"), Message("assistant", "hello")])
    assert answer_lead(_task(conv)) == "<rewrite>customer:"
    assert answer_lead(_task(_seed(messages=[Message("assistant", "hello"), Message("user", "hi")]))) == "<rewrite>agent:"
    assert answer_lead(_task(_seed("<HANDLE> hi"), "seeded_synthetic")) == "<new><HANDLE>"
    assert answer_lead(_task(None, "pure_synthetic")) == "<message>"


def test_a_prefilled_chat_prompt_continues_the_answer_turn(tiny_model_dir):
    from transformers import AutoTokenizer

    from semisynth.backends import GenerationRequest, SamplingParams, render_with

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    params = SamplingParams(max_tokens=8)
    user = {"role": "user", "content": "Rewrite <seed>x</seed>"}
    plain = render_with(tok, GenerationRequest(params, messages=(user,)))
    led = render_with(tok, GenerationRequest(params, messages=(user, {"role": "assistant", "content": "<rewrite><HANDLE>"})))
    assert led == plain + "<rewrite><HANDLE>"  # the open assistant turn, then the lead: no end-of-turn after it


def _config(tmp: Path, model: Path, out: Path, **sampling) -> Path:
    cfg = {
        "input": {"path": str(SAMPLE), "text_field": "text", "messages_field": "messages", "limit": 16},
        "backend": {"kind": "vllm", "model": str(model)},
        "generators": [{"kind": "paraphrase", "variants": 2, "style": "keep_irregularities"}],
        # the tiny model writes gibberish: stopping at "e" gives answers of every length, and a length
        # floor then rejects some draws and keeps others
        "sampling": {"max_tokens": 24, "max_tokens_ratio": None, "temperature": 1.0, "stop": ["e"], **sampling},
        # ...and the reader's fact rules are off: gibberish keeps no seed's facts, and these tests pin the draws
        "checks": {"min_chars": 16, "min_length_ratio": 0.0, "max_length_ratio": 100.0, "language_check": False,
                   "meaning_min_similarity": 0.0, "fact_checks": False},
        "transfer": {"enabled": False},
        "out": str(out), "seed": 3, "shard_size": 8,
    }
    path = tmp / f"{out.name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _run(config: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "semisynth.cli", "generate", "--config", str(config), "--quiet"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]


def _rows(run: Path, kind: str) -> list[dict]:
    return [json.loads(line) for shard in sorted((run / kind).glob("shard-*.jsonl"))
            for line in shard.read_text().splitlines() if line.strip()]


@pytest.mark.slow
def test_redraws_keep_the_first_draw_find_more_and_account_for_every_draw(tmp_path, tiny_model_dir):
    once, thrice = tmp_path / "once", tmp_path / "thrice"
    _run(_config(tmp_path, tiny_model_dir, once, attempts=1))
    _run(_config(tmp_path, tiny_model_dir, thrice, attempts=3))
    rec1, rej1 = _rows(once, "records"), _rows(once, "rejects")
    rec3, rej3 = _rows(thrice, "records"), _rows(thrice, "rejects")
    assert rej1 and rec1  # the checks bite on the first draw, and let some through

    def same_run(r: dict) -> dict:  # the run id differs (draws are part of the config); nothing else may
        return r | {"lineage": {k: v for k, v in r["lineage"].items() if k != "run_id"}}

    first_draws = {r["lineage"]["task_id"]: same_run(r) for r in rec3 if "attempt" not in r["lineage"]}
    assert first_draws == {r["lineage"]["task_id"]: same_run(r) for r in rec1}  # draw 1 is the one-draw run
    later = [r for r in rec3 if "attempt" in r["lineage"]]
    assert later and {r["lineage"]["attempt"] for r in later} <= {2, 3}  # more kept, each says its draw
    for r in later:  # each draw has its own seed, derived from the task and the draw
        assert r["lineage"]["seed"] == seed_from(3, r["lineage"]["task_id"], r["lineage"]["attempt"])
    assert len(rec3) > len(rec1)

    tasks = {r["lineage"]["task_id"] for r in rec1} | {r["task_id"] for r in rej1}
    got = [r["lineage"]["task_id"] for r in rec3] + [r["task_id"] for r in rej3]
    assert sorted(got) == sorted(tasks)  # every task once, in the records or the ledger
    for r in rej3:
        if "draw 3 of 3" in (r.get("detail") or ""):
            assert "earlier:" in r["detail"]  # every draw's reason is in the ledger
    m1 = json.loads((once / "manifest.json").read_text())
    m3 = json.loads((thrice / "manifest.json").read_text())
    assert m3["invariant"]["holds"] and m1["invariant"]["holds"]
    redrawn = sum(m3["draws"]["redrawn_by_reason"].values())
    assert redrawn >= len(rej1) and m3["draws"]["total"] == len(tasks) + redrawn
    assert m3["tokens"]["out"] > m1["tokens"]["out"]  # every draw's tokens are counted

    again = tmp_path / "again"  # same config and seed: the same records, redraws included
    _run(_config(tmp_path, tiny_model_dir, again, attempts=3))
    assert _rows(again, "records") == rec3 and _rows(again, "rejects") == rej3


@pytest.mark.slow
def test_a_conversation_is_written_turn_by_turn_with_the_seeds_roles(tmp_path, tiny_model_dir):
    """Even a gibberish model gives the seed's turn count and roles: the roles are written for it."""
    rows = [json.loads(line) for line in SAMPLE.read_text().splitlines() if line.strip()]
    convs = tmp_path / "convs.jsonl"
    convs.write_text("".join(json.dumps(r) + "\n" for r in rows if r.get("messages"))[:20_000])
    out = tmp_path / "turns"
    cfg = yaml.safe_load(_config(tmp_path, tiny_model_dir, out, attempts=1).read_text())
    cfg["input"] = {"path": str(convs), "text_field": None, "messages_field": "messages", "limit": 12}
    cfg["generators"].append({"kind": "seeded_synthetic", "variants": 1})
    cfg["checks"] |= {"min_chars": 1, "languages": []}  # the sample's conversations are in many languages
    (tmp_path / "turns.yaml").write_text(yaml.safe_dump(cfg))
    _run(tmp_path / "turns.yaml")
    seeds = {r["id"]: r for r in _rows_file(out / "seeds.jsonl")}
    records, rejects = _rows(out, "records"), _rows(out, "rejects")
    assert len(records) + len(rejects) == len(seeds) * 3  # 2 paraphrases + 1 seeded synthetic per seed
    assert not [r for r in rejects if r["reason"] in ("not_a_conversation", "turns_changed")]
    kept_convs = [r for r in records if r.get("messages")]
    assert kept_convs  # some pass the (loose) checks
    for r in kept_convs:
        seed = seeds[r["parents"][0]]
        assert [m["role"] for m in r["messages"]] == [m["role"] for m in seed["messages"]]


def _rows_file(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_seed_ngrams_block_every_copy_and_stay_within_what_vllm_takes():
    from semisynth.generation.generators import seed_ngrams

    def words(s: str) -> int:
        return len(s.split())

    assert seed_ngrams("<HANDLE> my bag is lost", 3, words) == ("<HANDLE> my bag", "my bag is", "bag is lost")
    # runs of words every version keeps (placeholders, handles, numbers) are not avoided
    assert seed_ngrams("<HANDLE> <HANDLE> 12:30 ok now", 3, words) == ("<HANDLE> 12:30 ok", "12:30 ok now")
    assert seed_ngrams("too short", 3, words) == ()
    long = " ".join(f"w{i}" for i in range(400))
    runs = seed_ngrams(long, 3, words)
    assert len(runs) <= 60 and sum(words(r) + 1 for r in runs) <= 480
    starts = [int(r.split()[0][1:]) for r in runs]
    step = starts[1] - starts[0]
    assert step > 1 and all(b - a == step for a, b in zip(starts, starts[1:], strict=False))
    for i in range(starts[0], 400 - (3 + step - 1)):  # any copy of 3 + step - 1 words holds an avoided run
        assert any(i <= s0 and s0 + 3 <= i + 3 + step - 1 for s0 in starts)
    assert seed_ngrams("x" * 3000 + " a b", 3, len) == ()  # a run too long to pass as one phrase is left out
