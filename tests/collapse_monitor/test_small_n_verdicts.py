"""Verdicts that hold at small n, on masked text and on variants of one seed (issue 21): each test pins a property
the old statistics broke (a tight interval from 0 synthetic events, placeholders read as shouts, variants counted
as independent, a 20k subsample cap, a one-sided headline, an interval that disagrees with its verdict)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from semisynth.collapse.monitor.irregularity import FEATURES, corpus_profile, profile_counts, rate_ratio
from semisynth.collapse.monitor.two_sample import c2st, delong

from .conftest import gaussian


def _counts(texts):
    return profile_counts(texts)


def test_zero_synthetic_events_from_a_sample_too_small_to_show_them_is_not_judged():
    """13 lowercase 'i' in 400 real texts, 0 in 30 synthetic ones: 30 texts were expected to show ~1, so 0 says
    nothing. The old bootstrap gave the synthetic side an SE of 0 and called it smoothed."""
    real = ["i think my bag is lost"] * 13 + ["My flight was late again today"] * 387
    syn = ["My flight was late again today"] * 30
    f = corpus_profile(real, syn, seed=0)["features"]["lowercase_i_rate"]
    assert f["synthetic_events"] == 0 and f["expected_synthetic_events"] < 10
    assert f["status"] == "not_enough_data" and f["verdict"] is None
    assert f["n_to_judge"]["n_synthetic"] > 30
    # ...while the same 0 from a synthetic side large enough to show them is evidence
    big = corpus_profile(real, ["My flight was late again today"] * 3000, seed=0)["features"]["lowercase_i_rate"]
    assert big["status"] == "ok" and big["verdict"] == "smoothed"


def test_the_synthetic_side_is_never_more_certain_than_real_texts_of_its_size():
    """Closed form: the SE of the log ratio is at least sqrt(dispersion / expected events at the null), the
    variance a Poisson-like count with the real texts' dispersion would have, whatever the synthetic events."""
    rng = np.random.default_rng(0)
    real = [("lol " if rng.random() < 0.3 else "") + "the flight is late" for _ in range(2000)]
    (rc, rd), (sc, sd) = _counts(real), _counts(["the flight is late"] * 300)
    rr = rate_ratio((rc, rd), (sc, sd), lower=0.8)
    j = FEATURES.index("slang_rate")
    expected = rr.expected_synthetic_events[j]
    assert expected == pytest.approx(0.8 * rc[:, j].sum() / rd[:, j].sum() * 4 * 300)  # 4 words per text
    assert rr.synthetic_events[j] == 0
    assert rr.se[j] >= math.sqrt(rr.dispersion[j] / expected) - 1e-12


def test_variants_of_one_seed_count_once():
    """Two identical variants per seed, grouped by seed: the SE equals the one of the seeds alone (cluster sums are
    doubled, so the linearised variance is the same); without groups it would shrink by ~sqrt(2)."""
    rng = np.random.default_rng(1)
    words = ["lol", "the", "flight", "late", "u", "pls", "bag"]
    seeds = [" ".join(rng.choice(words, size=8)) for _ in range(300)]
    real = [" ".join(rng.choice(words, size=8)) for _ in range(1000)]
    twice = [t for t in seeds for _ in range(2)]
    groups = np.repeat(np.arange(300), 2)
    j = FEATURES.index("slang_rate")
    alone = rate_ratio(_counts(real), _counts(seeds))
    grouped = rate_ratio(_counts(real), _counts(twice), synthetic_groups=groups)
    naive = rate_ratio(_counts(real), _counts(twice))
    assert grouped.design_effect == 2.0
    r_var = alone.se[j] ** 2 - max(0.0, alone.se[j] ** 2 - grouped.se[j] ** 2)
    assert grouped.se[j] == pytest.approx(alone.se[j], rel=0.02), r_var
    assert naive.se[j] < 0.85 * grouped.se[j]


def test_clustered_delong_on_duplicated_records_equals_delong_on_the_originals():
    """Obuchowski's clustered variance: every record twice, grouped, gives the variance of the records once
    (the AUC is unchanged); ungrouped, the duplicates halve it."""
    rng = np.random.default_rng(2)
    y = np.r_[np.zeros(80, int), np.ones(60, int)]
    s = rng.normal(size=140) + 0.5 * y
    auc, var = delong(y, s)
    y2, s2 = np.repeat(y, 2), np.repeat(s, 2)
    g2 = np.repeat(np.arange(140), 2)
    auc_g, var_g = delong(y2, s2, groups=g2)
    auc_n, var_n = delong(y2, s2)
    assert auc_g == pytest.approx(auc) and auc_n == pytest.approx(auc)
    # the clustered form uses K/(K-1) with K=140 clusters; DeLong's ddof=1 uses m/(m-1), n/(n-1) per class
    assert var_g == pytest.approx(var, rel=0.03)
    assert var_n < 0.6 * var


def test_masked_text_reads_like_the_text_it_masks():
    masked = "<HANDLE> where is my bag <URL>"
    plain = "@united where is my bag https://t.co/x"
    cm, dm = profile_counts([masked])
    cp, dp = profile_counts([plain])
    for name in ("allcaps_rate", "handle_rate", "url_rate", "uncapitalised_sentence_rate", "oov_rate"):
        j = FEATURES.index(name)
        assert (cm[0, j], dm[0, j]) == (cp[0, j], dp[0, j]), name
    j = FEATURES.index("allcaps_rate")
    assert cm[0, j] == 0 and dm[0, j] == 4  # 4 words; <HANDLE>/<URL> are neither words nor shouts
    # a sentence after a placeholder starts at its first word
    c, d = profile_counts(["<HANDLE> thanks. <HANDLE> where is it"])
    j = FEATURES.index("uncapitalised_sentence_rate")
    assert (c[0, j], d[0, j]) == (2, 2)


