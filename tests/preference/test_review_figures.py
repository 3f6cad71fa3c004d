"""The review's figures on hand-built samples with known answers (no server): verdicts, acceptance with Wilson
intervals (statsmodels and a closed form), the design weights, the check-calibration table, the rejects' sample and
the two-level review sample."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from semisynth.preference.curation import Annotation, review_item
from semisynth.preference.review import (
    build_review,
    calibrate,
    item_verdicts,
    rejects_sample,
    weighted_rate,
    wilson,
)
from semisynth.records import Lineage, Record, Reject

Z = 1.959963984540054


def closed_form_wilson(p: float, n: float, z: float = Z) -> tuple[float, float]:
    """Wilson (1927), written out independently of the code under test."""
    a = p + z * z / (2 * n)
    b = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (a - b) / (1 + z * z / n), (a + b) / (1 + z * z / n)


def _item(i: int, generator: str, style: str, cell_size: int | None = None, text: str | None = None,
          seed_text: str = "where is my refund for order 5512??", language: str = "en"):
    seed = Record.create("real", text=seed_text, language="en")
    meta = {"review_cell": f"{generator}|{style}", "review_stratum": "x"}
    if cell_size is not None:
        meta["review_cell_size"] = cell_size
    rec = Record.create("paraphrase", text=text or f"any news on the refund for order 5512? ({i})", parents=[seed.id],
                        language=language, lineage=Lineage(generator=generator, style=style), meta=meta)
    return review_item(rec, seed)


def _answer(item_id: str, users_decisions: dict[str, str], edited: str | None = None) -> list[Annotation]:
    return [Annotation(item_id, u, {"decision": d, **({"edited": edited} if d == "edit" and edited else {})})
            for u, d in users_decisions.items()]


def test_verdicts_name_the_reason_and_need_a_majority():
    items = {it.id: it for it in (_item(i, "paraphrase:keep", "keep") for i in range(6))}
    ids = list(items)
    anns = [*_answer(ids[0], {"a": "acceptable", "b": "acceptable", "c": "copy_of_seed"}),
            *_answer(ids[1], {"a": "changed_meaning", "b": "copy_of_seed", "c": "changed_meaning"}),
            *_answer(ids[2], {"a": "changed_meaning", "b": "copy_of_seed", "c": "acceptable"}),  # 2 of 3 fail
            *_answer(ids[3], {"a": "edit", "b": "edit", "c": "acceptable"}, edited="fixed text"),
            *_answer(ids[4], {"a": "acceptable", "b": "wrong_language"}),  # a tie: undecided
            *_answer(ids[5], {"a": "acceptable"})]  # one rater: too few
    v = item_verdicts(items, anns, min_raters=2)
    assert [v[i]["verdict"] for i in ids] == ["accepted", "rejected", "rejected", "edited", "undecided", "undecided"]
    assert v[ids[1]]["reason"] == "changed_meaning"
    assert v[ids[2]]["reason"] == "changed_meaning"  # 1-1 between reasons: the first in label order
    assert v[ids[3]]["edited_text"] == "fixed text"
    # a rater who failed the gold items is left out; an expert's answer wins
    v = item_verdicts(items, anns, 2, failed_raters=["c"], expert_anns=[Annotation(ids[0], "x", {"decision": "wrong_language"})])
    assert v[ids[0]]["verdict"] == "rejected" and v[ids[0]]["by"] == "expert"
    assert v[ids[2]]["verdict"] == "rejected"  # a and b both name a failure



def test_the_review_question_names_each_failure_and_the_guidelines_show_one_example_of_each_beside_its_seed():
    from semisynth.preference.curation import REVIEW_DECISIONS, REVIEW_FAILURES, REVIEW_GUIDELINES

    assert REVIEW_DECISIONS == ("acceptable", *REVIEW_FAILURES, "edit")
    assert set(REVIEW_FAILURES) == {"changed_meaning", "not_fluent_or_leaked", "copy_of_seed", "wrong_language"}
    rows = {}
    for line in REVIEW_GUIDELINES.splitlines():  # | **label** | when | `seed` | `synthetic` |
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("**"):
            rows.setdefault(cells[0].strip("*"), []).append(cells[2:])
    assert list(rows) == list(REVIEW_DECISIONS) and all(len(r) == 1 for r in rows.values())
    for label, [(seed, synthetic)] in rows.items():
        assert seed.startswith("`") and synthetic.startswith("`") and seed != synthetic, label
    assert "edited:" in rows["edit"][0][1]  # the edit path: the example shows the fixed text

def test_a_low_resource_record_counts_only_with_the_experts_verdict():
    """The export's rule (a low-resource-language synthetic record is never exported on the raters' word) holds
    for review.json and so for the mix: the raters' verdict on such a record is not trusted (undecided, pending
    the expert), the expert's is."""
    from semisynth.preference.consensus import Policy
    from semisynth.preference.review import reviewed_record, trusted_verdicts

    its = [_item(0, "paraphrase:keep", "keep"), _item(1, "paraphrase:keep", "keep", language="sw"),
           _item(2, "paraphrase:keep", "keep", language="sw"), _item(3, "paraphrase:keep", "keep", language="sw")]
    items = {it.id: it for it in its}
    ids = list(items)
    three = ("a", "b", "c")
    anns = [*_answer(ids[0], dict.fromkeys(three, "acceptable")),
            *_answer(ids[1], dict.fromkeys(three, "changed_meaning")),
            *_answer(ids[2], dict.fromkeys(three, "edit"), edited="a raters' fix"),
            *_answer(ids[3], dict.fromkeys(three, "changed_meaning"))]
    expert = [Annotation(ids[3], "x", {"decision": "acceptable"})]
    low = Policy(low_resource_languages=("sw",))
    v = trusted_verdicts(items, anns, low, expert)
    assert v[ids[0]]["verdict"] == "accepted"  # not a low-resource language: the raters decide
    for i in ids[1:3]:  # the raters' rejection and edit are not trusted: pending the expert
        assert (v[i]["verdict"], v[i]["reason"], v[i]["edited_text"], v[i]["pending"]) == \
            ("undecided", None, None, "low_resource_language")
    assert (v[ids[3]]["verdict"], v[ids[3]]["by"]) == ("accepted", "expert")
    rep = build_review("d", items, anns, v, n_boot=0)
    assert rep["acceptance"]["overall"]["n"] == 2 and rep["acceptance"]["by_language"]["sw"]["n"] == 1
    assert rep["items"]["awaiting_expert"] == 2
    decisions = rep["decisions"]
    assert decisions[reviewed_record(its[1]).id]["verdict"] == "undecided"  # the mix neither drops it ...
    assert decisions[reviewed_record(its[2]).id]["edited_text"] is None  # ... nor enters the raters' edit
    assert decisions[reviewed_record(its[2]).id]["pending"] == "low_resource_language"
    # without low-resource languages in the policy the raters decide every record
    assert trusted_verdicts(items, anns, Policy(), expert)[ids[1]]["verdict"] == "rejected"

