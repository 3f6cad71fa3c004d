"""Irregularity profile: how much of real text's mess (typos, casing, slang, emoji...) a corpus keeps.

Paraphrasers and generators "clean up" text; a model trained on the cleaned text then never sees
the irregular input its users write. Each feature is counted per text with compiled regexes run once
over the whole corpus joined into one string (match offsets -> text ids with searchsorted) plus set
lookups on a flat token list, so profiling runs at tens of thousands of texts per second.

Public API (reused by the collapse experiments):
  FEATURES                     feature names, in column order
  profile_counts(texts)        -> (counts, denominators), each (n, F) float64
  profile_texts(texts)         -> (n, F) per-text rates (count / denominator; NaN where undefined)
  rates(counts, denoms)        -> the same rates from counts already computed
  corpus_profile(real, synth)  -> per-feature real rate, synthetic rate, ratio + interval, four-way verdict
                                  (Holm across features), kind features, the smoothing index with its
                                  interval and same-n null, and the power statement
  ratio_verdicts(...)          -> smoothed / exaggerated / preserved / inconclusive for a family of ratios
  kind_counts(texts)           -> per-text events of each kind feature (typo edit type, position, band, casing)
"""

from __future__ import annotations

import math
import random
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from semisynth.lexicon import (
    ALLCAPS,
    ELONGATION,
    EMOJI,
    EMOTICON,
    HANDLE,
    HASHTAG,
    LOWER_I,
    MISSING_APOSTROPHE,
    NOT_TYPOS,
    REPEATED_PUNCT,
    SLANG,
    URL,
    vocabulary,
)

# --- lexical resources -------------------------------------------------------------------------------

# Slang, apostrophe-less contractions and the vocabulary come from the shared lexicon (generation uses the same).
_NOT_TYPOS = NOT_TYPOS


@lru_cache(maxsize=1)
def typo_dictionary() -> frozenset[str]:
    """codespell's curated misspelling list (~65k real typos, lowercase), minus slang/contractions."""
    import codespell_lib

    path = Path(codespell_lib.__file__).parent / "data" / "dictionary.txt"
    words = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        typo = line.split("->", 1)[0].strip().lower()
        if typo.isalpha():
            words.add(typo)
    return frozenset(words - _NOT_TYPOS)


# --- patterns (compiled once) ------------------------------------------------------------------------

_SEP = "\n\x01\n"  # between texts in the joined corpus: no pattern below can match across it
_TOKEN = re.compile(r"[@#]\w+|https?://\S+|www\.\S+|[A-Za-z]+(?:'[A-Za-z]+)?|\x01")
# Shared with the generation stage's transfer (one definition, so both measure the same thing).
_HANDLE, _HASHTAG, _URL, _ALLCAPS, _LOWER_I = HANDLE, HASHTAG, URL, ALLCAPS, LOWER_I
_ELONGATION, _REPEATED_PUNCT, _EMOJI, _EMOTICON = ELONGATION, REPEATED_PUNCT, EMOJI, EMOTICON
_DISFLUENCY = re.compile(r"(?i)\b(?:u+m+|u+h+|e+r+m+|hm+|mhm|uh-huh|i mean|you know|like,)\b")
# A sentence starts at the start of a line (= of a text or a turn) or after terminal punctuation.
_SENTENCE_START = re.compile(r"(?m)(?:^|(?<=[.!?])[ \t]+)(?:[@#]\w+[ \t]+)*([A-Za-z])")
_SENTENCE_SPLIT = re.compile(r"[.!?]+(?:\s+|$)|\n")


@dataclass(frozen=True)
class Feature:
    name: str
    unit: str  # what the denominator counts: "word", "sentence", "text"
    irregularity: bool = True  # counts toward the smoothing index (length mean does not)
    help: str = ""


FEATURE_SPECS: tuple[Feature, ...] = (
    Feature("typo_rate", "word", help="words in codespell's misspelling dictionary"),
    Feature("oov_rate", "word", help="words outside the 100k most frequent (wordfreq)"),
    Feature("allcaps_rate", "word", help="ALL-CAPS words of 3+ letters"),
    Feature("uncapitalised_sentence_rate", "sentence", help="sentences starting with a lowercase letter"),
    Feature("lowercase_i_rate", "word", help="the pronoun written 'i'"),
    Feature("missing_apostrophe_rate", "word", help="contractions without apostrophe (dont, im)"),
    Feature("elongation_rate", "word", help="letters repeated 3+ times (soooo)"),
    Feature("repeated_punct_rate", "word", help="!!!, ??, ?!, ...."),
    Feature("emoji_rate", "word", help="emoji characters"),
    Feature("emoticon_rate", "word", help=":) ;-) <3 ..."),
    Feature("slang_rate", "word", help="lol, u, pls, idk ..."),
    Feature("handle_rate", "word", help="@handles"),
    Feature("hashtag_rate", "word", help="#hashtags"),
    Feature("url_rate", "word", help="URLs"),
    Feature("fragment_rate", "sentence", help="sentences of 1-3 words"),
    Feature("run_on_rate", "sentence", help="sentences of 35+ words"),
    Feature("disfluency_rate", "word", help="um, uh, I mean, you know"),
    Feature("length_tail_rate", "text", help="texts outside the real data's 10th-90th length percentile"),
    Feature("length_words", "text", irregularity=False, help="mean length in words"),
)
FEATURES: tuple[str, ...] = tuple(f.name for f in FEATURE_SPECS)
_COL = {name: i for i, name in enumerate(FEATURES)}


