"""The irregularity profile: each feature fires on its irregularity, and a cleaned corpus is called smoothed."""

from __future__ import annotations

import numpy as np
import pytest

from semisynth.collapse.monitor.calibration import clean_text
from semisynth.collapse.monitor.irregularity import (
    FEATURES,
    KIND_FEATURES,
    classify_edit,
    corpus_profile,
    jensen_shannon,
    keyboard_adjacent,
    keyboard_noise,
    kind_counts,
    kind_test,
    profile_counts,
    profile_texts,
    typo_event,
)

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
    for feat in ("handle_rate", "uncapitalised_sentence_rate", "repeated_punct_rate"):
        assert smoothed["features"][feat]["verdict"] == "smoothed", (feat, smoothed["features"][feat])
    # 13 lowercase "i" in 800 real tweets: 0 of them in 800 cleaned ones is not evidence at this n (they bunch in a
    # few writers' texts), so the feature is not judged, and says how many texts would judge it.
    low_i = smoothed["features"]["lowercase_i_rate"]
    assert low_i["status"] == "not_enough_data" and low_i["n_to_judge"]["n_synthetic"] > 800
    # typos are rare (~0.1% of words): fewer than half remain, yet 800 tweets cannot show it either way
    typo = smoothed["features"]["typo_rate"]
    assert typo["synthetic_events"] < 0.5 * typo["real_events"]
    assert typo["status"] == "not_enough_data" and typo["n_to_judge"]["n_synthetic"] > 800
    assert baseline["features"]["handle_rate"]["verdict"] == "preserved"
    assert smoothed["smoothing_index"] > 0.5 and smoothed["smoothing_index_test"]["verdict"] == "smoothed"
    assert baseline["smoothing_index"] < 0.15 and baseline["smoothing_index_test"]["verdict"] != "smoothed"
    assert baseline["counts"]["smoothed"] == 0 and baseline["counts"]["exaggerated"] == 0
    assert all(k["verdict"] != "different" for k in baseline["kinds"].values() if k["status"] == "ok")


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


# --- kinds of irregularity ---------------------------------------------------------------------------


@pytest.mark.parametrize("typo,correct,kind,pos", [
    ("helo", "hello", "deletion", 2), ("helllo", "hello", "insertion", 2), ("teh", "the", "transposition", 1),
    ("recieve", "receive", "transposition", 3), ("hwllo", "hello", "keyboard_substitution", 1),
    ("hzllo", "hello", "other", 1), ("definately", "definitely", "other", 5), ("ello", "hello", "deletion", 0),
])
def test_a_misspelling_is_aligned_to_its_correction(typo, correct, kind, pos):
    assert classify_edit(typo, correct) == (kind, pos)


def test_keyboard_adjacency_is_symmetric_and_local():
    assert keyboard_adjacent("e", "w") and keyboard_adjacent("w", "e") and keyboard_adjacent("g", "b")
    assert not keyboard_adjacent("a", "p") and not keyboard_adjacent("e", "e")
    letters = "abcdefghijklmnopqrstuvwxyz"
    assert all(keyboard_adjacent(a, b) == keyboard_adjacent(b, a) for a in letters for b in letters)


def test_typo_events_come_from_codespell_or_a_word_one_edit_away():
    etype, where, band = typo_event("teh")  # codespell: teh -> the
    assert KIND_FEATURES["typo_edit_type"][etype] == "transposition"
    assert KIND_FEATURES["typo_word_band"][band] == "zipf_6_plus"  # "the" is among the most frequent words
    assert typo_event("flihgt") is not None  # not in codespell, one swap from "flight"
    assert typo_event("flight") is None and typo_event("dont") is None and typo_event("lol") is None


def test_casing_breaks_are_placed():
    counts = kind_counts(["my flight was late. then i left", "This Was AWFUL and My bag heLlo"])
    cas = dict(zip(KIND_FEATURES["casing_break_position"], counts["casing_break_position"].T, strict=True))
    assert list(cas["sentence_start_lower"]) == [2, 0]
    assert list(cas["lowercase_i"]) == [1, 0]
    assert list(cas["all_caps_word"]) == [0, 1]
    assert list(cas["mid_sentence_capital"]) == [0, 2]  # "Was", "My"
    assert list(cas["mixed_case_word"]) == [0, 1]


def test_jensen_shannon_matches_scipy():
    from scipy.spatial.distance import jensenshannon

    rng = np.random.default_rng(0)
    for _ in range(5):
        p, q = rng.integers(0, 20, 5), rng.integers(1, 20, 5)
        assert jensen_shannon(p, q) == pytest.approx(jensenshannon(p, q, base=2) ** 2, abs=1e-12)


def test_kind_permutation_test_is_calibrated_under_the_null():
    rng = np.random.default_rng(1)
    probs = np.array([0.5, 0.3, 0.2])
    ps = []
    for _ in range(40):
        a = rng.multinomial(2, probs, size=300).astype(float)
        b = rng.multinomial(2, probs, size=300).astype(float)
        ps.append(kind_test(a, b, 200, rng)["p_value"])
    assert 0.25 < np.mean(ps) < 0.75  # p-values spread over (0, 1) under "same distribution"
    shifted = rng.multinomial(2, [0.2, 0.3, 0.5], size=300).astype(float)
    assert kind_test(a, shifted, 200, rng)["p_value"] < 0.01


def test_rate_matched_keyboard_noise_is_not_like_real_text_but_a_real_split_is(tweets):
    order = np.random.default_rng(7).permutation(len(tweets))
    real = [tweets[i] for i in order[:800]]
    other = [tweets[i] for i in order[800:1600]]
    words = profile_counts(real)[1][:, FEATURES.index("typo_rate")].sum()
    kinds = kind_counts(real)
    p_typo = kinds["typo_edit_type"].sum() / words
    p_case = kinds["casing_break_position"].sum() / words
    noisy = keyboard_noise([clean_text(t) for t in other], p_typo, p_case)
    noisy_kinds = kind_counts(noisy)
    noisy_words = profile_counts(noisy)[1][:, FEATURES.index("typo_rate")].sum()
    for name in ("typo_edit_type", "casing_break_position"):  # the noise is rate-matched ...
        ratio = (noisy_kinds[name].sum() / noisy_words) / (kinds[name].sum() / words)
        assert 0.6 < ratio < 1.6, (name, ratio)
    judged = corpus_profile(real, noisy, seed=2)["kinds"]
    assert any(k["verdict"] == "different" for k in judged.values()), judged  # ... but not real in kind
    assert judged["casing_break_position"]["verdict"] == "different"
    split = corpus_profile(real, other, seed=2)["kinds"]
    assert all(k["verdict"] != "different" for k in split.values() if k["status"] == "ok"), split