def test_the_transfer_counts_words_as_the_monitor_does():
    from semisynth.generation.transfer.profile import n_words

    for t in ("<HANDLE> where is my bag <URL>", "@united where is my bag https://t.co/x #fail", "<EMAIL> pls help"):
        c, d = profile_counts([t])
        assert n_words(t) == d[0, FEATURES.index("typo_rate")], t


def test_exaggeration_moves_the_headline():
    """A corpus that doubles the real irregularities: the old index clipped every ratio above 1 to 0 and said
    'preserved'; the exaggeration index flags it."""
    rng = np.random.default_rng(3)
    base = ["the flight is late", "where is my bag", "no one at the desk", "thanks for the help"]
    real = [b + (" lol" if rng.random() < 0.2 else "") + ("!!" if rng.random() < 0.2 else "") for b in base * 250]
    syn = [b + " lol!!" + (" u" if rng.random() < 0.5 else "") for b in base * 100]
    prof = corpus_profile(real, syn, seed=0)
    assert prof["smoothing_index_test"]["verdict"] != "smoothed"
    assert prof["exaggeration_index_test"]["verdict"] == "exaggerated" and prof["index_verdict"] == "exaggerated"


def test_ratio_se_keeps_shrinking_above_twenty_thousand_texts():
    """No subsample cap: quadrupling n halves the SE (the power statement's 1/sqrt(n))."""
    rng = np.random.default_rng(4)

    def corpus(n):
        return [("lol " if rng.random() < 0.1 else "") + "the flight is late" for _ in range(n)]

    j = FEATURES.index("slang_rate")
    real = _counts(corpus(20_000))
    se_20k = rate_ratio(real, _counts(corpus(20_000))).se[j]
    se_80k = rate_ratio(_counts(corpus(80_000)), _counts(corpus(80_000))).se[j]
    assert se_80k == pytest.approx(se_20k / 2, rel=0.05)


def test_classifier_interval_agrees_with_its_verdict():
    for s in range(30):
        r = c2st(gaussian(100, 8, seed=s), gaussian(100, 8, mean=0.15, seed=100 + s), seed=s, top_k=0)
        assert (r["verdict"] == "distinguishable") == (r["ci"][0] > 0.5), r
        assert r["ci_level"] == pytest.approx(1 - 2 * r["alpha"])


@pytest.mark.slow
def test_classifier_false_alarms_stay_at_alpha_with_and_without_variants():
    """200 same-distribution draws at alpha 0.2 (enough rejections to see a miscalibration): independent records,
    and synthetic records that are two identical variants of one seed, grouped. Allowed: alpha + 2.6 Monte-Carlo
    SEs (a 0.5 % one-sided false failure)."""
    alpha, n = 0.2, 200
    bound = alpha + 2.6 * math.sqrt(alpha * (1 - alpha) / n)
    iid = [c2st(gaussian(120, 8, seed=3 * s), gaussian(120, 8, seed=3 * s + 1), seed=s, top_k=0,
                alpha=alpha)["verdict"] == "distinguishable" for s in range(n)]
    grouped = []
    for s in range(n):
        seeds = gaussian(60, 8, seed=3 * s + 2)
        syn = np.repeat(seeds, 2, axis=0)
        grouped.append(c2st(gaussian(120, 8, seed=3 * s), syn, seed=s, top_k=0, alpha=alpha,
                            synthetic_groups=np.repeat(np.arange(60), 2))["verdict"] == "distinguishable")
    assert np.mean(iid) <= bound and np.mean(grouped) <= bound, (np.mean(iid), np.mean(grouped))
    assert norm.ppf(0.995) > 2.5  # the bound's one-sided level


@pytest.mark.parametrize("n_synthetic,events_per_text", [(30, 1.5), (100, 0.6), (300, 0.15)])
def test_the_detectable_ratio_is_detected_with_the_stated_power_at_small_n(n_synthetic, events_per_text):
    """Monte Carlo on Poisson counts (15 words a text, 1,000 real texts): at the ratio the report says is detected
    with 80 % power, the rule flags it in >= 80 % of samples (MC error allowed), at every n. The normal-log-ratio
    formula it replaces promised 0.8 where the test delivered ~0.6 with ~40 synthetic events (a low count comes
    with a large SE, so a smoothed side is flagged less often than a fixed SE says)."""
    from semisynth.collapse.monitor.irregularity.rate_ratio import count_scale_power

    rng = np.random.default_rng(11)
    z = norm.ppf(1 - 0.05 * 0.35 / 24)  # Bonferroni over 12 two-sided tests at the features' share of alpha
    settings = {"z_difference_bonferroni": z, "band": [0.8, 1.25]}

    def sample(n, per_text):
        return rng.poisson(per_text, (n, 1)).astype(float), np.full((n, 1), 15.0)

    real = sample(1000, events_per_text)
    first = rate_ratio(real, sample(n_synthetic, events_per_text))
    stated = count_scale_power(first, 0, settings, 0.8)
    r_det = stated["detectable_smoothed_ratio"]
    normal_formula = 0.8 * math.exp(-(z + norm.ppf(0.8)) * first.se[0])
    hits = 0
    for _ in range(600):
        rr = rate_ratio(sample(1000, events_per_text), sample(n_synthetic, events_per_text * r_det))
        hits += rr.log_ratio[0] < math.log(0.8) - z * rr.se[0]
    assert hits / 600 >= 0.8 - 3 * math.sqrt(0.8 * 0.2 / 600), (r_det, hits / 600)
    assert r_det < normal_formula  # the honest statement is the stricter one here