def _join(texts: Sequence[str]) -> tuple[str, np.ndarray]:
    corpus = _SEP.join(t.replace("\x01", " ") for t in texts)
    lens = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    starts = np.zeros(len(texts), dtype=np.int64)
    if len(texts) > 1:
        starts[1:] = np.cumsum(lens[:-1] + len(_SEP))
    return corpus, starts


def _count(pattern: re.Pattern[str], corpus: str, starts: np.ndarray, group: int = 0) -> np.ndarray:
    pos = np.fromiter((m.start(group) for m in pattern.finditer(corpus)), dtype=np.int64)
    if pos.size == 0:
        return np.zeros(len(starts))
    return np.bincount(np.searchsorted(starts, pos, side="right") - 1, minlength=len(starts)).astype(np.float64)


def _sentence_lengths(text: str) -> list[int]:
    return [len(s.split()) for s in _SENTENCE_SPLIT.split(text) if s.strip()]


def profile_counts(texts: Sequence[str], vocab_lang: str = "en",
                   length_bounds: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-text feature counts and their denominators (words, sentences or 1 per text).

    `length_bounds` (low, high) in words defines the length tails; by default the corpus's own
    10th/90th percentiles (pass the real corpus's bounds when profiling synthetic text).
    """
    n = len(texts)
    counts = np.zeros((n, len(FEATURES)))
    denoms = np.zeros((n, len(FEATURES)))
    if n == 0:
        return counts, denoms
    corpus, starts = _join(texts)

    # Tokens: one findall over the corpus, text ids from the separator token.
    toks = _TOKEN.findall(corpus)
    is_sep = np.fromiter((t == "\x01" for t in toks), dtype=bool, count=len(toks))
    tid_all = np.cumsum(is_sep)
    keep = ~is_sep
    toks_np = np.array(toks, dtype=object)[keep]
    tid = tid_all[keep]
    first = np.fromiter((t[0] for t in toks_np), dtype="<U1", count=len(toks_np))
    is_word = ~np.isin(first, ["@", "#"]) & ~np.fromiter(
        (t.startswith(("http", "www.")) and ("/" in t or "." in t) for t in toks_np), dtype=bool, count=len(toks_np))
    words = [t.lower() for t in toks_np[is_word]]
    wid = tid[is_word]
    n_words = np.bincount(wid, minlength=n).astype(np.float64)

    typos, vocab = typo_dictionary(), vocabulary(vocab_lang)

    def per_text(flags: np.ndarray) -> np.ndarray:
        return np.bincount(wid, weights=flags.astype(np.float64), minlength=n)

    alpha = np.fromiter((("'" not in w) and len(w) > 1 for w in words), dtype=bool, count=len(words))
    counts[:, _COL["typo_rate"]] = per_text(np.fromiter((w in typos for w in words), dtype=bool, count=len(words)))
    counts[:, _COL["oov_rate"]] = per_text(
        alpha & np.fromiter((w not in vocab and w not in _NOT_TYPOS for w in words), dtype=bool, count=len(words)))
    counts[:, _COL["slang_rate"]] = per_text(np.fromiter((w in SLANG for w in words), dtype=bool, count=len(words)))
    counts[:, _COL["missing_apostrophe_rate"]] = per_text(
        np.fromiter((w in MISSING_APOSTROPHE for w in words), dtype=bool, count=len(words)))

    for name, pat in (("allcaps_rate", _ALLCAPS), ("lowercase_i_rate", _LOWER_I), ("elongation_rate", _ELONGATION),
                      ("repeated_punct_rate", _REPEATED_PUNCT), ("emoji_rate", _EMOJI), ("emoticon_rate", _EMOTICON),
                      ("handle_rate", _HANDLE), ("hashtag_rate", _HASHTAG), ("url_rate", _URL),
                      ("disfluency_rate", _DISFLUENCY)):
        counts[:, _COL[name]] = _count(pat, corpus, starts)
    word_den = np.maximum(n_words, 1.0)
    for spec in FEATURE_SPECS:
        if spec.unit == "word":
            denoms[:, _COL[spec.name]] = word_den

    # Sentences: capitalisation from one regex pass; fragment/run-on need sentence lengths (per text loop).
    starts_m = [(m.start(1), m.group(1)) for m in _SENTENCE_START.finditer(corpus)]
    if starts_m:
        pos = np.fromiter((p for p, _ in starts_m), dtype=np.int64, count=len(starts_m))
        lower = np.fromiter((c.islower() for _, c in starts_m), dtype=bool, count=len(starts_m))
        sid = np.searchsorted(starts, pos, side="right") - 1
        n_sent_starts = np.bincount(sid, minlength=n).astype(np.float64)
        counts[:, _COL["uncapitalised_sentence_rate"]] = np.bincount(sid, weights=lower.astype(float), minlength=n)
        denoms[:, _COL["uncapitalised_sentence_rate"]] = n_sent_starts
    frag = np.zeros(n)
    runon = np.zeros(n)
    nsent = np.zeros(n)
    for i, t in enumerate(texts):
        lens = _sentence_lengths(t)
        nsent[i] = len(lens)
        frag[i] = sum(1 for x in lens if x <= 3)
        runon[i] = sum(1 for x in lens if x >= 35)
    counts[:, _COL["fragment_rate"]] = frag
    counts[:, _COL["run_on_rate"]] = runon
    denoms[:, _COL["fragment_rate"]] = nsent
    denoms[:, _COL["run_on_rate"]] = nsent

    # Length: mean and the share of texts in the real data's length tails.
    if length_bounds is None:
        length_bounds = length_tail_bounds(n_words)
    lo, hi = length_bounds
    counts[:, _COL["length_tail_rate"]] = ((n_words < lo) | (n_words > hi)).astype(float)
    denoms[:, _COL["length_tail_rate"]] = 1.0
    counts[:, _COL["length_words"]] = n_words
    denoms[:, _COL["length_words"]] = 1.0
    return counts, denoms


def length_tail_bounds(n_words: np.ndarray) -> tuple[float, float]:
    """The 10th/90th percentile of words per text: outside it is the length tail."""
    if len(n_words) == 0:
        return (0.0, float("inf"))
    return float(np.percentile(n_words, 10)), float(np.percentile(n_words, 90))


def length_words(counts: np.ndarray) -> np.ndarray:
    """Words per text, from the counts of `profile_counts`."""
    return counts[:, _COL["length_words"]]


def rates(counts: np.ndarray, denoms: np.ndarray) -> np.ndarray:
    """count / denominator elementwise; NaN where the denominator is 0 (e.g. a text with no sentences)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denoms > 0, counts / np.where(denoms > 0, denoms, 1), np.nan)


def profile_texts(texts: Sequence[str], vocab_lang: str = "en") -> np.ndarray:
    """(n, F) per-text rates in FEATURES order; NaN where the denominator is 0 (e.g. no sentences)."""
    return rates(*profile_counts(texts, vocab_lang))


def irregularity_score(rates: np.ndarray) -> np.ndarray:
    """One number per text: the sum of its irregularity rates (for review bins and worst examples)."""
    cols = [i for i, f in enumerate(FEATURE_SPECS) if f.irregularity and f.name != "length_tail_rate"]
    return np.nansum(rates[:, cols], axis=1)


# --- corpus comparison -------------------------------------------------------------------------------


def _bootstrap_sums(counts: np.ndarray, denoms: np.ndarray, n_boot: int, rng: np.random.Generator,
                    max_n: int) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap replicates of column sums (texts resampled with replacement) as (B, F) arrays.

    Above `max_n` texts a seeded subsample is resampled and rescaled: the CI is then slightly
    conservative, and memory stays O(B * F) per replicate instead of O(B * n).
    """
    n = len(counts)
    if n > max_n:
        idx = rng.choice(n, size=max_n, replace=False)
        counts, denoms, scale = counts[idx], denoms[idx], n / max_n
    else:
        scale = 1.0
    m = len(counts)
    weights = np.empty((n_boot, m))
    for b in range(n_boot):
        weights[b] = np.bincount(rng.integers(0, m, size=m), minlength=m)
    return weights @ counts * scale, weights @ denoms * scale


def _resample_sums(counts: np.ndarray, denoms: np.ndarray, size: int, n_boot: int, rng: np.random.Generator,
                   max_n: int) -> tuple[np.ndarray, np.ndarray]:
    """Column sums of `size` texts drawn with replacement, n_boot times: (B, F) arrays (for the null)."""
    n = len(counts)
    scale = 1.0
    if size > max_n:
        scale, size = size / max_n, max_n
    out_c, out_d = np.empty((n_boot, counts.shape[1])), np.empty((n_boot, counts.shape[1]))
    for start in range(0, n_boot, 250):  # memory O(250 n)
        stop = min(n_boot, start + 250)
        weights = np.stack([np.bincount(rng.integers(0, n, size=size), minlength=n) for _ in range(start, stop)])
        out_c[start:stop], out_d[start:stop] = weights @ counts * scale, weights @ denoms * scale
    return out_c, out_d


def _index(ratios: np.ndarray, cols: list[int]) -> np.ndarray:
    """Smoothing index of (..., F) ratios: mean over `cols` of clip(1 - ratio, 0, 1), NaN ratios skipped."""
    d = np.clip(1.0 - ratios[..., cols], 0.0, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a replicate with no judged ratio gives NaN
        return np.nanmean(d, axis=-1)


def corpus_profile(real_texts: Sequence[str], synthetic_texts: Sequence[str], *, n_boot: int = 300,
                   ci: float = 0.95, seed: int = 0, smoothed_below: float = 0.8, exaggerated_above: float = 1.25,
                   min_events: int = 5, vocab_lang: str = "en", bootstrap_max_n: int = 20_000,
                   alpha: float = 0.05, power: float = 0.8, n_perm: int = 2000, kinds: bool = True,
                   index_alpha: float | None = None,
                   real_counts: tuple[np.ndarray, np.ndarray] | None = None,
                   synthetic_counts: tuple[np.ndarray, np.ndarray] | None = None,
                   real_kinds: dict[str, np.ndarray] | None = None,
                   synthetic_kinds: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Compare irregularity rates (and kinds) of two corpora.

    For each rate feature: real rate, synthetic rate (ratio of sums over texts), ratio synthetic/real,
    its 95% interval (normal on the log ratio with the bootstrap SE) and a verdict from
    `ratio_verdicts`: smoothed / exaggerated / preserved / inconclusive, Holm-corrected across the
    features (and the kind features) at family-wise `alpha`, with the band [smoothed_below,
    exaggerated_above]. Features with fewer than `min_events` real occurrences are "not_enough_data".
    Kind features (`KIND_FEATURES`): JS divergence with a permutation p-value; "different" when Holm
    rejects, else "inconclusive" (a test of difference cannot show sameness).
    smoothing_index = mean over judged irregularity features of clip(1 - ratio, 0, 1), with a bootstrap
    interval and a real-vs-real null at the same sizes (both sides drawn from the real texts): "smoothed"
    when the index exceeds the null (p <= alpha), "preserved" when its whole interval lies under the
    null's (1 - alpha) quantile, else "inconclusive" (`index_alpha`, default `alpha`, is that test's level).
    """
    index_alpha = alpha if index_alpha is None else index_alpha
    rng = np.random.default_rng(seed)
    if real_counts is None:
        real_counts = profile_counts(real_texts, vocab_lang)
    bounds = length_tail_bounds(length_words(real_counts[0]))
    if synthetic_counts is None:
        synthetic_counts = profile_counts(synthetic_texts, vocab_lang, length_bounds=bounds)
    if kinds and real_kinds is None and (len(real_texts) or synthetic_kinds is not None):
        real_kinds = kind_counts(real_texts, vocab_lang) if len(real_texts) else None
    if kinds and synthetic_kinds is None and len(synthetic_texts):
        synthetic_kinds = kind_counts(synthetic_texts, vocab_lang)
    rc, rd = real_counts
    sc, sd = synthetic_counts
    if len(rc) == 0 or len(sc) == 0:
        return {"status": "not_enough_data", "min_n": 1, "n": int(min(len(rc), len(sc)))}
    r_rate = rates(rc.sum(0), rd.sum(0))
    s_rate = rates(sc.sum(0), sd.sum(0))
    rb_c, rb_d = _bootstrap_sums(rc, rd, n_boot, rng, bootstrap_max_n)
    sb_c, sb_d = _bootstrap_sums(sc, sd, n_boot, rng, bootstrap_max_n)
    with np.errstate(divide="ignore", invalid="ignore"):
        boot_ratio = rates(sb_c, sb_d) / rates(rb_c, rb_d)
    boot_log = log_ratio(sb_c, sb_d, rb_c, rb_d)
    point_log = log_ratio(sc.sum(0), sd.sum(0), rc.sum(0), rd.sum(0))
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + ci / 2))
    features: dict[str, Any] = {}
    judged: list[int] = []
    for j, spec in enumerate(FEATURE_SPECS):
        real_events = float(rc[:, j].sum())
        entry: dict[str, Any] = {"real_rate": float(r_rate[j]), "synthetic_rate": float(s_rate[j]),
                                 "unit": spec.unit, "help": spec.help, "real_events": real_events,
                                 "synthetic_events": float(sc[:, j].sum())}
        b = boot_log[:, j]
        b = b[np.isfinite(b)]
        if real_events < min_events or not np.isfinite(r_rate[j]) or r_rate[j] == 0 or len(b) < 2:
            entry.update(status="not_enough_data", min_n=min_events, n=int(real_events), verdict=None,
                         ratio=None, ci=None)
        else:
            ratio = float(s_rate[j] / r_rate[j]) if np.isfinite(s_rate[j]) else float("nan")
            se = float(np.std(b, ddof=1))
            lo, hi = math.exp(point_log[j] - z * se), math.exp(point_log[j] + z * se)
            if np.isfinite(ratio):  # the pseudo-count moves the centre a hair; the interval keeps the ratio
                lo, hi = min(lo, ratio), max(hi, ratio)
            entry.update(status="ok", ratio=ratio, ci=[lo, hi], se_log_ratio=se)
            judged.append(j)
        features[spec.name] = entry

    kind_entries: dict[str, Any] = {}
    if real_kinds is not None and synthetic_kinds is not None:
        for name in KIND_FEATURES:
            kind_entries[name] = {"categories": list(KIND_FEATURES[name]), "help": KIND_HELP[name],
                                  **kind_test(real_kinds[name], synthetic_kinds[name], n_perm, rng,
                                              max(min_events, 20))}
    tested_kinds = [k for k, v in kind_entries.items() if v["status"] == "ok"]
    judged_names = [FEATURE_SPECS[j].name for j in judged]
    v = ratio_verdicts([point_log[j] for j in judged], [features[n]["se_log_ratio"] for n in judged_names],
                       lower=smoothed_below, upper=exaggerated_above, alpha=alpha, power=power,
                       n_real=len(rc), n_synthetic=len(sc),
                       extra_difference_p=[kind_entries[k]["p_value"] for k in tested_kinds])
    for name, res in zip(judged_names, v["features"], strict=True):
        features[name].update(res)
    for name, res in zip(tested_kinds, v["extra"], strict=True):
        kind_entries[name].update(p_holm=res["p_holm"], verdict="different" if res["rejected"] else "inconclusive")

    # Smoothing index: bootstrap interval and a same-n real-vs-real null.
    irr_cols = [j for j in judged if FEATURE_SPECS[j].irregularity]
    index: float | None = None
    index_entry: dict[str, Any] = {"status": "not_enough_data", "verdict": None}
    if irr_cols:
        ratios_now = np.array([features[s.name]["ratio"] if features[s.name].get("status") == "ok" else np.nan
                               for s in FEATURE_SPECS])
        index = float(_index(ratios_now, irr_cols))
        boot_index = _index(boot_ratio, irr_cols)
        n_null = max(n_boot, 1000)  # the null's upper tail sets a small level: more draws than the CI needs
        n0_c, n0_d = _resample_sums(rc, rd, len(rc), n_null, rng, bootstrap_max_n)
        n1_c, n1_d = _resample_sums(rc, rd, len(sc), n_null, rng, bootstrap_max_n)
        with np.errstate(divide="ignore", invalid="ignore"):
            null_index = _index(rates(n1_c, n1_d) / rates(n0_c, n0_d), irr_cols)
        boot_index, null_index = boot_index[np.isfinite(boot_index)], null_index[np.isfinite(null_index)]
        a2 = (1 - ci) / 2
        ci_idx = [float(np.quantile(boot_index, a2)), float(np.quantile(boot_index, 1 - a2))]
        null_hi = float(np.quantile(null_index, 1 - index_alpha))
        p_index = float((1 + np.sum(null_index >= index)) / (1 + len(null_index)))
        verdict = "smoothed" if p_index <= index_alpha else "preserved" if ci_idx[1] <= null_hi else "inconclusive"
        index_entry = {"status": "ok", "value": index, "ci": [min(ci_idx[0], index), max(ci_idx[1], index)],
                       "ci_level": ci, "verdict": verdict, "p_value": p_index, "alpha": index_alpha,
                       "baseline": {"median": float(np.median(null_index)),
                                    "interval": [float(np.quantile(null_index, a2)),
                                                 float(np.quantile(null_index, 1 - a2))],
                                    "upper": null_hi,
                                    "method": f"real vs real at the same sizes ({len(rc)} vs {len(sc)} texts drawn "
                                              f"with replacement from the real corpus), {len(null_index)} draws"}}
    verdicts = [f["verdict"] for f in features.values() if f.get("verdict")]
    power_rows = {n: {"smoothed_at_or_below": features[n]["detectable_smoothed_ratio"],
                      "exaggerated_at_or_above": features[n]["detectable_exaggerated_ratio"]} for n in judged_names}
    return {
        "n_real": len(rc), "n_synthetic": len(sc), "ci_level": ci, "n_boot": n_boot,
        "thresholds": {"smoothed_below": smoothed_below, "exaggerated_above": exaggerated_above,
                       "min_events": min_events, "alpha": alpha},
        "verdict_rule": ("Holm-corrected across features (family-wise error <= alpha): smoothed/exaggerated when "
                         "the interval at the feature's Holm level lies beyond the band, preserved when it lies "
                         "inside it (TOST), else inconclusive"),
        "length_tail_bounds_words": list(bounds),
        "smoothing_index": index,
        "smoothing_index_test": index_entry,
        "n_judged": len(irr_cols),
        "counts": {k: verdicts.count(k) for k in VERDICTS},
        "features": features,
        "kinds": kind_entries,
        "power": {"alpha": alpha, "power": power, "correction": "Bonferroni (Holm's first, strictest step)",
                  "n_real": len(rc), "n_synthetic": len(sc),
                  "meaning": "a true ratio at or beyond these is flagged with at least this power at this n",
                  "features": power_rows},
    }


