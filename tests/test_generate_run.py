"""`semisynth generate` end to end on a real vLLM engine with the session's tiny model.

Pins: lineage on every record, the accounting invariant, determinism (same config + seed, same
records, with prefix caching and the backend's reordering on), resume after kill -9 with nothing lost
or duplicated, a token budget that stops and resumes, per-task max_tokens from the seed's length, and
stop strings.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

SAMPLE = Path(__file__).resolve().parents[1] / "semisynth" / "data" / "sample_conversations.jsonl"
pytestmark = pytest.mark.slow


def _config(tmp: Path, model: Path, out: Path, **extra) -> Path:
    cfg = {
        "input": {"path": str(SAMPLE), "text_field": "text", "messages_field": "messages", "limit": 24,
                  "keep_fields": ["source"]},
        "backend": {"kind": "vllm", "model": str(model)},
        "generators": [
            {"kind": "paraphrase", "variants": 2, "style": "keep_irregularities"},
            {"kind": "seeded_synthetic", "variants": 1, "taxonomy": "intents"},
            {"kind": "pure_synthetic", "variants": 1, "taxonomy": "intents", "leaves": ["baggage.lost", "praise"]},
        ],
        # length-aware: each task's max_tokens is 0.5 x its seed's tokens within [8, 24]
        "sampling": {"max_tokens": 24, "max_tokens_ratio": 0.5, "max_tokens_floor": 8, "temperature": 0.9},
        "out": str(out),
        "seed": 7,
        "shard_size": 8,
    }
    cfg.update(extra)
    path = tmp / f"{out.name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _generate(config: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "semisynth.cli", "generate", "--config", str(config), "--quiet", *extra],
                          capture_output=True, text=True, timeout=600)


def _rows(run: Path, kind: str) -> list[dict]:
    rows = []
    for shard in sorted((run / kind).glob("shard-*.jsonl")):
        rows += [json.loads(line) for line in shard.read_text().splitlines() if line.strip()]
    return rows


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory, tiny_model_dir):
    tmp = tmp_path_factory.mktemp("gen")
    out = tmp / "reference"
    res = _generate(_config(tmp, tiny_model_dir, out))
    assert res.returncode == 0, res.stderr[-3000:]
    return tmp, out


def test_every_task_is_accounted_for_exactly_once(reference_run):
    _, run = reference_run
    manifest = json.loads((run / "manifest.json").read_text())
    c = manifest["counts"]
    # 24 seeds x (2 paraphrases + 1 seeded) + 2 leaves x 1 pure synthetic
    assert c["tasks"] == 24 * 3 + 2
    assert c["outputs"] + c["rejected"] == c["tasks"]
    assert manifest["invariant"]["holds"] and manifest["invariant"]["tasks"]["missing"] == 0
    task_ids = [r["lineage"]["task_id"] for r in _rows(run, "records")] + [r["task_id"] for r in _rows(run, "rejects")]
    assert len(task_ids) == len(set(task_ids)) == c["tasks"]
    assert sum(c["rejected_by_reason"].values()) == c["rejected"]
    assert manifest["tokens"]["in"] > 0 and manifest["tokens"]["out"] > 0
    assert c["input_rows"] == c["seeds"] + sum(c["seed_rejects"].values())


def test_records_carry_lineage_back_to_their_seed(reference_run):
    _, run = reference_run
    seeds = {json.loads(line)["id"] for line in (run / "seeds.jsonl").read_text().splitlines()}
    rows = _rows(run, "records") + _rows(run, "rejects")
    assert rows
    for r in _rows(run, "records"):
        lin = r["lineage"]
        assert {"generator", "template", "template_hash", "model", "sampling", "seed", "run_id", "task_id"} <= lin.keys()
        assert r["origin"] in ("paraphrase", "synthetic")
        if lin["generator"] == "pure_synthetic":
            assert r["parents"] == [] and lin["taxonomy_leaf"] in ("baggage.lost", "praise")
        else:
            assert len(r["parents"]) == 1 and r["parents"][0] in seeds
    for r in _rows(run, "rejects"):
        assert r["reason"] and all(p in seeds for p in r["parents"])


def test_same_config_and_seed_give_the_same_records(reference_run, tiny_model_dir):
    tmp, ref = reference_run
    again = tmp / "again"
    assert _generate(_config(tmp, tiny_model_dir, again)).returncode == 0
    assert _rows(again, "records") == _rows(ref, "records")
    assert _rows(again, "rejects") == _rows(ref, "rejects")


def test_resume_after_kill_9_loses_and_duplicates_nothing(reference_run, tiny_model_dir):
    tmp, ref = reference_run
    out = tmp / "killed"
    cfg = _config(tmp, tiny_model_dir, out)
    proc = subprocess.Popen([sys.executable, "-m", "semisynth.cli", "generate", "--config", str(cfg), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and len(list((out / "done").glob("*.json"))) < 3:  # glob of a missing dir: []
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list((out / "done").glob("*.json")))
    assert 0 < done_before < 10, "the kill should land mid-run"
    # what a writer killed inside atomic_open leaves (the kill above may or may not land mid-write): swept on rerun
    (out / "records" / ".shard-00009.jsonl.k1lled.tmp").write_text("{half a rec")
    res = _generate(cfg)
    assert res.returncode == 0, res.stderr[-3000:]
    assert _rows(out, "records") == _rows(ref, "records")
    assert _rows(out, "rejects") == _rows(ref, "rejects")
    assert not list(out.rglob("*.tmp"))


def test_token_budget_stops_cleanly_and_resumes(reference_run, tiny_model_dir):
    tmp, ref = reference_run
    out = tmp / "budget"
    cfg = _config(tmp, tiny_model_dir, out, token_budget=2000)
    res = _generate(cfg)
    assert res.returncode == 0, res.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"].startswith("stopped: token_budget")
    assert 0 < manifest["shards"]["done"] < manifest["shards"]["total"]
    res = _generate(cfg, "--token-budget", "100000000")
    assert res.returncode == 0, res.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["invariant"]["holds"]
    assert _rows(out, "records") == _rows(ref, "records")


def test_rerun_into_a_dir_of_another_config_is_refused(reference_run, tiny_model_dir):
    tmp, ref = reference_run
    cfg = _config(tmp, tiny_model_dir, ref, seed=8)
    res = _generate(cfg)
    assert res.returncode == 2 and "different config or seed" in res.stderr


def _seed_texts(run: Path) -> dict[str, str]:
    from semisynth.generation.generators import conversation_to_text
    from semisynth.generation.prompts import neutralise_seed
    from semisynth.records import Message

    out = {}
    for line in (run / "seeds.jsonl").read_text().splitlines():
        d = json.loads(line)
        text = conversation_to_text([Message(m["role"], m["content"]) for m in d["messages"]]) if d.get("messages") \
            else d["text"]
        out[d["id"]] = neutralise_seed(text)
    return out


def test_max_tokens_follow_each_seeds_length_within_floor_and_cap(reference_run, tiny_model_dir):
    """0.5 x the seed's tokens, at least 8, at most 24: read back from what the engine really spent
    (a truncated reject hit exactly its max_tokens; a record's lineage states it)."""
    from transformers import AutoTokenizer

    _, run = reference_run
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    seeds = _seed_texts(run)

    def expected(seed_id: str) -> int:
        return max(8, min(24, math.ceil(0.5 * len(tok.encode(seeds[seed_id], add_special_tokens=False)))))

    got = []
    for r in _rows(run, "rejects"):
        if r["reason"] == "truncated" and r["parents"]:
            spent = int(re.search(r"after (\d+) tokens", r["detail"]).group(1))
            got.append((spent, expected(r["parents"][0])))
    for r in _rows(run, "records"):
        if r["parents"]:
            got.append((r["lineage"]["sampling"]["max_tokens"], expected(r["parents"][0])))
    assert len(got) > 20
    assert all(a == b for a, b in got), [g for g in got if g[0] != g[1]][:5]
    assert len({b for _, b in got}) >= 3  # the budget really varies with the seed


def test_output_budget_floor_cap_ratio_and_default_stops():
    from semisynth.generation.generators import OutputBudget
    from semisynth.generation.prompts import load_template
    from semisynth.generation.run import SamplingConfig

    b = OutputBudget(ratio=2.0, floor=32)
    assert [b.max_tokens(96, n) for n in (0, 10, 16, 30, 48, 500)] == [32, 32, 32, 60, 96, 96]
    assert b.max_tokens(24, 3) == 24  # a floor above the cap yields to the cap
    assert OutputBudget(ratio=None).max_tokens(96, 10) == 96 and b.max_tokens(96, None) == 96
    keep = load_template("paraphrase_keep_style")
    assert b.stops(keep, "one line, ends here\n") == ("</", "\n")  # a one-line seed: one line back
    assert b.stops(keep, "customer: hi\nagent: hello") == ("</", "\n\n")  # turns/lines: a blank line
    assert b.stops(keep, "see <b>this</b>") == ("</rewrite>", "\n")  # the seed's own closing tags survive
    assert OutputBudget(stop=("###",)).stops(keep, "x") == ("###",)
    assert keep.unwrap("Sure! <rewrite>\nhi  there\n</rewrite> bye") == "\nhi  there\n"
    assert keep.unwrap("no tags at all") == "no tags at all"
    with pytest.raises(ValueError, match="empty stop string"):
        SamplingConfig(stop=["</x>", ""])
    assert SamplingConfig(stop=[]).budget().stop == ()


def test_stop_strings_cut_outputs_and_stay_in_lineage(tmp_path, tiny_model_dir):
    """A configured stop string ends every output that reaches it: finish_reason 'stop', the text
    cut before it, recorded in lineage. (The tiny model is gibberish: the stop is a common letter.)"""
    out = tmp_path / "stops"
    cfg = _config(tmp_path, tiny_model_dir, out, generators=[{"kind": "paraphrase", "variants": 1}],
                  sampling={"max_tokens": 24, "max_tokens_ratio": None, "stop": ["e"], "temperature": 0.9},
                  checks={"min_chars": 1, "min_length_ratio": 0.0, "language_check": False,
                          "meaning_min_similarity": 0.0},
                  transfer={"enabled": False})  # transfer may add letters back; this pins the engine's cut
    res = _generate(cfg)
    assert res.returncode == 0, res.stderr[-3000:]
    records, rejects = _rows(out, "records"), _rows(out, "rejects")
    assert sum(r["reason"] == "truncated" for r in rejects) < len(records + rejects) / 2
    for r in records:
        assert r["lineage"]["sampling"]["stop"] == ["e"] and "e" not in r["text"]
