"""Agreement math against reference implementations and a textbook example."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from semisynth.preference import agreement as ag


@pytest.mark.parametrize("level", ["nominal", "ordinal"])
def test_krippendorff_alpha_matches_reference_package_with_missing_values(level):
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 4, 300)
    m = np.where(rng.random((300, 5)) < 0.7, truth[:, None], rng.integers(0, 4, (300, 5)))
    m[rng.random(m.shape) < 0.3] = ag.MISSING
    ref = krippendorff.alpha(reliability_data=np.where(m < 0, np.nan, m).T, level_of_measurement=level,
                             value_domain=[0, 1, 2, 3])
    est = ag.krippendorff_alpha(m, 4, level, n_boot=100)
    assert est.value == pytest.approx(ref, abs=1e-9)
    assert est.low <= est.value <= est.high
    assert 0.3 < est.value < 0.9


def test_cohen_kappa_matches_sklearn():
    rng = np.random.default_rng(2)
    a = rng.integers(0, 3, 400)
    b = np.where(rng.random(400) < 0.6, a, rng.integers(0, 3, 400))
    est = ag.cohen_kappa(a, b, 3, n_boot=200)
    assert est.value == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)
    assert est.low < est.value < est.high and est.high - est.low < 0.2


def test_fleiss_kappa_matches_the_textbook_example():
    # Fleiss (1971) / Wikipedia worked example: 10 subjects, 14 raters, 5 categories -> kappa = 0.210
    table = np.array([[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
                      [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]])
    assert ag.fleiss_kappa(table, n_boot=0).value == pytest.approx(0.2099, abs=1e-4)


def test_fleiss_kappa_matches_statsmodels():
    from statsmodels.stats import inter_rater  # the reference (requirements/dev.txt)

    rng = np.random.default_rng(5)
    truth = rng.integers(0, 4, 250)
    m = np.where(rng.random((250, 6)) < 0.6, truth[:, None], rng.integers(0, 4, (250, 6)))
    table = ag.category_counts(m, 4)
    est = ag.fleiss_kappa(table, n_boot=100)
    assert est.value == pytest.approx(inter_rater.fleiss_kappa(table, method="fleiss"), abs=1e-12)
    assert est.low < est.value < est.high


def test_perfect_agreement_is_one_and_noisy_rater_scores_lowest():
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, 500)
    m = np.stack([truth, truth, truth, np.where(rng.random(500) < 0.5, truth, rng.integers(0, 3, 500))], axis=1)
    assert ag.krippendorff_alpha(m[:, :3], 3, n_boot=0).value == pytest.approx(1.0)
    per_rater = ag.rater_vs_rest(m, 3, n_boot=50)
    assert min(range(4), key=lambda r: per_rater[r].value) == 3
    assert per_rater[0].value > 0.8 > per_rater[3].value


def test_a_report_with_no_coded_judgment_yet_has_no_per_rater_kappa_instead_of_failing():
    """A rater whose only answer so far is a gold item leaves the agreement matrix empty of categories."""
    from semisynth.preference.curation import Annotation, Item
    from semisynth.preference.report import build_report

    fields = {"prompt": "p", "response_1": "a", "response_2": "b"}
    items = {f"i{k}": Item(f"i{k}", "preference", fields) for k in range(3)}
    items["gold"] = Item("gold", "preference", fields, gold="response_2")
    ranked = {"verdict": "ranked", "ranking": [{"value": "response_2", "rank": 1}, {"value": "response_1", "rank": 2}]}
    rep = build_report("preference", items, [Annotation("gold", "ann", ranked)], {}, n_boot=10)
    assert rep["responses"] == 1 and rep["overall"]["per_rater_kappa_vs_rest"] == {}
    m = np.full((7, 1), ag.MISSING)
    assert [e.n_items for e in ag.rater_vs_rest(m, 0, n_boot=10)] == [0]
    assert ag.rater_vs_rest(np.full((3, 2), ag.MISSING), 0, n_boot=10)[1].n_items == 0

# Speed on 100k responses is measured in bench/argilla.py (bench_offline), never asserted in a test.