# --- verdicts ---------------------------------------------------------------------------------------
#
# A ratio synthetic/real is judged on the log scale with its bootstrap standard error (a normal
# bootstrap interval: Holm's small per-step levels need tails a few hundred replicates cannot give).
#   smoothed / exaggerated: the interval lies below / above the equivalence band [lower, upper], at the
#       level Holm's step-down gives the feature in the family of features (family-wise error <= alpha);
#   preserved: the whole interval lies inside the band (TOST: two one-sided tests at the Holm level);
#   inconclusive: neither, with the sample size that would settle it if the estimate held.
# An interval too wide to say anything is therefore inconclusive, never preserved.

VERDICTS = ("smoothed", "exaggerated", "preserved", "inconclusive")
PSEUDO_COUNT = 0.5  # added to event counts before the log, so a rate of 0 (everything removed) stays finite


def log_ratio(syn_counts: np.ndarray, syn_denoms: np.ndarray, real_counts: np.ndarray,
              real_denoms: np.ndarray) -> np.ndarray:
    """log((s + 0.5) / s_den) - log((r + 0.5) / r_den), elementwise (NaN where a denominator is 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (np.log(syn_counts + PSEUDO_COUNT) - np.log(syn_denoms)
               - np.log(real_counts + PSEUDO_COUNT) + np.log(real_denoms))
    return np.where((syn_denoms > 0) & (real_denoms > 0), out, np.nan)


def holm(p: Sequence[float], alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Holm's step-down: (rejected, adjusted p, level each hypothesis was tested at).

    The level of a hypothesis after the procedure stopped is the level of the step where it stopped,
    so "rejected" is exactly "p <= level" and an interval at that level shows the decision.
    """
    p = np.asarray(p, dtype=float)
    k = len(p)
    order = np.argsort(p, kind="stable")
    rejected = np.zeros(k, dtype=bool)
    levels = np.empty(k)
    adjusted = np.empty(k)
    running = 0.0
    stop = None
    for step, j in enumerate(order):
        level = alpha / (k - step)
        running = max(running, min(1.0, (k - step) * p[j]))
        adjusted[j] = running
        if stop is None and p[j] <= level:
            rejected[j], levels[j] = True, level
        else:
            stop = level if stop is None else stop
            levels[j] = stop
    return rejected, adjusted, levels