@pytest.mark.parametrize("x,n", [(0, 7), (3, 10), (37, 40), (120, 385), (10, 10)])
def test_equal_weights_give_wilson_on_the_counts(x, n):
    r = weighted_rate([1] * x + [0] * (n - x), [2.5] * n, Z)
    lo, hi = proportion_confint(x, n, alpha=0.05, method="wilson")
    assert r["n_eff"] == n and r["rate"] == round(x / n, 6)
    assert r["ci_low"] == pytest.approx(lo, abs=1e-6) and r["ci_high"] == pytest.approx(hi, abs=1e-6)


def test_unequal_weights_use_the_stratified_rate_and_kish_n():
    # cell A: N=90, 3 reviewed, 2 accepted (w=30); cell B: N=10, 2 reviewed, 0 accepted (w=5)
    ys, ws = [1, 1, 0, 0, 0], [30, 30, 30, 5, 5]
    r = weighted_rate(ys, ws, Z)
    p = (90 * 2 / 3 + 10 * 0) / 100
    n_eff = sum(ws) ** 2 / sum(w * w for w in ws)
    assert r["rate"] == pytest.approx(p, abs=1e-6) and r["n_eff"] == pytest.approx(n_eff, abs=1e-3)
    lo, hi = closed_form_wilson(p, n_eff)
    assert r["ci_low"] == pytest.approx(lo, abs=1e-6) and r["ci_high"] == pytest.approx(hi, abs=1e-6)
    assert wilson(0.5, 0, Z) == (0.0, 1.0)


