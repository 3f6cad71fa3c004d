"""Consensus, escalation rules and TRL-format exports, on annotations with known truth (no server)."""

from __future__ import annotations

import json

import pytest

from semisynth.errors import UserError
from semisynth.preference.consensus import Policy, resolve
from semisynth.preference.curation import Annotation, Item
from semisynth.preference.export import export


def _ranked(best: str, conf: int = 4) -> dict:
    other = "response_2" if best == "response_1" else "response_1"
    return {"verdict": "ranked", "ranking": [{"value": best, "rank": 1}, {"value": other, "rank": 2}],
            "confidence": conf}


def _setup(make_pref_items):
    items = {it.id: it for it in make_pref_items(6)}
    ids = list(items)
    anns = []
    for u in ("a", "b", "c"):
        anns.append(Annotation(ids[0], u, _ranked("response_1")))                  # unanimous
        anns.append(Annotation(ids[1], u, _ranked("response_2" if u != "c" else "response_1")))  # 2 vs 1
        anns.append(Annotation(ids[2], u, {"verdict": "tie", "confidence": 4}))    # tie
        anns.append(Annotation(ids[3], u, {"verdict": "both_bad", "confidence": 4}))
        anns.append(Annotation(ids[4], u, _ranked("response_1", conf=1)))          # low confidence
    return items, ids, anns


def test_resolution_rules_consensus_tie_and_escalation(make_items):
    items, ids, anns = _setup(make_items)
    res = resolve(items, anns, Policy())
    assert res[ids[0]].status == "consensus" and res[ids[0]].answer == "best:response_1"
    assert res[ids[1]].status == "consensus" and res[ids[1]].agreement == pytest.approx(2 / 3, abs=1e-3)
    strict = resolve(items, anns, Policy(max_disagreement=0.2))
    assert strict[ids[1]].status == "escalated" and "disagreement" in strict[ids[1]].reasons
    assert res[ids[2]].answer == "tie" and res[ids[3]].answer == "both_bad"
    assert res[ids[4]].status == "escalated" and res[ids[4]].reasons == ["low_confidence"]
    assert res[ids[5]].status == "unresolved"
    # the expert's answer wins over the raters
    res = resolve(items, anns, Policy(max_disagreement=0.2), [Annotation(ids[1], "expert", _ranked("response_1"))])
    assert res[ids[1]].status == "expert" and res[ids[1]].answer == "best:response_1"


def test_failed_gold_raters_are_not_counted(make_items):
    items, ids, anns = _setup(make_items)
    gold = [Item(f"g{i}", "preference", dict(items[ids[0]].fields), payload=items[ids[0]].payload,
                 gold="best:response_1") for i in range(3)]
    items.update({g.id: g for g in gold})
    anns = [a for a in anns if a.item_id != ids[0]]
    anns += [Annotation(g.id, u, _ranked("response_1" if u != "c" else "response_2")) for g in gold for u in "abc"]
    anns += [Annotation(ids[0], "a", _ranked("response_1")), Annotation(ids[0], "c", _ranked("response_2"))]
    res = resolve(items, anns, Policy())
    assert res[ids[0]].status == "escalated" and "failed_gold" in res[ids[0]].reasons
    assert "g0" not in res


def test_low_resource_synthetic_items_never_export_without_expert(tmp_path, make_items):
    items = {it.id: it for it in make_items(2, language="sw")}
    ids = list(items)
    anns = [Annotation(i, u, _ranked("response_1")) for i in ids for u in "abc"]
    pol = Policy(low_resource_languages=("sw",))
    res = resolve(items, anns, pol)
    assert all(r.status == "escalated" and "low_resource_language" in r.reasons for r in res.values())
    # even if someone bypasses escalation, the export gate holds
    for r in res.values():
        r.status = "consensus"
    m = export("dpo", items, res, pol, tmp_path / "a")
    assert m["rows"] == 0 and m["excluded"]["blocked_low_resource_unreviewed"] == 2
    res = resolve(items, anns, pol, [Annotation(ids[0], "expert", _ranked("response_2"))])
    m = export("dpo", items, res, pol, tmp_path / "b")
    assert m["rows"] == 1