def ratio_verdicts(log_ratios: Sequence[float], se: Sequence[float], *, lower: float = 0.8, upper: float = 1.25,
                   alpha: float = 0.05, power: float = 0.8, n_real: int = 0, n_synthetic: int = 0,
                   extra_difference_p: Sequence[float] = ()) -> dict[str, Any]:
    """Four-way verdicts for K ratios judged together (see the comment above).

    `extra_difference_p`: p-values of other "is it different?" tests (the kind features) that join the
    difference family, so one Holm correction covers every flag the report raises. Returns per-ratio
    entries (verdict, p-values, intervals at the Holm levels, n to settle, detectable ratios), the
    Holm results of the extra tests, and the settings.
    """
    from scipy.stats import norm

    L = np.asarray(log_ratios, dtype=float)
    s = np.maximum(np.asarray(se, dtype=float), 1e-12)
    lo, hi = math.log(lower), math.log(upper)
    p_smooth = norm.cdf((L - lo) / s)          # H0: ratio >= lower
    p_exag = norm.sf((L - hi) / s)             # H0: ratio <= upper
    p_diff = np.minimum(1.0, 2 * np.minimum(p_smooth, p_exag))
    p_equiv = np.maximum(norm.sf((L - lo) / s), norm.cdf((L - hi) / s))  # TOST
    extra = np.asarray(list(extra_difference_p), dtype=float)
    k_diff = len(L) + len(extra)
    rej_d, adj_d, lev_d = holm(np.concatenate([p_diff, extra]), alpha)
    rej_e, adj_e, lev_e = holm(p_equiv, alpha)
    z_b = float(norm.ppf(power))
    z_d_worst = float(norm.ppf(1 - alpha / (2 * max(k_diff, 1))))  # Holm's first step = Bonferroni
    z_e_worst = float(norm.ppf(1 - alpha / max(len(L), 1)))
    out = []
    for j in range(len(L)):
        z_d = float(norm.ppf(1 - lev_d[j] / 2))
        z_e = float(norm.ppf(1 - lev_e[j]))
        if rej_d[j]:
            verdict = "smoothed" if L[j] < lo else "exaggerated"
        elif rej_e[j]:
            verdict = "preserved"
        else:
            verdict = "inconclusive"
        entry: dict[str, Any] = {
            "verdict": verdict, "log_ratio": float(L[j]), "se_log_ratio": float(s[j]),
            "p_difference": float(p_diff[j]), "p_difference_holm": float(adj_d[j]),
            "p_equivalence": float(p_equiv[j]), "p_equivalence_holm": float(adj_e[j]),
            "ci_difference": [math.exp(L[j] - z_d * s[j]), math.exp(L[j] + z_d * s[j])],
            "ci_difference_level": 1 - float(lev_d[j]),
            "ci_equivalence": [math.exp(L[j] - z_e * s[j]), math.exp(L[j] + z_e * s[j])],
            "ci_equivalence_level": 1 - 2 * float(lev_e[j]),
            # power at this n: a true ratio at or beyond these is flagged with probability >= `power`
            "detectable_smoothed_ratio": lower * math.exp(-(z_d_worst + z_b) * s[j]),
            "detectable_exaggerated_ratio": upper * math.exp((z_d_worst + z_b) * s[j]),
        }
        if verdict == "inconclusive":
            entry["n_to_settle"] = _n_to_settle(L[j], s[j], lo, hi, z_d_worst, z_e_worst, n_real, n_synthetic)
        out.append(entry)
    return {"features": out,
            "extra": [{"rejected": bool(rej_d[len(L) + i]), "p_holm": float(adj_d[len(L) + i]),
                       "level": float(lev_d[len(L) + i])} for i in range(len(extra))],
            "settings": {"alpha": alpha, "power": power, "band": [lower, upper], "correction": "holm",
                         "n_difference_tests": int(k_diff), "n_equivalence_tests": int(len(L))}}


