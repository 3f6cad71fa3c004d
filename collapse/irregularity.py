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
  corpus_profile(real, synth)  -> per-feature real rate, synthetic rate, ratio + bootstrap CI, verdict,
                                  and the headline smoothing index
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

# --- lexical resources -------------------------------------------------------------------------------

SLANG = frozenset(
    "lol lmao lmfao rofl u ur r pls plz idk omg btw thx thnx tbh imo imho brb gonna wanna gotta ya yall "
    "cuz coz bc b4 gr8 ty tysm smh ikr jk nvm omw np fyi asap wtf wth af tho thru nite luv k kk ok okay "
    "dunno lemme gimme yep yup nope srsly prolly bday pic pics msg txt ppl".split()
)
# Contractions written without the apostrophe; ambiguous ones ("its", "were", "well", "ill", "id") left out.
MISSING_APOSTROPHE = frozenset(
    "dont cant wont didnt doesnt isnt wasnt werent arent couldnt shouldnt wouldnt havent hasnt hadnt "
    "im ive youre youve youll theyre theyve thats whats wheres theres heres hows lets shes hes aint "
    "wouldve couldve shouldve mustnt neednt yall".split()
)
# Words that are slang, contractions or acronyms are not counted as typos or OOV.
_NOT_TYPOS = SLANG | MISSING_APOSTROPHE


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


@lru_cache(maxsize=4)
def vocabulary(lang: str = "en", size: int = 100_000) -> frozenset[str]:
    """The `size` most frequent words of `lang` per wordfreq: a word outside it counts as out-of-vocabulary."""
    from wordfreq import top_n_list

    return frozenset(w.lower() for w in top_n_list(lang, size))


# --- patterns (compiled once) ------------------------------------------------------------------------

_SEP = "\n\x01\n"  # between texts in the joined corpus: no pattern below can match across it
_TOKEN = re.compile(r"[@#]\w+|https?://\S+|www\.\S+|[A-Za-z]+(?:'[A-Za-z]+)?|\x01")
_HANDLE = re.compile(r"(?<![\w@])@\w{1,30}")
_HASHTAG = re.compile(r"(?<![\w#&])#[A-Za-z_]\w*")
_URL = re.compile(r"https?://\S+|www\.\S+")
_ALLCAPS = re.compile(r"(?<![\w@#])[A-Z]{3,}(?![\w'])")
_LOWER_I = re.compile(r"(?<![\w'@#])i(?=[ ,.!?']|$)", re.M)
_ELONGATION = re.compile(r"\b\w*([A-Za-z])\1{2,}\w*\b")
_REPEATED_PUNCT = re.compile(r"[!?]{2,}|[!?]\.+|\.{4,}|,{2,}")
_EMOJI = re.compile(
    "[\U0001f300-\U0001faff\U00002600-\U000027bf\U0001f000-\U0001f2ff\U00002b00-\U00002bff\U0000fe0f]+"
)
_EMOTICON = re.compile(r"(?<![\w:])(?:[:;=8xX][-o*'^]?[)(\]\[dDpP/\\|oO3*]|<3|\^_\^|[)(]:|-_-|T_T|:'\()(?![\w])")
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


def corpus_profile(real_texts: Sequence[str], synthetic_texts: Sequence[str], *, n_boot: int = 300,
                   ci: float = 0.95, seed: int = 0, smoothed_below: float = 0.8, exaggerated_above: float = 1.25,
                   min_events: int = 5, vocab_lang: str = "en", bootstrap_max_n: int = 20_000,
                   real_counts: tuple[np.ndarray, np.ndarray] | None = None,
                   synthetic_counts: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, Any]:
    """Compare irregularity rates of two corpora.

    For each feature: real rate, synthetic rate (ratio of sums over texts), ratio synthetic/real with a
    percentile bootstrap CI, and a verdict: "smoothed" when the whole CI lies below `smoothed_below`,
    "exaggerated" when above `exaggerated_above`, else "preserved". Features with fewer than
    `min_events` occurrences in the real corpus get status "not_enough_data" (their ratio would be noise).
    smoothing_index = mean over judged irregularity features of clip(1 - ratio, 0, 1): 0 when every
    irregularity is kept, 1 when all are gone.
    """
    rng = np.random.default_rng(seed)
    if real_counts is None:
        real_counts = profile_counts(real_texts, vocab_lang)
    bounds = length_tail_bounds(length_words(real_counts[0]))
    if synthetic_counts is None:
        synthetic_counts = profile_counts(synthetic_texts, vocab_lang, length_bounds=bounds)
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
    alpha = (1 - ci) / 2
    features: dict[str, Any] = {}
    deficits = []
    for j, spec in enumerate(FEATURE_SPECS):
        real_events = float(rc[:, j].sum())
        entry: dict[str, Any] = {"real_rate": float(r_rate[j]), "synthetic_rate": float(s_rate[j]),
                                 "unit": spec.unit, "help": spec.help, "real_events": real_events,
                                 "synthetic_events": float(sc[:, j].sum())}
        if real_events < min_events or not np.isfinite(r_rate[j]) or r_rate[j] == 0:
            entry.update(status="not_enough_data", min_n=min_events, n=int(real_events), verdict=None,
                         ratio=None, ci=None)
        else:
            ratio = float(s_rate[j] / r_rate[j]) if np.isfinite(s_rate[j]) else float("nan")
            b = boot_ratio[:, j]
            b = b[np.isfinite(b)]
            lo, hi = (float(np.quantile(b, alpha)), float(np.quantile(b, 1 - alpha))) if len(b) else (ratio, ratio)
            if hi < smoothed_below:
                verdict = "smoothed"
            elif lo > exaggerated_above:
                verdict = "exaggerated"
            else:
                verdict = "preserved"
            entry.update(status="ok", ratio=ratio, ci=[lo, hi], verdict=verdict)
            if spec.irregularity and np.isfinite(ratio):
                deficits.append(min(max(1.0 - ratio, 0.0), 1.0))
        features[spec.name] = entry
    verdicts = [f["verdict"] for f in features.values() if f.get("verdict")]
    return {
        "n_real": len(rc), "n_synthetic": len(sc), "ci_level": ci, "n_boot": n_boot,
        "thresholds": {"smoothed_below": smoothed_below, "exaggerated_above": exaggerated_above,
                       "min_events": min_events},
        "length_tail_bounds_words": list(bounds),
        "smoothing_index": float(np.mean(deficits)) if deficits else None,
        "n_judged": len(deficits),
        "counts": {v: verdicts.count(v) for v in ("preserved", "smoothed", "exaggerated")},
        "features": features,
    }