def test_calibration_table_on_a_known_sample():
    # kept, decided: 10 records. check A fires on 4 (3 bad, 1 good); 2 more bad records it misses; B fires on 1 good.
    kept = [(True, ["A"])] * 3 + [(False, ["A"])] + [(True, [])] * 2 + [(False, ["B"])] + [(False, [])] * 3
    # rejects: r1 has 100 in the ledger, 4 reviewed, 3 bad; r2 has 50, 2 reviewed, none bad
    rejects = [(True, "r1", 100)] * 3 + [(False, "r1", 100)] + [(False, "r2", 50)] * 2
    cal = calibrate(kept, rejects, n_kept_population=200, kept_bad_rate=0.25, z=Z)
    a, b = cal["kept_checks"]["checks"]["A"], cal["kept_checks"]["checks"]["B"]
    assert (a["tp"], a["fp"], a["fn"], a["precision"], a["recall"]) == (3, 1, 2, 0.75, 0.6)
    assert (b["tp"], b["fp"], b["precision"], b["recall"]) == (0, 1, 0.0, 0.0)
    assert a["precision_ci"] == pytest.approx(list(proportion_confint(3, 4, method="wilson")), abs=1e-6)
    r1, r2 = cal["reject_reasons"]["reasons"]["r1"], cal["reject_reasons"]["reasons"]["r2"]
    # estimated bad outputs: r1 100 x 0.75 = 75, r2 0, kept 200 x 0.25 = 50 -> 125
    assert cal["reject_reasons"]["estimated_bad_total"] == 125
    assert (r1["precision"], r1["recall"], r1["estimated_bad_caught"]) == (0.75, 0.6, 75)
    assert (r2["precision"], r2["recall"]) == (0.0, 0.0)