def _n_to_settle(L: float, se: float, lo: float, hi: float, z_d: float, z_e: float, n_real: int,
                 n_synthetic: int) -> dict[str, Any]:
    """Both corpora scaled by the factor at which the interval (SE ~ 1/sqrt(n)) would leave or fit the band,
    if the estimate stayed where it is; at the strictest Holm level, so it is enough at any step."""
    if L < lo:
        need = (lo - L) / z_d
    elif L > hi:
        need = (L - hi) / z_d
    else:
        need = min(L - lo, hi - L) / z_e
    if need <= 0:
        return {"factor": None, "note": "the estimate sits on the margin: no sample size settles it"}
    factor = max(1.0, (se / need) ** 2)
    return {"factor": factor, "n_real": math.ceil(n_real * factor), "n_synthetic": math.ceil(n_synthetic * factor),
            "assumes": "the estimate stays where it is and the standard error shrinks as 1/sqrt(n)"}


# --- kinds of irregularity ---------------------------------------------------------------------------
#
# Rates alone are fooled by naive noise: random keyboard edits at the real typo rate give the right
# typo rate. What real typing has is a *shape*: which edits (a dropped or doubled letter, two letters
# swapped, a neighbouring key), where in the word (rarely the first letter), on which words (common
# ones), and where casing breaks (a lowercase sentence start, "i", a word in caps, not "heLlo").
# Each kind feature is a categorical distribution of events, compared real vs synthetic by the
# Jensen-Shannon divergence with a permutation test over texts (events of one text stay together).

