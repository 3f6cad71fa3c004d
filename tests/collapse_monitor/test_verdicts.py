"""Four-way verdicts: smoothed / exaggerated only beyond the band after Holm, preserved only inside it,
inconclusive otherwise (with the n that would settle it); the smoothing index judged against a same-n null."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from semisynth.collapse.monitor.calibration import clean_text
from semisynth.collapse.monitor.irregularity import corpus_profile, holm, ratio_verdicts

LOG = math.log


def test_holm_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(0)
    for _ in range(20):
        p = np.concatenate([rng.uniform(0, 0.02, 4), rng.uniform(0, 1, 14)])
        rejected, adjusted, levels = holm(p, 0.05)
        ref_rej, ref_adj, _, _ = multipletests(p, alpha=0.05, method="holm")
        np.testing.assert_array_equal(rejected, ref_rej)
        np.testing.assert_allclose(adjusted, ref_adj)
        np.testing.assert_array_equal(rejected, p <= levels)  # the level each was tested at shows the decision


@pytest.mark.parametrize("ratio,se,verdict", [
    (0.5, 0.05, "smoothed"), (2.0, 0.05, "exaggerated"), (1.0, 0.03, "preserved"),
    (0.54, 0.33, "inconclusive"),   # the case: CI ~[0.27, 1.02] was called "preserved"
    (1.0, 0.5, "inconclusive"),     # centred on 1 but too wide to say
    (0.78, 0.05, "inconclusive"),   # just under the band, not provably beyond it
])
def test_verdict_follows_the_interval_at_the_holm_level(ratio, se, verdict):
    res = ratio_verdicts([LOG(ratio)], [se])["features"][0]
    assert res["verdict"] == verdict
    lo_d, hi_d = res["ci_difference"]
    lo_e, hi_e = res["ci_equivalence"]
    assert (res["verdict"] == "smoothed") == (hi_d < 0.8)
    assert (res["verdict"] == "exaggerated") == (lo_d > 1.25)
    assert (res["verdict"] == "preserved") == (0.8 < lo_e and hi_e < 1.25)
    assert ("n_to_settle" in res) == (verdict == "inconclusive")


def test_nothing_inconclusive_is_ever_called_preserved():
    rng = np.random.default_rng(1)
    L = rng.normal(0, 0.4, 2000)
    se = rng.uniform(0.01, 0.5, 2000)
    for chunk in range(0, 2000, 20):  # families of 20 features
        out = ratio_verdicts(L[chunk:chunk + 20], se[chunk:chunk + 20])["features"]
        for r in out:
            if r["verdict"] == "preserved":
                lo, hi = r["ci_equivalence"]
                assert 0.8 < lo and hi < 1.25 and r["p_equivalence_holm"] <= 0.05


def test_holm_makes_a_family_stricter_than_one_test():
    alone = ratio_verdicts([LOG(0.7)], [0.055])["features"][0]
    among = ratio_verdicts([LOG(0.7)] + [0.0] * 19, [0.055] + [0.3] * 19)["features"][0]
    assert alone["verdict"] == "smoothed" and among["verdict"] == "inconclusive"
    assert among["ci_difference"][1] > 0.8 > alone["ci_difference"][1]


def test_n_to_settle_settles_it_when_the_estimate_holds():
    for ratio in (0.6, 1.02, 1.6):
        res = ratio_verdicts([LOG(ratio)], [0.3], n_real=1000, n_synthetic=500)["features"][0]
        assert res["verdict"] == "inconclusive"
        f = res["n_to_settle"]["factor"]
        assert res["n_to_settle"]["n_real"] == math.ceil(1000 * f)
        settled = ratio_verdicts([LOG(ratio)], [0.3 / math.sqrt(f * 1.001)])["features"][0]
        assert settled["verdict"] != "inconclusive", ratio
        unsettled = ratio_verdicts([LOG(ratio)], [0.3 / math.sqrt(f * 0.95)])["features"][0]
        assert unsettled["verdict"] == "inconclusive", ratio


def test_detectable_ratio_is_detected_with_the_stated_power():
    se, k = 0.1, 18
    res = ratio_verdicts([0.0] * k, [se] * k, alpha=0.05, power=0.8)["features"][0]
    r_det = res["detectable_smoothed_ratio"]
    # Monte Carlo: the true ratio at r_det, one feature off among k-1 at ratio 1 with the same SE
    rng = np.random.default_rng(3)
    hits = 0
    for _ in range(400):
        L = np.concatenate([[LOG(r_det)], np.zeros(k - 1)]) + rng.normal(0, se, k)
        hits += ratio_verdicts(L, [se] * k)["features"][0]["verdict"] == "smoothed"
    assert 0.74 < hits / 400 < 0.95  # >= 0.8 (Bonferroni is Holm's worst case), sampling error allowed
    z = norm.ppf(1 - 0.05 / (2 * k)) + norm.ppf(0.8)
    assert r_det == pytest.approx(0.8 * math.exp(-z * se))


def test_profile_reports_power_and_inconclusive_counts(tweets):
    prof = corpus_profile(tweets[:400], tweets[400:800], seed=0)
    assert set(prof["counts"]) == {"smoothed", "exaggerated", "preserved", "inconclusive"}
    assert prof["power"]["alpha"] == 0.05 and prof["power"]["power"] == 0.8
    rows = prof["power"]["features"]
    for name, row in rows.items():
        assert row["smoothed_at_or_below"] is None or row["smoothed_at_or_below"] < 0.8, name
        assert row["exaggerated_at_or_above"] is None or row["exaggerated_at_or_above"] > 1.25, name
    assert sum(r["smoothed_at_or_below"] is not None for r in rows.values()) >= len(rows) - 2
    # ~5 real events of lowercase 'i' in 400 tweets: no synthetic ratio, not even 0, is flagged with 80 % power
    f = prof["features"]["lowercase_i_rate"]
    assert f["real_events"] < 10 and rows["lowercase_i_rate"]["smoothed_at_or_below"] is None
    for f in prof["features"].values():
        if f.get("verdict") == "inconclusive":
            assert f["n_to_settle"]["factor"] is None or f["n_to_settle"]["factor"] >= 1


def test_smoothing_index_has_an_interval_and_a_same_n_null(tweets):
    rng = np.random.default_rng(5)
    order = rng.permutation(len(tweets))
    a = [tweets[i] for i in order[:600]]
    b = [tweets[i] for i in order[600:1200]]
    same = corpus_profile(a, b, seed=1)["smoothing_index_test"]
    assert same["verdict"] != "smoothed" and same["p_value"] > 0.05
    lo, hi = same["ci"]
    assert lo <= same["value"] <= hi
    assert same["baseline"]["interval"][0] <= same["baseline"]["median"] <= same["baseline"]["interval"][1]
    half = [clean_text(t) if i % 2 else t for i, t in enumerate(b)]
    smoothed = corpus_profile(a, half, seed=1)["smoothing_index_test"]
    assert smoothed["verdict"] == "smoothed" and smoothed["ci"][0] > same["baseline"]["upper"]
    assert corpus_profile(a, b, seed=1) == corpus_profile(a, b, seed=1)


def test_report_headline_html_and_breakdowns_carry_the_four_verdicts(tweets, tmp_path):
    import re

    from semisynth.collapse.monitor.config import MonitorConfig
    from semisynth.collapse.monitor.pipeline import run_monitor
    from semisynth.collapse.monitor.report_html import VERDICT_COLOURS
    from semisynth.records import Lineage, Record

    from .conftest import gaussian

    real = [Record.create("real", text=t) for t in tweets[:300]]
    syn = [Record.create("paraphrase", text=clean_text(t) if i % 2 else t,
                         lineage=Lineage(generator="paraphrase", style=("keep_irregularities", "clean")[i % 2]))
           for i, t in enumerate(tweets[300:500])]
    cfg = MonitorConfig(n_boot=60, n_perm=200, subsample_n=100, subsample_repeats=2, langdetect_sample=20,
                        cache_dir=None, c2st_max_n=150, c2st_folds=3)
    report = run_monitor(real, syn, cfg, tmp_path, gaussian(300, 16, seed=1), gaussian(200, 16, seed=2))
    v = report["verdict"]
    # half the records cleaned: the index is significantly above its real-vs-real null, and the gate on that
    # verdict (a default gate) fails the run whatever the index's point value
    assert v["smoothing_index_verdict"] == "smoothed" and len(v["smoothing_index_ci"]) == 2
    assert v["smoothing_index_ci"][0] > v["smoothing_index_null"][1]
    assert any(g["figure"] == "irregularity.smoothing_index" and g.get("verdict") == "smoothed"
               for g in report["gates"]["failed"])
    assert set(v["classifier_two_sample"]) == {"embedding", "ngram"}
    assert v["classifier_two_sample"]["ngram"]["verdict"] == "distinguishable"  # half the records lost handles
    assert report["two_sample"]["ngram"]["ngrams_toward_real"]
    judged = {k for k, f in report["irregularity"]["features"].items() if f.get("verdict")}
    assert judged == set(v["smoothed_features"] + v["exaggerated_features"] + v["preserved_features"]
                         + v["inconclusive_features"])
    assert v["inconclusive_features"], "at n = 200 some features cannot be settled"
    style = report["breakdown"]["style"]
    assert set(style) == {"clean", "keep_irregularities"} and set(report["breakdown"]["generator"]) == {"paraphrase"}
    assert style["clean"]["smoothing_index"] > style["keep_irregularities"]["smoothing_index"]
    html = (tmp_path / "report.html").read_text()
    for name in v["inconclusive_features"]:  # inconclusive rows are grey, never green
        row = re.search(rf"<tr><td title='[^']*'>{name}</td>.*?</tr>", html).group(0)
        assert "class='unsure'>inconclusive" in row and "class='good'" not in row
    assert VERDICT_COLOURS["inconclusive"] != VERDICT_COLOURS["preserved"]
    assert "<h2>By style</h2>" in html and "What gives the synthetic side away" in html
