"""A kept record keeps its seed's facts and reads as a message: each reader rule, with the hard negatives it must
let through (a fact said another way, a seed that has the same oddity), and the stage judging the final text."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from semisynth.backends import Completion, SamplingParams
from semisynth.generation.checks import CheckConfig
from semisynth.generation.facts import closest, codes, fact_change, form_defect, number_words, numbers
from semisynth.generation.generators import GenerationStage, _continue
from semisynth.generation.prompts import load_template
from semisynth.generation.tasks import GeneratorSpec, plan_tasks
from semisynth.records import Origin, Record
from semisynth.taxonomy import load_taxonomy

# (seed, record, reason or None): the issue's own examples first, then hard negatives
FACTS = [
    ("<HANDLE> on hold for 75 minutes", "<HANDLE> waited on hold 7.5 hours", "number_changed"),
    ("<HANDLE> delayed by 7 hours", "<HANDLE> we were held up 9 hours", "number_changed"),
    ("<HANDLE> delayed by 7 hours", "<HANDLE> held up for hours", "number_changed"),
    ("<HANDLE> bag is missing", "<HANDLE> my 2 bags are missing", "number_changed"),
    ("<HANDLE> two bags lost", "<HANDLE> 2 bags went missing", None),  # the same number, in digits
    ("<HANDLE> it cost $1,000 to rebook", "<HANDLE> rebooking set me back $1000", None),
    ("<HANDLE> stuck in EWR", "<HANDLE> stuck in China", "code_changed"),
    ("<HANDLE> flight UA234 is late", "<HANDLE> my flight is late", "code_changed"),
    ("<HANDLE> flight UA234 is late", "<HANDLE> ua234 runs late", None),  # case is style, not a fact
    ("<HANDLE> the 6AM flight", "<HANDLE> that early 6am flight", None),  # a time, not a code
    ("<HANDLE> bag lost pls help", "<HANDLE> lost my bag, help pls", None),
    ("<HANDLE> does anyone at JetBlue have a clue?", "<HANDLE> does anyone at JetDBA have a clue?", "name_changed"),
    ("<HANDLE> ask for Stacey at the desk", "<HANDLE> ask at the desk", "name_changed"),
    ("<HANDLE> stuck at the gate", "<HANDLE> stuck at the gate in Dallas", "name_changed"),
    ("<HANDLE> why is it that Sundays my flight to Chicago is late?", "<HANDLE> how come every Sunday my Chicago "
     "flight is late?", None),  # an inflected name is the same name
    ("<HANDLE> I didn't Cancelled Flight my flight", "<HANDLE> I did not cancel my flight", None),  # corpus title case
    ("<HANDLE> get me home tonight instead of tomorrow", "<HANDLE> get me home tomorrow", "time_changed"),
    ("<HANDLE> last month my flight was cancelled", "<HANDLE> in January my flight was cancelled", "time_changed"),
    ("<HANDLE> every Sunday my flight is late", "<HANDLE> on Sundays my flight is late", None),
    ("<HANDLE> may I change seats on Wed", "<HANDLE> can I change seats on Wed", None),  # "may" is no month
    ("<HANDLE> thanks <URL>", "<HANDLE> thank you", "placeholder_changed"),
    ("<HANDLE> thanks", "<HANDLE> <HANDLE> thank you", "placeholder_changed"),
    ("Is there a way I can get a record of all the flights I've taken?",
     "I have checked all the flights you've taken.", "sentence_type_changed"),
    ("<HANDLE> my flight got cancelled how about a voucher", "<HANDLE> my flight is cancelled. How about a voucher?", None),
    ("<HANDLE> can you help me?", "<HANDLE> could you help me out?", None),
    ("<HANDLE> my bag did not arrive", "<HANDLE> my bag arrived", "negation_changed"),
    ("<HANDLE> my bag did not arrive", "<HANDLE> my bag never showed up", None),
    ("<HANDLE> bag didnt arrive", "<HANDLE> my bag wasn't there", None),  # tweet spelling of n't
    ("We would like an apology and a full refund", "i'm going to give you a full refund", "speaker_changed"),
    ("<HANDLE> I lost my bag", "<HANDLE> a bag was lost", "speaker_changed"),
    ("<HANDLE> can u check my seat", "<HANDLE> could you look at my seat", None),  # u is you
    ("<HANDLE> great crew today", "<HANDLE> lovely crew today", None),
    ("<HANDLE> it's the poor service I have a problem with", "<HANDLE> my problem is with your poor service", None),
    ("<HANDLE> we want a refund", "<HANDLE> we will refund you in full", "speaker_changed"),
    ("<HANDLE> 2 hour delay and you charge me for beer? Nah, I'm good.", "<HANDLE> 2 hours late and u want me to "
     "pay for beer? No thanks.", None),  # nah is a no
    ("<HANDLE> upgrade to 1st class, only 1 flight, 6 months ago", "<HANDLE> first class upgrade, only one flight, "
     "six months back", None),  # number words keep a number...
    ("<HANDLE> one of us got a seat", "<HANDLE> 1 of us got a seat", None),
    ("<HANDLE> one of us got a seat", "<HANDLE> 2 of us got a seat", "number_changed"),  # ...and never add one
]


@pytest.mark.parametrize(("seed", "record", "reason"), FACTS)
def test_a_paraphrase_keeps_its_seeds_facts(seed, record, reason):
    found = fact_change(seed, record)
    assert (found[0] if found else None) == reason, found
    if found:
        assert found[1]  # the detail names the fact


def test_fact_details_name_the_fact():
    assert fact_change("on hold 75 min", "on hold 7.5 min") == ("number_changed", "drops 75; adds 7.5")
    assert fact_change("stuck in EWR", "stuck in JFK") == ("code_changed", "drops EWR; adds JFK")


def test_person_negation_and_questions_are_english_rules():
    assert fact_change("je n'ai pas mon sac ?", "mon sac est là", "fr") is None
    assert fact_change("tengo 2 maletas", "tengo 3 maletas", "es")[0] == "number_changed"  # numbers: any language


def test_numbers_and_codes_read_as_a_reader_would():
    assert numbers("flight at 6AM, 2 bags, two kids, one of us, 1,000 miles") == {"6", "2", "1000"}
    assert number_words("two kids, one of us, the first time") == {"2", "1"}
    assert codes("UA234 from EWR to LAX at 6AM, 2nd time, 4hrs, OMG THE") == {"UA234", "EWR", "LAX"}


SEED = "<HANDLE> thanks a lot for the help"


@pytest.mark.parametrize(("record", "reason"), [
    ("<HANDLE>", "nothing_said"),
    ("<HANDLE> <URL> !!", "nothing_said"),
    ("<HANDLE>thanks a lot", "placeholder_glued"),
    ("thanks<HANDLE> a lot", "placeholder_glued"),
    ("thanks a lot <END>", "invented_token"),
    ("A <agent:< thanks a lot", "invented_token"),
    ("<1K> for 1K thanks a lot", "invented_token"),
    ("<#Title> <#Text>: thanks a lot", "invented_token"),
    ("<HANDLE_A> thanks a lot", "invented_token"),
    ("thanks </s>", "invented_token"),
    ("Dear [Customer_Name], thanks", "invented_token"),
    ("thanks {name} for the help", "invented_token"),
    ("thanks a lot #kudos #kudos", "token_repeated"),
    ("<HANDLE> thanks a lot <HANDLE>", "token_repeated"),
    ("agent: thanks for the help", "role_prefix"),
    ("thanks a lot\ncustomer: you helped", "role_prefix"),
    ("the customer thanks the airline for the help", "narrates"),
    ("thanks to the gate agent for the help", None),
    ("thanks thanks thanks thanks for the help", "repetition_loop"),
    ("so much help so much help so much help", "repetition_loop"),
    ("<HANDLE> 电话", "wrong_language"),  # too short for a language detector, not for its script
    ("<HANDLE> спасибо for the help", "wrong_language"),
    ("<HANDLE> merci beaucoup for the help, ça va", None),  # accents are Latin letters
    ("<HANDLE> thank you so much for helping", None),
    ("<HANDLE>, thanks!! :)", None),  # punctuation after a placeholder is fine
    ("<HANDLE> thx for the help <3", None),  # an emoticon is not a token
])
def test_a_record_is_a_message_not_machinery(record, reason):
    found = form_defect(record, SEED)
    assert (found[0] if found else None) == reason, found


def test_what_the_seed_has_is_never_a_form_defect():
    assert form_defect("<HANDLE> <URL>", "<HANDLE> <URL>") is None
    assert form_defect("agent: we are on it", "agent: sorry about that") is None
    assert form_defect("no no no no way", "no no no no, not again") is None
    assert form_defect("the customer is always right, ha", "the customer is always right") is None
    assert form_defect("[EXT] your booking", "[EXT] booking ref") is None
    assert form_defect("<HANDLE> <HANDLE> thx both", "<HANDLE> <HANDLE> thanks to you both") is None
    assert form_defect("привет, my bag", "привет! where is my bag") is None  # the seed writes Cyrillic too
    # the masker's own placeholders are how seeds write handles and links: a new message may use them too
    assert form_defect("<HANDLE> my bag is lost, see <URL>", None) is None
    assert form_defect("<HANDLE> my bag is lost <MESSAGE>", None)[0] == "invented_token"
    assert form_defect("<HANDLE>'s crew rocks", SEED) is None  # a possessive is not glued


def test_closest_finds_a_reworded_example():
    sim, near = closest("Is UA 234 delayed?", ["Is UA 234 delayed??", "I need to change my name."])
    assert sim > 0.9 and near == "Is UA 234 delayed??"
    assert closest("my bag never came off the belt at lax", ["Is UA 234 delayed?"])[0] < 0.5


def test_the_lead_keeps_its_space_before_the_models_first_word():
    assert _continue("<rewrite><HANDLE>", "thanks a lot") == "<rewrite><HANDLE> thanks a lot"
    assert _continue("<rewrite>@united", "thanks") == "<rewrite>@united thanks"
    assert _continue("<rewrite><HANDLE>", " thanks") == "<rewrite><HANDLE> thanks"
    assert _continue("<rewrite><HANDLE>", "'s crew") == "<rewrite><HANDLE>'s crew"
    assert _continue("<rewrite>customer:", "hi") == "<rewrite>customer:hi"  # a role lead is parsed, not glued
    assert _continue("<rewrite>", "hi") == "<rewrite>hi"


@dataclass
class _ScriptedBackend:
    """Fault injection: the 'model' writes what the test says for each seed."""

    outputs: dict[str, str]
    model_name: str = "scripted"

    def generate(self, requests):
        out = []
        for r in requests:
            prompt = r.messages[0]["content"]
            out.append(Completion(next((v for k, v in self.outputs.items() if k in prompt), "ok"), "stop", 10, 10))
        return out

    def close(self) -> None:
        pass


def _run(outputs: dict[str, str], seeds: list[Record], specs: list[GeneratorSpec], checks: CheckConfig,
         transfer=None, attempts: int = 1):
    templates = {s.template_name(): load_template(s.template_name()) for s in specs}
    params = SamplingParams(max_tokens=32)
    tasks = plan_tasks(seeds, specs, templates, {"intents": load_taxonomy("intents")}, params, 0)
    stage = GenerationStage(_ScriptedBackend(outputs), params, checks, "run", 0, transfer=transfer,
                            attempts=attempts)
    result = stage(tasks)
    assert len(result.records) + len(result.rejects) == len(tasks)  # every task accounted for
    return tasks, result


NO_MEANING = CheckConfig(meaning_min_similarity=0)


def test_the_stage_rejects_changed_facts_with_the_fact_in_the_detail():
    seeds = [Record.create(Origin.REAL, text=t, language="en") for t in
             ("<HANDLE> on hold for 75 minutes now", "<HANDLE> where is my bag? been 3 days")]
    outputs = {"75 minutes": "<HANDLE> waiting on hold for 7.5 hours now",
               "where is my bag": "<HANDLE> my bag has been gone for three days."}
    _, result = _run(outputs, seeds, [GeneratorSpec(kind="paraphrase", variants=1, style="clean")], NO_MEANING)
    got = {r.parents[0]: (r.reason, r.detail) for r in result.rejects}
    assert got[seeds[0].id] == ("number_changed", "drops 75; adds 7.5")
    assert got[seeds[1].id][0] == "sentence_type_changed"
    off = _run(outputs, seeds, [GeneratorSpec(kind="paraphrase", variants=1, style="clean")],
               CheckConfig(meaning_min_similarity=0, fact_checks=False))[1]
    assert len(off.records) == 2


def test_synthetic_records_may_not_reword_their_seed_or_return_the_prompts_examples():
    seed = Record.create(Origin.REAL, text="<HANDLE> my bag never arrived in denver, any news?", language="en")
    reword = "<HANDLE> my luggage never got to denver, any news??"
    spec = GeneratorSpec(kind="seeded_synthetic", variants=1, taxonomy="intents")
    tasks, result = _run({"my bag never arrived": reword}, [seed], [spec], NO_MEANING)
    assert [r.reason for r in result.rejects] == ["reword_of_seed"]
    new = "<HANDLE> can i bring my guitar on board as a carry on?"
    assert len(_run({"my bag never arrived": new}, [seed], [spec], NO_MEANING)[1].records) == 1
    pure = GeneratorSpec(kind="pure_synthetic", variants=1, taxonomy="intents")
    tasks = plan_tasks([seed], [pure], {pure.template_name(): load_template(pure.template_name())},
                       {"intents": load_taxonomy("intents")}, SamplingParams(max_tokens=32), 0)
    # every leaf's task answers with the leaf's own example (or its definition): all are rejected
    outputs = {t.leaf.definition: (t.leaf.examples or (t.leaf.definition,))[0].rstrip(".?") for t in tasks}
    _, result = _run(outputs, [seed], [pure], NO_MEANING)
    assert len(tasks) > 3 and not result.records
    assert {r.reason for r in result.rejects} == {"copies_prompt_example"}


def test_a_seed_in_a_language_the_model_cannot_write_is_never_sent():
    es = Record.create(Origin.REAL, text="mi vuelo fue cancelado y nadie me ayuda en el mostrador del aeropuerto",
                       language="es")
    short = Record.create(Origin.REAL, text="<HANDLE> gracias!!", language="ro")  # too short to tell: tried
    sent: list[str] = []

    class Counting(_ScriptedBackend):
        def generate(self, requests):
            sent.extend(r.messages[0]["content"] for r in requests)
            return super().generate(requests)

    spec = GeneratorSpec(kind="paraphrase", variants=1, style="clean")
    templates = {spec.template_name(): load_template(spec.template_name())}
    tasks = plan_tasks([es, short], [spec], templates, {}, SamplingParams(max_tokens=32), 0)
    result = GenerationStage(Counting({}), SamplingParams(max_tokens=32), NO_MEANING, "run", 0)(tasks)
    rej = {r.parents[0]: r for r in result.rejects}
    assert rej[es.id].reason == "unsupported_language" and "es" in rej[es.id].detail
    assert not any("vuelo" in p for p in sent) and any("gracias" in p for p in sent)
    everyone = GenerationStage(Counting({}), SamplingParams(max_tokens=32), CheckConfig(meaning_min_similarity=0,
                               languages=()), "run", 0)(tasks)
    assert "unsupported_language" not in {r.reason for r in everyone.rejects}


class _RebuildSeed:
    """Fault injection at the transfer seam: a transfer that turns the paraphrase back into its seed."""

    def applies(self, generator: str) -> bool:
        return True

    def apply(self, text, messages, parent, language, rng_seed):
        from semisynth.generation.transfer.edits import Edit

        return parent.content, None, (Edit("rebuild", 0, text, parent.content),)


def test_the_checks_judge_the_text_after_the_transfer():
    seed = Record.create(Origin.REAL, text="<HANDLE> my bag never showed up at the belt in denver", language="en")
    outputs = {"my bag never showed": "<HANDLE> the belt in denver never gave me my bag"}
    spec = GeneratorSpec(kind="paraphrase", variants=1, style="keep_irregularities")
    _, plain = _run(outputs, [seed], [spec], NO_MEANING)
    assert len(plain.records) == 1
    _, result = _run(outputs, [seed], [spec], NO_MEANING, transfer=_RebuildSeed())
    assert [r.reason for r in result.rejects] == ["copy_of_seed"]
    assert "after the irregularity transfer" in result.rejects[0].detail