KIND_FEATURES: dict[str, tuple[str, ...]] = {
    "typo_edit_type": ("deletion", "insertion", "transposition", "keyboard_substitution", "other"),
    "typo_position": ("first_letter", "middle", "last_letter"),
    "typo_word_band": ("zipf_6_plus", "zipf_5_6", "zipf_4_5", "zipf_below_4"),
    "casing_break_position": ("sentence_start_lower", "lowercase_i", "all_caps_word", "mid_sentence_capital",
                              "mixed_case_word"),
}
KIND_HELP = {
    "typo_edit_type": "edit from the correct word (codespell's fix, else the most frequent word one edit away)",
    "typo_position": "where in the word the edit is",
    "typo_word_band": "wordfreq Zipf frequency of the intended word",
    "casing_break_position": "where casing departs from the norm",
}
_QWERTY = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_KEY_POS = {c: (r, i) for r, row in enumerate(_QWERTY) for i, c in enumerate(row)}
_KIND_WORD = re.compile(r"(?<![@#/\w.'])[A-Za-z]{3,}(?![\w'/@])")
_MID_CAPITAL = re.compile(r"(?<=[a-z,;:] )([A-Z][a-z]+)\b")
_MIXED_CASE = re.compile(r"(?<![@#\w])(?:[a-z]+[A-Z]|[A-Z][a-z]+[A-Z]|[A-Z]{2,}[a-z])[A-Za-z]*")
_FUNCTION_WORDS = frozenset(
    "the a an to of and or but in on at for with from by is was are were be been am it its this that these those "
    "my your our their his her me you we they he she us them so just not no can will would could should do did "
    "does have has had get got very all any some there here what when where why how if then than too also".split())