def test_review_report_acceptance_per_generator_shares_and_calibration():
    # two cells: paraphrase (N=80, 8 reviewed: 6 accepted) and synthetic (N=20, 4 reviewed: 1 accepted)
    para = [_item(i, "paraphrase:keep", "keep", 80) for i in range(8)]
    syn = [_item(100 + i, "seeded_synthetic", "keep", 20, text=f"hi, my order {i} never came") for i in range(4)]
    copy = _item(999, "paraphrase:keep", "keep", 80, text="where is my refund for order 5512??")  # the seed again
    rej_seed = Record.create("real", text="cancel my friday booking pls", language="en")
    rej = review_item(Record(id="rj1", origin="synthetic", text="book me friday", parents=(rej_seed.id,)), rej_seed,
                      {"auto_rejected": True, "reject_reason": "negation_changed", "reject_reason_size": 40})
    items = {it.id: it for it in [*para, *syn, copy, rej]}
    three = ("a", "b", "c")
    anns = []
    for k, it in enumerate(para):
        anns += _answer(it.id, dict.fromkeys(three, "acceptable" if k < 6 else "changed_meaning"))
    for k, it in enumerate(syn):
        anns += _answer(it.id, dict.fromkeys(three, "acceptable" if k < 1 else "not_fluent_or_leaked"))
    anns += _answer(copy.id, dict.fromkeys(three, "copy_of_seed"))
    anns += _answer(rej.id, {"a": "changed_meaning", "b": "changed_meaning", "c": "acceptable"})
    verdicts = item_verdicts(items, anns)
    rep = build_review("d", items, anns, verdicts, n_boot=0)
    gen = rep["acceptance"]["by_generator"]
    # one cell per generator: equal weights, so Wilson on the counts
    assert gen["paraphrase:keep"]["n"] == 9 and gen["paraphrase:keep"]["accepted"] == 6
    lo, hi = proportion_confint(6, 9, method="wilson")
    assert (gen["paraphrase:keep"]["ci_low"], gen["paraphrase:keep"]["ci_high"]) == pytest.approx((lo, hi), abs=1e-6)
    lo, hi = proportion_confint(1, 4, method="wilson")
    assert (gen["seeded_synthetic"]["ci_low"], gen["seeded_synthetic"]["ci_high"]) == pytest.approx((lo, hi), abs=1e-6)
    # overall: stratified, weights 80/9 and 20/4
    w = [80 / 9] * 9 + [5.0] * 4
    y = [1] * 6 + [0] * 3 + [1] + [0] * 3
    p = sum(a * b for a, b in zip(w, y, strict=True)) / sum(w)
    n_eff = sum(w) ** 2 / sum(x * x for x in w)
    overall = rep["acceptance"]["overall"]
    assert rep["method"]["stratified"] and overall["rate"] == pytest.approx(p, abs=1e-6)
    assert (overall["ci_low"], overall["ci_high"]) == pytest.approx(closed_form_wilson(p, n_eff), abs=1e-6)
    reasons = rep["failure_reasons"]
    assert reasons["changed_meaning"]["n"] == 2 and reasons["not_fluent_or_leaked"]["n"] == 3
    assert reasons["copy_of_seed"]["n"] == 1
    assert rep["items"] == {"kept_sample": 13, "rejects_sample": 1, "decided": 13, "gold": 0, "awaiting_expert": 0,
                            "verdicts": {"accepted": 7, "rejected": 6}}
    # the copy of the seed: the kept-record copy check fires on it and the reviewers agree
    copy_check = rep["calibration"]["kept_checks"]["checks"]["copy_of_seed"]
    assert copy_check["tp"] == 1 and copy_check["fp"] == 0 and copy_check["precision"] == 1.0
    neg = rep["calibration"]["reject_reasons"]["reasons"]["negation_changed"]
    assert neg["reviewed"] == 1 and neg["precision"] == 1.0 and neg["in_ledger"] == 40
    assert rep["agreement"]["decision"]["pairwise_agreement"] == pytest.approx((13 * 3 + 1) / 42)
    assert rep["agreement"]["acceptable"]["krippendorff_alpha_nominal"]["value"] > 0.8
    # decisions by the record's id (as the run holds it: the sample's review_* meta taken off)
    assert len(rep["decisions"]) == 13 and rep["fingerprint"]["reviewed"]["n"] == 13
    assert rep["fingerprint"]["population"] is None  # no monitor report given


def test_rejects_sample_is_stratified_by_reason_and_marked():
    seed = Record.create("real", text="my bag never arrived", language="en")
    rejects = ([Reject(f"a{i}", (seed.id,), "too_short", text=f"bag {i}") for i in range(30)] +
               [Reject(f"b{i}", (seed.id,), "copy_of_seed", text="my bag never arrived") for i in range(5)] +
               [Reject(f"c{i}", (seed.id,), "duplicate_seed") for i in range(9)])  # no output: nothing to review
    items = rejects_sample(rejects, {seed.id: seed}, 7)
    reasons = sorted(it.payload["reject_reason"] for it in items)
    assert len(items) == 7 and set(reasons) == {"too_short", "copy_of_seed"} and reasons.count("too_short") >= 5
    assert all(it.payload["auto_rejected"] and it.fields["seed"] == seed.content for it in items)
    assert {it.payload["reject_reason_size"] for it in items if it.payload["reject_reason"] == "copy_of_seed"} == {5}


