"""Irregularity transfer (issue 9 section 1): deterministic, reversible from lineage, never edits protected
tokens or roles, rate-matched to the parent, never applied to the clean style; a real generate run keeps
the accounting invariant and `--no-transfer` gives exactly the undone records."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from generation.transfer import (
    TRANSFER_GENERATORS,
    Edit,
    TransferModel,
    TypoModel,
    classify_typo,
    draw_count,
    profile_text,
    undo_edits,
    undo_transfer,
    undo_transfer_record,
)
from semisynth import lexicon as lx
from semisynth.io import ColumnMapping
from semisynth.records import Lineage, Message, Origin, Record
from semisynth.seeds import load_seeds

SAMPLE = Path(__file__).resolve().parents[1] / "semisynth" / "data" / "sample_conversations.jsonl"

# A parent that has every kind of irregularity, at high rates: the transfer has plenty to put back.
MESSY = ("<HANDLE> omg i cant believe u lost my bag AGAIN!!! sooo angry rn :( dont tell me to wait, "
         "i waited 3 hrs already lol. recieve ur msg tomorow?? pls help me... thx #fail")


def _smooth(text: str) -> str:
    """A model-like clean-up (what a paraphraser does to the register)."""
    t = re.sub(r"^(?:<HANDLE>\s*)+", "", text)
    t = lx.EMOTICON.sub("", t)
    t = re.sub(r"([!?])[!?.]+", r"\1", t)
    t = re.sub(r"([A-Za-z])\1{2,}", r"\1", t)
    t = re.sub(r"(?<![\w'@#])i(?=[ ,.!?']|$)", "I", t)
    t = re.sub(r"(?m)(?:^|(?<=[.!?])\s+)([a-z])", lambda m: m.group(0)[:-1] + m.group(1).upper(), t)
    return re.sub(r"[ \t]+", " ", t).strip() or text


@pytest.fixture(scope="module")
def seeds() -> list[Record]:
    loaded = load_seeds(str(SAMPLE), ColumnMapping(text="text", messages="messages"), mask=True)
    return loaded.records


@pytest.fixture(scope="module")
def model(seeds) -> TransferModel:
    return TransferModel(seeds)


def _rec(text: str, lang: str = "en") -> Record:
    return Record.create(Origin.REAL, text=text, language=lang)


def test_same_seed_gives_the_same_bytes_and_another_seed_may_differ(model):
    parent = _rec(MESSY)
    clean = "I can not believe you lost my bag again. I am so angry. Please help me, thanks."
    a = model.apply(clean, None, parent, "en", 11)
    b = model.apply(clean, None, parent, "en", 11)
    assert a == b and a[2], "deterministic and not a no-op"
    outs = {model.apply(clean, None, parent, "en", s)[0] for s in range(20)}
    assert len(outs) > 1
    # a second model fitted on the same seeds is the same function
    assert TransferModel([parent]).apply(clean, None, parent, "en", 5) == TransferModel([parent]).apply(
        clean, None, parent, "en", 5)


def test_every_record_is_recovered_exactly_from_its_lineage(model, seeds):
    rng = random.Random(0)
    n_edited = 0
    for i, seed in enumerate(seeds):
        parent = seed if rng.random() < 0.8 else None  # some pure synthetic (corpus profile)
        if seed.messages:
            msgs = tuple(Message(m.role, _smooth(m.content)) for m in seed.messages)
            _, out_msgs, edits = model.apply(None, msgs, parent, seed.language, i)
            rec = Record.create(Origin.PARAPHRASE, messages=out_msgs, parents=(seed.id,),
                                lineage=Lineage(transfer=[e.to_dict() for e in edits]))
            clean_rec = Record.create(Origin.PARAPHRASE, messages=msgs, parents=(seed.id,))
            assert [m.role for m in out_msgs] == [m.role for m in msgs]
            assert all(e.turn is not None for e in edits)
        else:
            clean = _smooth(seed.content)
            out, _, edits = model.apply(clean, None, parent, seed.language, i)
            assert undo_edits(out, edits) == clean
            rec = Record.create(Origin.PARAPHRASE, text=out, parents=(seed.id,),
                                lineage=Lineage(transfer=[e.to_dict() for e in edits]))
            clean_rec = Record.create(Origin.PARAPHRASE, text=clean, parents=(seed.id,))
        n_edited += bool(edits)
        back = Record.from_dict(json.loads(json.dumps(rec.to_dict())))  # through the on-disk form
        assert undo_transfer(back) == clean_rec.content
        assert undo_transfer_record(back).id == clean_rec.id  # the id the untransferred record has
        assert "transfer" not in undo_transfer_record(back).lineage.to_dict()
    assert n_edited > len(seeds) // 3


def test_a_tampered_edit_log_is_refused():
    with pytest.raises(ValueError, match="does not match"):
        undo_edits("hello world", [Edit("typo", 0, "help", "hxllo")])


PROTECTED = ["42", "$12.50", "€30", "3:45pm", "2015-02-03", "12/25", "1.5", "AA1234", "US5235", "PHL", "LAX",
             "<EMAIL>", "<URL>", "<HANDLE>", "<PHONE>", "<CARD>", "@united", "#fail", "March", "Tuesday",
             "Scott", "JetBlue", "twenty", "3rd"]
_PROT = re.compile("|".join(rf"(?<![\w$€<@#]){re.escape(p)}(?![\w>])"
                           for p in sorted(PROTECTED, key=len, reverse=True)))
FILLER = ("you are going to please help me because my bag was lost and I don't know what to do thanks "
          "the flight was delayed again I am very angry people never answer the message before tonight "
          "really what a great service okay").split()


def test_protected_tokens_are_never_edited_property(model):
    rng = random.Random(1234)
    parent = _rec(MESSY + " Scott at the JetBlue desk said March")
    for trial in range(300):
        words = [rng.choice(FILLER) for _ in range(rng.randint(4, 30))]
        items = [rng.choice(PROTECTED) for _ in range(rng.randint(1, 6))]
        for it in items:
            words.insert(rng.randrange(len(words) + 1), it)
        text = "Well " + " ".join(words) + rng.choice([".", "!", "?", ""])
        if rng.random() < 0.5:
            text = text.replace(" and ", ". And ", 1)
        out, _, edits = model.apply(text, None, parent if trial % 3 else None, "en", trial)
        assert undo_edits(out, edits) == text
        # every protected item is still there, in order (transfer may add the parent's <HANDLE>, never remove)
        before, after = _PROT.findall(text), iter(_PROT.findall(out))
        assert len(before) >= len(items) and all(it in after for it in before), (text, out)
        for e in edits:
            assert not re.search(r"\d|[<>@#$€]", e.before), e
            assert e.before not in {"Scott", "JetBlue", "March", "Tuesday", "twenty"}


def test_roles_are_never_edited_and_turns_follow_their_parent_turn(model):
    parent = Record.create(Origin.REAL, messages=[Message("user", "omg sooo bad!!! u lost my bag :( i cant"),
                                                  Message("assistant", "We are sorry. Please send us a message.")],
                           language="en")
    msgs = (Message("user", "Oh, this is so bad! You lost my bag. I can not."),
            Message("assistant", "We apologise. Please send us a message."))
    _, out, edits = model.apply(None, msgs, parent, "en", 3)
    assert [m.role for m in out] == ["user", "assistant"]
    assert out[1].content == msgs[1].content, "the clean agent turn stays clean"
    assert out[0].content != msgs[0].content and {e.turn for e in edits} == {0}


def test_the_clean_style_is_never_transferred(seeds):
    m = TransferModel(seeds)
    assert not m.applies("paraphrase:clean")
    assert all(m.applies(g) for g in TRANSFER_GENERATORS)
    with pytest.raises(ValueError, match="no transfer"):
        TransferModel(seeds, generators=["paraphrase:clean"])
    from pydantic import ValidationError

    from generation.run import TransferConfig

    with pytest.raises(ValidationError, match="clean style is never transferred"):
        TransferConfig(generators=["paraphrase:clean"])


def test_stochastic_rounding_is_unbiased():
    rng = random.Random(0)
    for x in (0.0, 0.2, 0.5, 1.7, 3.25):
        mean = sum(draw_count(x, rng) for _ in range(20_000)) / 20_000
        assert abs(mean - x) < 0.03, (x, mean)
    assert draw_count(-1.0, rng) == 0


def test_transferred_rates_match_the_parents_rates_on_average(model, seeds):
    """Over a corpus, each kind's events per opportunity after transfer come back to the seeds' rate."""
    texts = [s.content for s in seeds if s.text and s.language == "en"]
    real = [profile_text(t) for t in texts]
    out = []
    for i, (s, t) in enumerate(zip([s for s in seeds if s.text and s.language == "en"], texts, strict=True)):
        clean = _smooth(t)
        out.append(profile_text(model.apply(clean, None, s, "en", i)[0]))
    for kind in ("lowercase_i", "repeated_punct", "lowercase_sentence_start"):
        r = sum(p.counts[kind] for p in real) / max(sum(p.opps[kind] for p in real), 1)
        o = sum(p.counts[kind] for p in out) / max(sum(p.opps[kind] for p in out), 1)
        assert r > 0 and abs(o - r) / r < 0.35, (kind, r, o)


@pytest.mark.parametrize(("typo", "word", "kind"), [
    ("tomorow", "tomorrow", "deletion"), ("untill", "until", "doubling"), ("teh", "the", "transposition"),
    ("thw", "the", "keyboard"), ("definately", "definitely", "phonetic"), ("goin", "going", "deletion"),
])
def test_typo_edit_types(typo, word, kind):
    assert classify_typo(typo, word) == kind


def test_generated_typos_are_real_kinds_and_not_words():
    model = TypoModel().fit(["i recieve teh mesage tomorow", "definately waitin"])
    assert model.intended("recieve") == "receive" and model.intended("tomorow") == "tomorrow"
    assert model.intended("tomorrow") is None and model.intended("Scott") is None
    rng = random.Random(0)
    for word in ("because", "airport", "waiting", "customer", "flight", "luggage"):
        for t in ("deletion", "doubling", "transposition", "keyboard", "phonetic"):
            got = model.generate(word, t, rng)
            if got is None:
                continue
            assert got != word and got not in model.vocab
            assert got[0] == word[0], "people rarely mistype the first letter"
            if t != "phonetic":
                assert classify_typo(got, word) == t, (word, t, got)
    # a word the seeds misspelt comes back with the seeds' own misspelling
    assert model.misspell("message", rng, {}) == ("mesage", "deletion")


# --- the stage and the switch ------------------------------------------------------------------------


class _ScriptedBackend:
    """Serves fixed outputs (what a paraphraser writes: the register smoothed away) so that the same
    completions go through the stage with transfer on and off. The real engine runs in the slow test."""

    model_name = "scripted"

    def __init__(self, outputs: dict[str, str]):
        self.outputs = outputs

    def generate(self, requests):
        from semisynth.backends import Completion

        return [Completion(next((v for k, v in self.outputs.items() if k in r.messages[0]["content"]), "Okay."),
                           "stop", 10, 10) for r in requests]

    def close(self) -> None:
        pass


def test_stage_with_transfer_off_writes_exactly_the_undone_records(seeds):
    from generation.checks import CheckConfig
    from generation.generators import GenerationStage, GeneratorSpec, plan_tasks
    from generation.prompts import load_template
    from semisynth.backends import SamplingParams
    from semisynth.taxonomy import load_taxonomy

    picked = [s for s in seeds if s.text and s.language == "en"][:12]
    outputs = {s.text: _smooth(s.text) + " Could you please help me with this?" for s in picked}
    specs = [GeneratorSpec(kind="paraphrase", variants=2, style="keep_irregularities"),
             GeneratorSpec(kind="paraphrase", variants=1, style="clean"),
             GeneratorSpec(kind="seeded_synthetic", variants=1, taxonomy="intents")]
    templates = {s.template_name(): load_template(s.template_name()) for s in specs}
    params = SamplingParams(max_tokens=64)
    tasks = plan_tasks(picked, specs, templates, {"intents": load_taxonomy("intents")}, params, 0)
    # meaning_drift and the reader's fact checks have their own tests; here every output is kept
    checks = CheckConfig(meaning_min_similarity=0, fact_checks=False, max_length_ratio=100.0,
                         near_copy_similarity=1.0, verbatim_min_share=1.0)
    on = GenerationStage(_ScriptedBackend(outputs), params, checks, "r", 0, TransferModel(seeds))(tasks)
    off = GenerationStage(_ScriptedBackend(outputs), params, checks, "r", 0, None)(tasks)
    assert [(r.reason, r.detail) for r in on.rejects] == []
    assert len(on.records) == len(off.records) == len(tasks)
    assert on.stats["transfer_edits"] == sum(len(r.lineage.transfer) for r in on.records) > len(tasks) // 2
    for r in on.records:
        if r.lineage.generator == "paraphrase:clean":
            assert r.lineage.transfer == ()
    undone = sorted((undo_transfer_record(r).to_dict() for r in on.records), key=lambda d: d["lineage"]["task_id"])
    assert undone == sorted((r.to_dict() for r in off.records), key=lambda d: d["lineage"]["task_id"])


def test_no_transfer_flag_and_yaml_switch():
    import argparse

    from generation.commands import _overrides, register
    from generation.run import GenerateConfig
    from semisynth.config import load_config

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    base = ["generate", "--input", str(SAMPLE), "--model", "m", "--out", "o"]
    on = load_config(GenerateConfig, None, _overrides(parser.parse_args(base)))
    off = load_config(GenerateConfig, None, _overrides(parser.parse_args(base + ["--no-transfer"])))
    assert on.transfer.enabled and not off.transfer.enabled
    assert GenerateConfig.model_validate({"input": {"path": "x"}, "backend": {"model": "m"}, "out": "o",
                                          "transfer": {"enabled": False}}).transfer.enabled is False


# --- a real run: small model, real engine --------------------------------------------------------------


def _run(tmp: Path, out: Path, model: Path, *flags: str) -> subprocess.CompletedProcess:
    cfg = {
        "input": {"path": str(SAMPLE), "text_field": "text", "messages_field": "messages", "limit": 6},
        "backend": {"kind": "vllm", "model": str(model)},
        "generators": [{"kind": "paraphrase", "variants": 1, "style": "keep_irregularities"},
                       {"kind": "paraphrase", "variants": 1, "style": "clean"},
                       {"kind": "seeded_synthetic", "variants": 1, "taxonomy": "intents"},
                       {"kind": "pure_synthetic", "variants": 1, "taxonomy": "intents", "leaves": ["praise"]}],
        "sampling": {"max_tokens": 48, "temperature": 0.7},
        "out": str(out), "seed": 3, "shard_size": 8,
    }
    path = tmp / f"{out.name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return subprocess.run([sys.executable, "-m", "semisynth.cli", "generate", "--config", str(path), "--quiet", *flags],
                          capture_output=True, text=True, timeout=1800)


def _rows(run: Path, kind: str) -> list[dict]:
    return [json.loads(x) for p in sorted((run / kind).glob("shard-*.jsonl")) for x in p.read_text().splitlines()]


@pytest.mark.slow
def test_a_real_run_keeps_the_invariant_and_every_record_undoes(tmp_path):
    from semisynth.models import prepare_packaged_model

    on = tmp_path / "on"
    res = _run(tmp_path, on, prepare_packaged_model("smollm2-135m-instruct"))
    assert res.returncode == 0, res.stderr[-3000:]
    m = json.loads((on / "manifest.json").read_text())
    assert m["invariant"]["holds"] and m["counts"]["tasks"] == 6 * 3 + 1
    assert m["counts"]["outputs"] + m["counts"]["rejected"] == m["counts"]["tasks"]
    assert m["transfer"]["enabled"] and m["transfer"]["generators"]
    recs = _rows(on, "records")
    assert recs, "the model kept nothing: the run proves nothing"
    assert m["transfer"]["edits"] == sum(len(r["lineage"].get("transfer", [])) for r in recs)
    for r in recs:
        lin = r["lineage"]
        if lin["generator"] == "paraphrase:clean":
            assert "transfer" not in lin
        assert all(set(e) >= {"kind", "position", "before", "after"} for e in lin.get("transfer", []))
        rec = Record.from_dict(r)
        assert rec.id == Record.make_id(rec.origin, rec.text, rec.messages, rec.parents)  # id covers the final text
        undone = undo_transfer_record(rec)
        assert undone.lineage.transfer == () and (undone.id == rec.id) == (not lin.get("transfer"))


# --- a transfer that writes like people (issue 20, item 5) ----------------------------------------------


def _runs(model: TransferModel, clean: str, parent: Record | None, n: int = 40):
    """(output, edits) over n seeds; every one undoes to the clean text."""
    for s in range(n):
        out, _, edits = model.apply(clean, None, parent, "en", s)
        assert undo_edits(out, edits) == clean, (clean, out)
        yield out, edits


# A long clean text: a per-word rate asks for more of each kind than a short parent has.
LONG = ("Thank you to the crew on my flight from Boston today. They were kind and helpful the whole way, the seats "
        "were clean, the food was good and the pilot kept us posted. The whole trip was a pleasure from start "
        "to finish and I would fly with them again any time.")


def test_never_adds_what_the_text_already_holds_nor_the_same_token_twice():
    parent = _rec("<HANDLE> crew was great :) #kudos")
    model = TransferModel([parent])
    clean = LONG.replace("any time.", "any time :) #kudos")
    for out, edits in _runs(model, clean, parent):
        assert out.lower().count("#kudos") == 1 and out.count(":)") == 1, out
        assert not [e for e in edits if e.kind in ("hashtag", "emoticon")], edits
    # pure synthetic (the corpus pool): what it adds is distinct and new to the text
    corpus = [_rec(t) for t in ("so happy #kudos #travel :)", "late again #fail <URL>", "ok #kudos :) :)",
                                "#fail #fail love it <URL> <URL>")]
    model = TransferModel(corpus)
    for out, edits in _runs(model, LONG + " #kudos", None, 60):
        added = [e.after.strip() for e in edits if e.kind in ("hashtag", "url", "handle", "emoticon", "emoji")]
        assert len(added) == len({a.lower() for a in added}), added
        assert "#kudos" not in [a.lower() for a in added]
        tags = [t.lower() for t in lx.HASHTAG.findall(out)]
        assert len(tags) == len(set(tags)) and out.count("<URL>") <= 1, out


def test_tags_handles_and_urls_only_where_and_as_often_as_the_parent_has_them():
    parent = _rec("<HANDLE> great crew today, thanks! #kudos #united <URL>")
    model = TransferModel([parent])
    for out, _ in _runs(model, LONG, parent):
        assert len(lx.HASHTAG.findall(out)) <= 2 and out.count("<URL>") <= 1 and out.count("<HANDLE>") <= 1, out
        assert "<URL> <URL>" not in out
        tail = out[out.index(" #") if " #" in out else len(out):]
        assert all(t in ("#kudos", "#united", "<URL>") for t in tail.split()), out  # the parent's trailing run...
        assert [t for t in tail.split()] == [t for t in ("#kudos", "#united", "<URL>") if t in tail]  # ...in order
    # hard negative: the output's own tag counts against the parent's two
    for out, _ in _runs(model, LONG + " #travel", parent):
        assert len(lx.HASHTAG.findall(out)) <= 2, out
    # an inline tag goes back on its word; it is not appended
    parent = _rec("Stuck at the gate with #United again, 3 hours now")
    model = TransferModel([parent])
    marked = [out for out, _ in _runs(model, "Stuck at the gate with United again, for 3 hours now.", parent)]
    assert all(o.count("#") <= 1 and not o.rstrip(".").endswith("#United") for o in marked)
    assert any("with #United again" in o for o in marked)
    # an inline URL has no place to go, and a parent without tags gives none
    parent = _rec("Look at <URL> this is the line at the desk #fail")
    for out, _ in _runs(TransferModel([parent]), LONG, parent):
        assert "<URL>" not in out and len(lx.HASHTAG.findall(out)) <= 1, out
    parent = _rec("<HANDLE> where is my bag, 2 days now")
    for out, _ in _runs(TransferModel([parent] + [_rec("#fail #fail #fail <URL>")] * 5), LONG, parent):
        assert not lx.HASHTAG.findall(out) and "<URL>" not in out, out


def test_caps_only_on_words_that_carry_the_voice_and_codes_are_not_shouting():
    from generation.transfer import is_shouting, learn_codes

    for code in ("LAX", "SEA", "USA", "TSA", "UA234", "SFO", "OMG", "LOL", "AA"):
        assert not is_shouting(code), code
    for shout in ("AGAIN", "NEVER", "KIDS", "WORST", "NOT"):
        assert is_shouting(shout), shout
    assert profile_text("Flying LAX to SEA on UA234, the TSA line at SFO, OMG").counts["allcaps"] == 0
    assert profile_text("lost my bag AGAIN, NEVER flying with you").pool("allcaps") == ["again", "never"]
    assert learn_codes(["PEN to MEN", "PEN again", "my pen"]) == frozenset({"pen"})  # a corpus's own code
    # a parent whose only capitals are codes: no caps edit, ever
    parent = _rec("<HANDLE> flight UA234 from LAX to SEA, then JFK. TSA line at DEN was long")
    model = TransferModel([parent])
    for _, edits in _runs(model, "My flight UA234 from LAX to SEA was slow and the line was long again.", parent):
        assert not [e for e in edits if e.kind == "allcaps"], edits
    # a shouting parent: caps on the word it shouted or a word people shout, never an ordinary word or a code
    parent = _rec("lost my bag AGAIN at LAX. NEVER again!! the WORST")
    model = TransferModel([parent])
    clean = "They lost my luggage again at LAX on flight UA234. The service there is the worst and I never fly there."
    caps = [e for _, edits in _runs(model, clean, parent, 60) for e in edits if e.kind == "allcaps"]
    assert caps and {e.before for e in caps} <= {"again", "never", "worst"}, caps


def test_punctuation_runs_never_change_a_sentences_type():
    from generation.transfer import keeps_sentence_type

    assert keeps_sentence_type("?", "??") and keeps_sentence_type("?", "?!")
    assert not keeps_sentence_type(".", "??") and not keeps_sentence_type("", "?!") and not keeps_sentence_type("!", "!?")
    assert keeps_sentence_type("!", "!!!") and keeps_sentence_type(".", "....") and not keeps_sentence_type(".", ",,")
    parent = _rec("where is my bag?? why?? WHY??? nobody answers?? ok!!")
    model = TransferModel([parent])
    statements = "My bag did not arrive. I waited at the belt for an hour. Nobody from the desk came to help me."
    for out, _ in _runs(model, statements, parent, 60):
        assert "?" not in out, out
    question = "My bag did not arrive. Where is it? Nobody from the desk came to help me!"
    runs = [e for _, edits in _runs(model, question, parent, 60) for e in edits if e.kind == "repeated_punct"]
    assert runs
    for e in runs:
        assert keeps_sentence_type(e.before, e.after), e
        assert ("?" in e.after) == (e.before == "?"), e


def test_slang_is_only_a_swap_of_a_word_the_text_has():
    parent = _rec("lol wtf u r late AGAIN lol omg smh pls answer u guys lol")
    model = TransferModel([parent])
    for out, edits in _runs(model, "The flight was on time and the crew were kind.", parent):
        assert not [e for e in edits if e.kind == "slang"], edits
        assert not re.search(r"\b(?:lol|wtf|omg|smh)\b", out, re.I), out
    swaps = []
    for _, edits in _runs(model, "Are you going to answer me? Please tell me, because no bags came.", parent, 60):
        swaps += [e for e in edits if e.kind == "slang"]
    assert swaps and all(e.before and e.before.lower() in lx.SLANG_FOR for e in swaps), swaps
    assert not [e for e in swaps if e.before.lower() == "no"], "'no bags' is no 'nope bags'"


def test_a_transfer_that_rebuilds_a_short_seed_steps_back_and_the_check_sees_it():
    from generation.checks import CheckConfig, check_output
    from generation.transfer import rebuilds_seed
    from semisynth.backends import Completion

    parent = _rec("<HANDLE> thanks for nothing!!")
    model = TransferModel([parent])
    clean = "Thanks for nothing!"
    assert rebuilds_seed(clean, parent.text) is None
    for out, _ in _runs(model, clean, parent):
        assert rebuilds_seed(out, parent.text) is None, out
        assert out != parent.text
    # an output that was a near copy before the transfer is the output checks' to reject, not the transfer's
    near = "<HANDLE> thanks for nothing!"
    assert rebuilds_seed(near, parent.text) is not None
    assert any(model.apply(near, None, parent, "en", s)[2] for s in range(20))
    # the same rule as the output checks: copy, near copy, verbatim inside
    cfg = CheckConfig()
    pairs = [("<HANDLE> THANKS for nothing!!", parent.text), ("thanks for nothing", parent.text),
             ("so my bag went to Denver and I went to Boston", "my bag went to Denver and I went to Boston"),
             ("Well, my bag went to Denver and I went to Boston, and nobody cares at all",
              "my bag went to Denver and I went to Boston"),
             ("They sent my suitcase to Denver", "my bag went to Denver and I went to Boston")]
    for text, seed in pairs:
        reason = check_output(Completion(text, "stop", 1, 1), text, seed, None, cfg, length_relative_to_seed=False,
                              require_same_language=False)[0]
        assert (rebuilds_seed(text, seed) is not None) == (reason in ("copy_of_seed", "near_copy_of_seed")), text