def keyboard_adjacent(a: str, b: str) -> bool:
    """True when keys a and b touch on a QWERTY keyboard (same row +-1, or the row above/below)."""
    pa, pb = _KEY_POS.get(a), _KEY_POS.get(b)
    if pa is None or pb is None or a == b:
        return False
    dr, dc = pb[0] - pa[0], pb[1] - pa[1]
    return (dr == 0 and abs(dc) == 1) or (dr == 1 and dc in (-1, 0)) or (dr == -1 and dc in (0, 1))


def classify_edit(typo: str, correct: str) -> tuple[str, int]:
    """(edit type, index in the word) aligning a misspelling to its correction (both lowercase)."""
    lt, lc = len(typo), len(correct)
    first = next((i for i in range(min(lt, lc)) if typo[i] != correct[i]), min(lt, lc))
    if lt == lc - 1 and typo == correct[:first] + correct[first + 1:]:
        while first > 0 and correct[first - 1] == correct[first]:  # in a run of one letter: its start
            first -= 1
        return "deletion", first
    if lt == lc + 1 and correct == typo[:first] + typo[first + 1:]:
        while first > 0 and typo[first - 1] == typo[first]:
            first -= 1
        return "insertion", first
    if lt == lc:
        diff = [i for i in range(lt) if typo[i] != correct[i]]
        if len(diff) == 2 and diff[1] == diff[0] + 1 and typo[diff[0]] == correct[diff[1]] \
                and typo[diff[1]] == correct[diff[0]]:
            return "transposition", diff[0]
        if len(diff) == 1 and keyboard_adjacent(correct[diff[0]], typo[diff[0]]):
            return "keyboard_substitution", diff[0]
    return "other", first


@lru_cache(maxsize=1)
def typo_fixes() -> dict[str, str]:
    """codespell's misspelling -> first suggested fix (lowercase, single words)."""
    import codespell_lib

    path = Path(codespell_lib.__file__).parent / "data" / "dictionary.txt"
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        typo, _, fix = line.partition("->")
        typo, fix = typo.strip().lower(), fix.split(",")[0].strip().lower()
        if typo.isalpha() and fix.isalpha() and typo not in _NOT_TYPOS:
            out[typo] = fix
    return out


@lru_cache(maxsize=2)
def _correction_vocab(lang: str, size: int = 30_000) -> dict[str, int]:
    from wordfreq import top_n_list

    return {w: i for i, w in enumerate(top_n_list(lang, size)) if w.isalpha()}


@lru_cache(maxsize=200_000)
def typo_event(word: str, lang: str = "en") -> tuple[int, int, int] | None:
    """(edit type, position class, frequency band) indices of a misspelt word, or None if it is not one.

    A misspelling is a codespell entry, or a word outside the vocabulary with an in-vocabulary word one
    edit away (the most frequent such word is taken as meant).
    """
    w = word.lower()
    fix = typo_fixes().get(w)
    if fix is None:
        if len(w) < 4 or w in vocabulary(lang) or w in _NOT_TYPOS:  # 3-letter OOV: mostly codes (airports)
            return None
        vocab = _correction_vocab(lang)
        letters = "abcdefghijklmnopqrstuvwxyz"
        splits = [(w[:i], w[i:]) for i in range(len(w) + 1)]
        cands = {a + b[1:] for a, b in splits if b} | {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1} \
            | {a + c + b[1:] for a, b in splits if b for c in letters} | {a + c + b for a, b in splits for c in letters}
        known = [c for c in cands if c in vocab and len(c) >= 3]
        if not known:
            return None
        fix = min(known, key=lambda c: vocab[c])
    kind, pos = classify_edit(w, fix)
    where = 0 if pos == 0 else 2 if pos >= min(len(w), len(fix)) - 1 else 1
    from wordfreq import zipf_frequency

    z = zipf_frequency(fix, lang)
    band = 0 if z >= 6 else 1 if z >= 5 else 2 if z >= 4 else 3
    return KIND_FEATURES["typo_edit_type"].index(kind), where, band