def test_review_sample_gives_every_generator_and_style_a_share_and_its_population():
    from semisynth.collapse.monitor.review_sample import select_review_sample

    recs = ([Record.create("paraphrase", text=f"para {i}", lineage=Lineage(generator="paraphrase:keep", style="keep"))
             for i in range(90)] +
            [Record.create("synthetic", text=f"pure {i}", lineage=Lineage(generator="pure_synthetic", style="clean"))
             for i in range(3)])
    cfg = SimpleNamespace(seed=0, review_clusters=2, review_sample=10, review_margin=0.05, review_confidence=0.95)
    rng = np.random.default_rng(0)
    out = select_review_sample(recs, rng.standard_normal((93, 8)), ["en"] * 93, np.zeros(93), {}, cfg)
    cells = [r["meta"]["review_cell"] for r in out["rows"]]
    assert len(cells) == 10 and cells.count("pure_synthetic|clean") >= 1
    sizes = {r["meta"]["review_cell"]: r["meta"]["review_cell_size"] for r in out["rows"]}
    assert sizes == {"paraphrase:keep|keep": 90, "pure_synthetic|clean": 3}
    assert out["summary"]["cells"]["pure_synthetic|clean"] == {"population": 3, "allocated": 1}
    auto = SimpleNamespace(**{**vars(cfg), "review_sample": "auto"})
    summary = select_review_sample(recs, rng.standard_normal((93, 8)), ["en"] * 93, np.zeros(93), {}, auto)["summary"]
    n0 = Z * Z * 0.25 / 0.05 ** 2  # 384.1: the normal formula at margin 0.05, then the finite population correction
    assert summary["target_n"] == math.ceil(n0 / (1 + (n0 - 1) / 93)) == 76
    assert "finite population correction" in summary["size_method"]


def test_rejects_ledger_of_a_run_reads_every_shard_and_skips_an_empty_one(tmp_path):
    from semisynth.preference.review import read_rejects

    (tmp_path / "rejects").mkdir()
    (tmp_path / "rejects" / "seeds.jsonl").write_text("")  # a run without seed rejects
    (tmp_path / "rejects" / "shard-00000.jsonl").write_text(
        json.dumps(Reject("a", ("p",), "too_short", text="hi").to_dict()) + "\n")
    assert [r.reason for r in read_rejects(tmp_path)] == ["too_short"]


def test_monitor_html_shows_the_calibration_of_a_review_of_its_own_records(tmp_path):
    from semisynth.collapse.monitor.report_html import _review_if_present, add_review_section

    review = {"dataset": "rev", "confidence": 0.95, "raters": ["a", "b"], "method": {"estimator": "stratified"},
              "acceptance": {"overall": {"rate": 0.5, "ci_low": 0.2, "ci_high": 0.8, "n": 10},
                             "by_generator": {"paraphrase:keep": {"rate": 0.25, "ci_low": 0.05, "ci_high": 0.7, "n": 4}}},
              "calibration": {"truth": "bad = rejected or edited",
                              "reject_reasons": {"reasons": {"too_short": {"reviewed": 3, "in_ledger": 40,
                                                                           "precision": 0.6667, "recall": 0.31}}},
                              "kept_checks": {"checks": {"name_changed": {"fired": 2, "precision": 0.5, "recall": 0.25}}}},
              "fingerprint": {"population": {"records": "abc"}}}
    page = tmp_path / "report.html"
    page.write_text("<!doctype html><html><body><h1>monitor</h1></body></html>")
    add_review_section(page, review)
    add_review_section(page, review)  # replaced, not added twice
    html = page.read_text()
    assert html.count("Checks calibrated on the reviewers") == 1 and html.endswith("</body></html>")
    assert "<td>too_short</td><td>reject</td><td>3 of 40</td><td>0.6667</td><td>0.31</td>" in html
    assert "<td>paraphrase:keep</td><td>0.25</td><td>[0.05, 0.7]</td><td>4</td>" in html
    (tmp_path / "review.json").write_text(json.dumps(review))
    assert _review_if_present(page, {"fingerprint": {"synthetic": {"records": "abc"}}})
    assert _review_if_present(page, {"fingerprint": {"synthetic": {"records": "other run"}}}) == []
