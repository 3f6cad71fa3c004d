"""The irregularity profile: each feature fires on its irregularity, and a cleaned corpus is called smoothed."""

from __future__ import annotations

import numpy as np
import pytest

from semisynth.collapse.irregularity import FEATURES, corpus_profile, profile_counts, profile_texts

from .conftest import clean_text

CASES = {
    "typo_rate": "I recieve teh bag tomorrow",
    "allcaps_rate": "This is TERRIBLE service",
    "uncapitalised_sentence_rate": "flight was late. we waited",
    "lowercase_i_rate": "then i waited at the gate",
    "missing_apostrophe_rate": "I dont know why",
    "elongation_rate": "that was soooo good",
    "repeated_punct_rate": "Where is my bag??",
    "emoji_rate": "Great flight \U0001f600",
    "emoticon_rate": "Great flight :)",
    "slang_rate": "lol thanks u guys",
    "handle_rate": "@united thanks",
    "hashtag_rate": "Stuck again #fail",
    "url_rate": "See https://t.co/abc for details",
    "disfluency_rate": "um I think so",
    "run_on_rate": " ".join(["word"] * 40),
    "fragment_rate": "Nope.",
}
CLEAN = "The flight arrived on time and the crew was very helpful."


@pytest.mark.parametrize("feature", sorted(CASES))
def test_each_feature_fires_on_its_irregularity_and_not_on_clean_text(feature):
    rates = profile_texts([CASES[feature], CLEAN])
    j = FEATURES.index(feature)
    assert rates[0, j] > 0, f"{feature} missed {CASES[feature]!r}"
    assert rates[1, j] == 0, f"{feature} fired on clean text"


def test_counts_are_per_text_and_do_not_leak_across_text_boundaries():
    counts, denoms = profile_counts(["wait!", "?really", "ok"])
    assert counts[:, FEATURES.index("repeated_punct_rate")].sum() == 0
    assert list(counts[:, FEATURES.index("length_words")]) == [1, 1, 1]
    assert (denoms[:, FEATURES.index("typo_rate")] == 1).all()


def test_empty_corpus_is_not_enough_data():
    assert corpus_profile([], ["a text"])["status"] == "not_enough_data"


def test_cleaned_tweets_are_called_smoothed_and_a_real_split_is_preserved(tweets):
    real, other = tweets[:800], tweets[800:1600]
    cleaned = [clean_text(t) for t in other]
    smoothed = corpus_profile(real, cleaned, seed=1)
    baseline = corpus_profile(real, other, seed=1)
    for feat in ("handle_rate", "uncapitalised_sentence_rate", "typo_rate", "repeated_punct_rate", "lowercase_i_rate"):
        assert smoothed["features"][feat]["verdict"] == "smoothed", (feat, smoothed["features"][feat])
        assert baseline["features"][feat]["verdict"] == "preserved", (feat, baseline["features"][feat])
    assert smoothed["smoothing_index"] > 0.5
    assert baseline["smoothing_index"] < 0.15
    assert baseline["counts"]["smoothed"] == 0 and baseline["counts"]["exaggerated"] == 0


def test_bootstrap_ci_contains_the_ratio_and_is_deterministic(tweets):
    a = corpus_profile(tweets[:300], tweets[300:600], seed=3, n_boot=200)
    b = corpus_profile(tweets[:300], tweets[300:600], seed=3, n_boot=200)
    f = a["features"]["handle_rate"]
    assert f["ci"][0] <= f["ratio"] <= f["ci"][1]
    assert a == b


def test_exaggeration_is_detected():
    real = ["Thanks for the help, see you soon."] * 50 + ["I am fine!!"] * 10
    synthetic = ["Thanks!!! see you!!"] * 60
    prof = corpus_profile(real, synthetic, seed=0)
    assert prof["features"]["repeated_punct_rate"]["verdict"] == "exaggerated"


def test_rare_feature_says_not_enough_data_instead_of_a_ratio():
    prof = corpus_profile(["hello there friend"] * 30, ["hello there friend"] * 30)
    assert prof["features"]["emoji_rate"]["status"] == "not_enough_data"
    assert prof["features"]["emoji_rate"]["ratio"] is None
    assert np.isfinite(prof["features"]["length_words"]["ratio"])