def kind_counts(texts: Sequence[str], lang: str = "en") -> dict[str, np.ndarray]:
    """Per-text event counts of each kind feature: {name: (n, categories)}."""
    n = len(texts)
    out = {k: np.zeros((n, len(c))) for k, c in KIND_FEATURES.items()}
    if n == 0:
        return out
    corpus, starts = _join(texts)
    for m in _KIND_WORD.finditer(corpus):
        ev = typo_event(m.group(0), lang)
        if ev is None:
            continue
        t = int(np.searchsorted(starts, m.start(), side="right") - 1)
        out["typo_edit_type"][t, ev[0]] += 1
        out["typo_position"][t, ev[1]] += 1
        out["typo_word_band"][t, ev[2]] += 1
    cas = out["casing_break_position"]

    def add(col: int, positions: list[int]) -> None:
        if positions:
            ids = np.searchsorted(starts, np.asarray(positions), side="right") - 1
            cas[:, col] += np.bincount(ids, minlength=n)

    add(0, [m.start(1) for m in _SENTENCE_START.finditer(corpus) if m.group(1).islower()])
    add(1, [m.start() for m in _LOWER_I.finditer(corpus)])
    add(2, [m.start() for m in _ALLCAPS.finditer(corpus)])
    add(3, [m.start(1) for m in _MID_CAPITAL.finditer(corpus) if m.group(1).lower() in _FUNCTION_WORDS])
    add(4, [m.start() for m in _MIXED_CASE.finditer(corpus)])
    return out


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """JS divergence (base 2, in [0, 1]) between count vectors, row-wise when 2-D."""
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    p = p / np.maximum(p.sum(-1, keepdims=True), 1e-300)
    q = q / np.maximum(q.sum(-1, keepdims=True), 1e-300)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum(-1)
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0).sum(-1)
    return (kl_p + kl_q) / 2


def kind_test(real: np.ndarray, synthetic: np.ndarray, n_perm: int, rng: np.random.Generator,
              min_events: int = 20) -> dict[str, Any]:
    """JS divergence of the pooled category distributions and its permutation p-value.

    Texts are exchanged between the corpora (not single events): under "same distribution" the labels of
    whole texts are exchangeable. Only texts with events matter to the sums, so a permutation draws how
    many of them land on the synthetic side (hypergeometric) and which.
    """
    R, S = real.sum(0), synthetic.sum(0)
    entry: dict[str, Any] = {"real": (R / max(R.sum(), 1)).tolist(), "synthetic": (S / max(S.sum(), 1)).tolist(),
                             "real_events": float(R.sum()), "synthetic_events": float(S.sum())}
    if R.sum() < min_events or S.sum() < min_events:
        entry.update(status="not_enough_data", min_n=min_events, n=int(min(R.sum(), S.sum())), verdict=None,
                     p_value=None, jsd=None)
        return entry
    obs = float(jensen_shannon(R, S))
    ev_r, ev_s = real[real.sum(1) > 0], synthetic[synthetic.sum(1) > 0]
    events = np.vstack([ev_r, ev_s])
    total = events.sum(0)
    n_total, n_syn, e = len(real) + len(synthetic), len(synthetic), len(events)
    exceed = 0
    for start in range(0, n_perm, 500):
        p = min(500, n_perm - start)
        k = rng.hypergeometric(e, n_total - e, n_syn, size=p)  # event-bearing texts on the synthetic side
        ranks = rng.random((p, e)).argsort(1).argsort(1)
        s_perm = (ranks < k[:, None]).astype(float) @ events
        exceed += int((jensen_shannon(total - s_perm, s_perm) >= obs - 1e-12).sum())
    entry.update(status="ok", jsd=obs, p_value=(1 + exceed) / (1 + n_perm), n_perm=n_perm)
    return entry


def keyboard_noise(texts: Sequence[str], p_typo: float, p_case: float, seed: int = 0) -> list[str]:
    """Naive noise, to check the monitor is not fooled by it: each word gets a random keyboard edit (deletion,
    neighbour-key insertion or substitution, swap) at a random position with p_typo, and one random letter's
    case flipped with p_case."""
    rnd = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    near = {c: [d for d in letters if keyboard_adjacent(c, d)] for c in letters}
    out = []
    for text in texts:
        words = []
        for w in text.split(" "):
            if len(w) >= 3 and w.isalpha() and rnd.random() < p_typo:
                i, op, c = rnd.randrange(len(w)), rnd.randrange(4), w[rnd.randrange(len(w))].lower()
                key = rnd.choice(near.get(c) or ["e"])
                w = (w[:i] + w[i + 1:] if op == 0 else w[:i] + key + w[i:] if op == 1 else
                     w[:i] + w[i + 1] + w[i] + w[i + 2:] if op == 2 and i < len(w) - 1 else w[:i] + key + w[i + 1:])
            if w.isalpha() and rnd.random() < p_case:
                i = rnd.randrange(len(w))
                w = w[:i] + w[i].swapcase() + w[i + 1:]
            words.append(w)
        out.append(" ".join(words))
    return out
