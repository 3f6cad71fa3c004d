"""Kinds of irregularity: the shape of real typing (which edits, where in the word, on which words, where casing
breaks), compared real vs synthetic as categorical distributions."""


import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from semisynth.collapse.monitor.irregularity.features import SENTENCE_START, join_texts
from semisynth.collapse.monitor.irregularity.typos import EDIT_TYPES, typo_event
from semisynth.lexicon import ALLCAPS, LOWER_I

#
# Rates alone are fooled by naive noise: random keyboard edits at the real typo rate give the right
# typo rate. What real typing has is a *shape*: which edits (a dropped or doubled letter, two letters
# swapped, a neighbouring key), where in the word (rarely the first letter), on which words (common
# ones), and where casing breaks (a lowercase sentence start, "i", a word in caps, not "heLlo").
# Each kind feature is a categorical distribution of events, compared real vs synthetic by the
# Jensen-Shannon divergence with a permutation test over texts (events of one text stay together).

KIND_FEATURES: dict[str, tuple[str, ...]] = {
    "typo_edit_type": EDIT_TYPES,
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
_KIND_WORD = re.compile(r"(?<![@#/\w.'<])[A-Za-z]{3,}(?![\w'/@>])")
_MID_CAPITAL = re.compile(r"(?<=[a-z,;:] )([A-Z][a-z]+)\b")
_MIXED_CASE = re.compile(r"(?<![@#\w])(?:[a-z]+[A-Z]|[A-Z][a-z]+[A-Z]|[A-Z]{2,}[a-z])[A-Za-z]*")
_FUNCTION_WORDS = frozenset(
    "the a an to of and or but in on at for with from by is was are were be been am it its this that these those "
    "my your our their his her me you we they he she us them so just not no can will would could should do did "
    "does have has had get got very all any some there here what when where why how if then than too also".split())



def kind_counts(texts: Sequence[str], lang: str = "en") -> dict[str, np.ndarray]:
    """Per-text event counts of each kind feature: {name: (n, categories)}."""
    n = len(texts)
    out = {k: np.zeros((n, len(c))) for k, c in KIND_FEATURES.items()}
    if n == 0:
        return out
    corpus, starts = join_texts(texts)
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

    add(0, [m.start(1) for m in SENTENCE_START.finditer(corpus) if m.group(1).islower()])
    add(1, [m.start() for m in LOWER_I.finditer(corpus)])
    add(2, [m.start() for m in ALLCAPS.finditer(corpus)])
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
              min_events: int = 20, synthetic_groups: np.ndarray | None = None) -> dict[str, Any]:
    """JS divergence of the pooled category distributions and its permutation p-value.

    Texts are exchanged between the corpora (not single events): under "same distribution" the labels of
    whole texts are exchangeable. Only texts with events matter to the sums, so a permutation draws how
    many of them land on the synthetic side (hypergeometric) and which. With `synthetic_groups` (the seed of
    each variant) one variant per seed is tested (seeded pick): variants of one seed are not exchangeable with
    independent texts, and counting both would make one seed's habits look like the synthetic side's.
    """
    if synthetic_groups is not None and len(synthetic):
        order = rng.permutation(len(synthetic))
        _, pick = np.unique(np.asarray(synthetic_groups)[order], return_index=True)
        synthetic = synthetic[np.sort(order[pick])]
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