def test_dpo_exports_are_what_trl_expects_and_count_exclusions(tmp_path, make_items):
    import datasets
    from trl.data_utils import is_conversational, maybe_apply_chat_template

    items, ids, anns = _setup(make_items)
    res = resolve(items, anns, Policy())
    m = export("dpo", items, res, Policy(), tmp_path)
    assert m["rows"] == 2 and m["excluded"] == {"escalated_pending": 1, "tie": 1, "both_bad": 1, "unresolved": 1}
    ds = datasets.load_from_disk(str(tmp_path / "dpo"))
    row = ds[ds["id"].index(ids[0])]
    assert not is_conversational(row)
    assert row["chosen"].startswith("p good") and row["rejected"].startswith("p weak")
    assert json.loads(row["lineage"])["lineage"]["model"] == "tiny"
    export("dpo_conversational", items, res, Policy(), tmp_path)
    conv = datasets.load_from_disk(str(tmp_path / "dpo_conversational"))
    assert is_conversational(conv[0]) and conv[0]["chosen"][0]["role"] == "assistant"

    class Tok:  # minimal chat template to exercise TRL's own application path
        def apply_chat_template(self, messages, tools=None, tokenize=False, add_generation_prompt=False, **kw):
            return "".join(f"<{m['role']}>{m['content']}" for m in messages) + ("<assistant>" if add_generation_prompt else "")

    applied = maybe_apply_chat_template({k: conv[0][k] for k in ("prompt", "chosen", "rejected")}, Tok())
    assert applied["prompt"].startswith("<user>") and "good answer" in applied["chosen"]
    kto = export("kto", items, res, Policy(), tmp_path)
    kds = datasets.load_from_disk(str(tmp_path / "kto"))
    assert kto["rows"] == 4 and sorted(kds["label"]) == [False, False, True, True]
    assert set(kds.column_names) >= {"prompt", "completion", "label"}


def test_export_format_of_another_kind_is_a_user_error_with_nothing_written(tmp_path, make_items):
    items, _, anns = _setup(make_items)
    res = resolve(items, anns, Policy())
    for fmt in ("review", "moderation"):
        with pytest.raises(UserError, match="holds preference items") as e:
            export(fmt, items, res, Policy(), tmp_path / fmt)
        assert "--format dpo" in str(e.value) and not (tmp_path / fmt).exists()


@pytest.mark.slow
def test_one_dpo_trainer_step_on_the_export(tmp_path, tiny_model_dir, make_items):
    import datasets
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    items = {it.id: it for it in make_items(4)}
    anns = [Annotation(i, u, _ranked("response_1")) for i in items for u in "ab"]
    export("dpo_conversational", items, resolve(items, anns, Policy()), Policy(), tmp_path)
    ds = datasets.load_from_disk(str(tmp_path / "dpo_conversational"))
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    cfg = DPOConfig(output_dir=str(tmp_path / "out"), max_steps=1, per_device_train_batch_size=2, report_to=[],
                    logging_steps=1, save_strategy="no", max_length=128, use_cpu=True)
    trainer = DPOTrainer(model=model, args=cfg, train_dataset=ds, processing_class=tok)
    out = trainer.train()
    assert out.global_step == 1 and out.training_loss == out.training_loss  # finite, not NaN


@pytest.mark.slow
def test_candidates_come_from_real_backends_with_lineage(tiny_model_dir):
    from semisynth.backends import SamplingParams, TransformersSpec, open_backend
    from semisynth.preference.candidates import Arm, build_preference_items
    from semisynth.records import Record

    backend = open_backend(TransformersSpec(model=str(tiny_model_dir), batch_size=4))
    try:
        prompts = [Record.create("real", text=f"my bag {i} is lost", language="en") for i in range(3)]
        # The tiny model rambles to max_tokens (a `truncated` reject); a stop string it does hit keeps items.
        arms = [Arm("cool", backend, SamplingParams(max_tokens=48, temperature=0.3, stop=("a",))),
                Arm("hot", backend, SamplingParams(max_tokens=48, temperature=1.5, stop=("a",)), system="Be brief.")]
        run = build_preference_items(prompts, arms)
        items = run.items
        assert len(items) + len({r.parents[0] for r in run.prompt_rejects}) == 3 and items
        c = items[0].payload["candidates"]
        assert {x["arm"] for x in c} == {"cool", "hot"} and c[1]["template"] == "Be brief."
        assert c[0]["sampling"]["temperature"] == 0.3 and items[0].fields["response_2"] == c[1]["text"]
    finally:
        backend.close()
