"""Irregularity features: per-text counts of each kind of mess, by compiled regexes run once over the whole
corpus joined into one string (match offsets -> text ids with searchsorted) plus set lookups on a flat token list,
so profiling runs at tens of thousands of texts per second."""


import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from semisynth.collapse.monitor.irregularity.typos import typo_dictionary
from semisynth.lexicon import (
    ALLCAPS,
    ELONGATION,
    EMOJI,
    EMOTICON,
    HANDLE_OR_MASK,
    HASHTAG,
    LOWER_I,
    MISSING_APOSTROPHE,
    NOT_TYPOS,
    REPEATED_PUNCT,
    SENTENCE_START,
    SLANG,
    TOKEN,
    URL_OR_MASK,
    is_word,
    vocabulary,
)

# --- patterns (compiled once) ------------------------------------------------------------------------

_SEP = "\n\x01\n"  # between texts in the joined corpus: no pattern below can match across it
_TOKEN = re.compile(TOKEN.pattern + r"|\x01")
# Shared with the generation stage's transfer (one definition, so both measure the same thing). Masked text reads
# as what it stands for: <HANDLE> is a handle and <URL> a URL, neither is a word or an ALL-CAPS shout, and a
# sentence after a leading placeholder starts where its first word does.
_HANDLE, _HASHTAG, _URL, _ALLCAPS, _LOWER_I = HANDLE_OR_MASK, HASHTAG, URL_OR_MASK, ALLCAPS, LOWER_I
_ELONGATION, _REPEATED_PUNCT, _EMOJI, _EMOTICON = ELONGATION, REPEATED_PUNCT, EMOJI, EMOTICON
_DISFLUENCY = re.compile(r"(?i)\b(?:u+m+|u+h+|e+r+m+|hm+|mhm|uh-huh|i mean|you know|like,)\b")
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
FEATURE_COLUMN = {name: i for i, name in enumerate(FEATURES)}


def join_texts(texts: Sequence[str]) -> tuple[str, np.ndarray]:
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
    corpus, starts = join_texts(texts)

    # Tokens: one findall over the corpus, text ids from the separator token.
    toks = _TOKEN.findall(corpus)
    is_sep = np.fromiter((t == "\x01" for t in toks), dtype=bool, count=len(toks))
    tid_all = np.cumsum(is_sep)
    keep = ~is_sep
    toks_np = np.array(toks, dtype=object)[keep]
    tid = tid_all[keep]
    word_mask = np.fromiter((is_word(t) for t in toks_np), dtype=bool, count=len(toks_np))
    words = [t.lower() for t in toks_np[word_mask]]
    wid = tid[word_mask]
    n_words = np.bincount(wid, minlength=n).astype(np.float64)

    typos, vocab = typo_dictionary(), vocabulary(vocab_lang)

    def per_text(flags: np.ndarray) -> np.ndarray:
        return np.bincount(wid, weights=flags.astype(np.float64), minlength=n)

    alpha = np.fromiter((("'" not in w) and len(w) > 1 for w in words), dtype=bool, count=len(words))
    counts[:, FEATURE_COLUMN["typo_rate"]] = per_text(np.fromiter((w in typos for w in words), dtype=bool, count=len(words)))
    counts[:, FEATURE_COLUMN["oov_rate"]] = per_text(
        alpha & np.fromiter((w not in vocab and w not in NOT_TYPOS for w in words), dtype=bool, count=len(words)))
    counts[:, FEATURE_COLUMN["slang_rate"]] = per_text(np.fromiter((w in SLANG for w in words), dtype=bool, count=len(words)))
    counts[:, FEATURE_COLUMN["missing_apostrophe_rate"]] = per_text(
        np.fromiter((w in MISSING_APOSTROPHE for w in words), dtype=bool, count=len(words)))

    for name, pat in (("allcaps_rate", _ALLCAPS), ("lowercase_i_rate", _LOWER_I), ("elongation_rate", _ELONGATION),
                      ("repeated_punct_rate", _REPEATED_PUNCT), ("emoji_rate", _EMOJI), ("emoticon_rate", _EMOTICON),
                      ("handle_rate", _HANDLE), ("hashtag_rate", _HASHTAG), ("url_rate", _URL),
                      ("disfluency_rate", _DISFLUENCY)):
        counts[:, FEATURE_COLUMN[name]] = _count(pat, corpus, starts)
    word_den = np.maximum(n_words, 1.0)
    for spec in FEATURE_SPECS:
        if spec.unit == "word":
            denoms[:, FEATURE_COLUMN[spec.name]] = word_den

    # Sentences: capitalisation from one regex pass; fragment/run-on need sentence lengths (per text loop).
    starts_m = [(m.start(1), m.group(1)) for m in SENTENCE_START.finditer(corpus)]
    if starts_m:
        pos = np.fromiter((p for p, _ in starts_m), dtype=np.int64, count=len(starts_m))
        lower = np.fromiter((c.islower() for _, c in starts_m), dtype=bool, count=len(starts_m))
        sid = np.searchsorted(starts, pos, side="right") - 1
        n_sent_starts = np.bincount(sid, minlength=n).astype(np.float64)
        counts[:, FEATURE_COLUMN["uncapitalised_sentence_rate"]] = np.bincount(sid, weights=lower.astype(float), minlength=n)
        denoms[:, FEATURE_COLUMN["uncapitalised_sentence_rate"]] = n_sent_starts
    frag = np.zeros(n)
    runon = np.zeros(n)
    nsent = np.zeros(n)
    for i, t in enumerate(texts):
        lens = _sentence_lengths(t)
        nsent[i] = len(lens)
        frag[i] = sum(1 for x in lens if x <= 3)
        runon[i] = sum(1 for x in lens if x >= 35)
    counts[:, FEATURE_COLUMN["fragment_rate"]] = frag
    counts[:, FEATURE_COLUMN["run_on_rate"]] = runon
    denoms[:, FEATURE_COLUMN["fragment_rate"]] = nsent
    denoms[:, FEATURE_COLUMN["run_on_rate"]] = nsent

    # Length: mean and the share of texts in the real data's length tails.
    if length_bounds is None:
        length_bounds = length_tail_bounds(n_words)
    lo, hi = length_bounds
    counts[:, FEATURE_COLUMN["length_tail_rate"]] = ((n_words < lo) | (n_words > hi)).astype(float)
    denoms[:, FEATURE_COLUMN["length_tail_rate"]] = 1.0
    counts[:, FEATURE_COLUMN["length_words"]] = n_words
    denoms[:, FEATURE_COLUMN["length_words"]] = 1.0
    return counts, denoms


def length_tail_bounds(n_words: np.ndarray) -> tuple[float, float]:
    """The 10th/90th percentile of words per text: outside it is the length tail."""
    if len(n_words) == 0:
        return (0.0, float("inf"))
    return float(np.percentile(n_words, 10)), float(np.percentile(n_words, 90))


def length_words(counts: np.ndarray) -> np.ndarray:
    """Words per text, from the counts of `profile_counts`."""
    return counts[:, FEATURE_COLUMN["length_words"]]


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

