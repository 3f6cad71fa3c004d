"""Classifier two-sample test: AUC against sklearn, DeLong against its definition, and closed-form cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from semisynth.collapse.monitor.calibration import clean_text
from semisynth.collapse.monitor.two_sample import c2st, delong

from .conftest import gaussian


def _delong_brute(y, s):
    """DeLong's structural components straight from the definition (O(m n))."""
    y = np.asarray(y).astype(bool)
    pos, neg = s[y], s[~y]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(1), psi.mean(0)
    return psi.mean(), v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg)


def test_delong_auc_and_variance_match_sklearn_and_the_definition():
    rng = np.random.default_rng(0)
    for ties in (False, True):
        y = rng.integers(0, 2, 300)
        s = rng.normal(y * 0.7, 1.0)
        if ties:
            s = np.round(s, 1)
        auc, var = delong(y, s)
        assert auc == pytest.approx(roc_auc_score(y, s), abs=1e-12)
        b_auc, b_var = _delong_brute(y, s)
        assert auc == pytest.approx(b_auc) and var == pytest.approx(b_var, rel=1e-9)


def test_identical_distributions_give_auc_near_half_inside_the_interval():
    r = c2st(gaussian(600, 8, seed=1), gaussian(600, 8, seed=2), features="embedding", seed=0)
    assert r["ci"][0] <= 0.5 <= r["ci"][1] + 0.02 and abs(r["auc"] - 0.5) < 0.06
    assert r["verdict"] != "distinguishable"


def test_disjoint_distributions_give_auc_one():
    r = c2st(gaussian(300, 8, seed=1), gaussian(300, 8, mean=20.0, seed=2), features="embedding")
    assert r["auc"] == 1.0 and r["verdict"] == "distinguishable" and r["p_value"] < 1e-6


def test_auc_is_the_mean_of_sklearn_roc_auc_on_each_held_out_fold():
    from sklearn.model_selection import StratifiedKFold

    from semisynth.collapse.monitor.two_sample import _model

    real, syn = gaussian(200, 6, seed=3), gaussian(200, 6, mean=0.3, seed=4)
    for folds in (2, 5):
        r = c2st(real, syn, features="embedding", seed=5, top_k=0, folds=folds)
        X, y = np.vstack([real, syn]).astype(np.float64), np.r_[np.zeros(200, int), np.ones(200, int)]
        ref = []
        for train, test in StratifiedKFold(folds, shuffle=True, random_state=5).split(X, y):
            scores = _model("embedding", 5, 1.0).fit(X[train], y[train]).predict_proba(X[test])[:, 1]
            ref.append(roc_auc_score(y[test], scores))
        np.testing.assert_allclose(r["fold_auc"], ref, atol=1e-12)
        assert r["auc"] == pytest.approx(np.mean(ref)) and 0.5 < r["auc"] < 1.0


def test_ngrams_say_what_gives_the_synthetic_side_away(tweets):
    real, other = tweets[:300], tweets[300:600]
    r = c2st(real, [clean_text(t) for t in other], features="ngram", seed=0, top_k=10,
             synthetic_ids=[f"s{i}" for i in range(300)])
    assert r["verdict"] == "distinguishable" and r["auc"] > 0.9
    assert any("@" in g["ngram"] for g in r["ngrams_toward_real"])  # handles are gone from the synthetic side
    top = r["most_synthetic_looking"][0]
    assert top["id"].startswith("s") and "@" not in top["text"]
    assert r == c2st(real, [clean_text(t) for t in other], features="ngram", seed=0, top_k=10,
                     synthetic_ids=[f"s{i}" for i in range(300)])


def test_balanced_subsample_and_not_enough_data():
    r = c2st(gaussian(500, 4, seed=1), gaussian(80, 4, seed=2), max_n=60, top_k=0)
    assert r["n_per_side"] == 60 and r["subsampled"]
    assert c2st(gaussian(5, 4), gaussian(5, 4), min_n=20)["status"] == "not_enough_data"
