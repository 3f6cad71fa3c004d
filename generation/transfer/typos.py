"""The typo model: what the seeds' misspellings look like (edit types, frequency bands of the words meant,
the misspellings themselves), and how to make one more of the same kind."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from semisynth import lexicon as lx

from .kinds import VOWELS
from .profile import sentence_starts

EDIT_TYPES = ("deletion", "doubling", "transposition", "keyboard", "phonetic")
# Zipf-frequency bands of the intended word (wordfreq: log10 occurrences per billion words).
BANDS = ((0.0, 3.5), (3.5, 4.5), (4.5, 5.5), (5.5, 99.0))
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_PHONETIC = (("ie", "ei"), ("ei", "ie"), ("ance", "ence"), ("ence", "ance"), ("ible", "able"), ("able", "ible"),
             ("ant", "ent"), ("ent", "ant"), ("ph", "f"), ("ck", "k"), ("ise", "ize"), ("ize", "ise"),
             ("tion", "sion"), ("ea", "ee"), ("ee", "ea"), ("ite", "ate"), ("ate", "ite"), ("ou", "o"), ("y", "ie"),
             ("er", "or"), ("or", "er"), ("c", "s"), ("s", "z"), ("ay", "ai"), ("ai", "ay"), ("ly", "ley"))


def band_of(zipf: float) -> int:
    for i, (lo, hi) in enumerate(BANDS):
        if lo <= zipf < hi:
            return i
    return len(BANDS) - 1


def classify_typo(typo: str, word: str) -> str:
    """The edit that turns `word` into `typo`: deletion, doubling, transposition, keyboard or phonetic."""
    t, w = typo.lower(), word.lower()
    kb = lx.KEYBOARD_NEIGHBOURS
    if len(t) == len(w) - 1:
        for i in range(len(w)):
            if w[:i] + w[i + 1:] == t:
                return "deletion"
    elif len(t) == len(w) + 1:
        for i in range(len(t)):
            if t[:i] + t[i + 1:] == w:
                c = t[i]
                if (i > 0 and t[i - 1] == c) or (i + 1 < len(t) and t[i + 1] == c):
                    return "doubling"
                near = (t[i - 1] if i > 0 else "") + (t[i + 1] if i + 1 < len(t) else "")
                return "keyboard" if any(c in kb.get(x, "") for x in near) else "phonetic"
    elif len(t) == len(w):
        diff = [i for i in range(len(w)) if t[i] != w[i]]
        if len(diff) == 2 and diff[1] == diff[0] + 1 and t[diff[0]] == w[diff[1]] and t[diff[1]] == w[diff[0]]:
            return "transposition"
        if len(diff) == 1 and t[diff[0]] in kb.get(w[diff[0]], ""):
            return "keyboard"
    return "phonetic"


def _edits1(w: str) -> set[str]:
    splits = [(w[:i], w[i:]) for i in range(len(w) + 1)]
    return ({a + b[1:] for a, b in splits if b} | {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
            | {a + c + b[1:] for a, b in splits if b for c in _LETTERS} | {a + c + b for a, b in splits for c in _LETTERS})


@lru_cache(maxsize=1)
def _codespell_by_correct() -> dict[str, tuple[tuple[str, str], ...]]:
    """Correct word -> ((misspelling, edit type), ...) from codespell's list read backwards."""
    out: dict[str, list[tuple[str, str]]] = {}
    for typo, fix in lx.codespell_pairs():
        out.setdefault(fix, []).append((typo, classify_typo(typo, fix)))
    return {k: tuple(v) for k, v in out.items()}


@lru_cache(maxsize=1)
def _codespell_prior() -> dict[str, float]:
    """Edit-type shares over codespell's single-word misspellings: the prior the seeds update."""
    c = Counter(t for pairs in _codespell_by_correct().values() for _, t in pairs)
    total = sum(c.values())
    return {t: c[t] / total for t in EDIT_TYPES}


class TypoModel:
    """What the seeds' misspellings look like: edit types, frequency bands, the misspellings themselves."""

    PRIOR_WEIGHT = 5.0  # pseudo-typos from codespell's type mix, so a corpus with few typos still gets a mix

    def __init__(self, lang: str = "en"):
        self.lang = lang
        self.vocab = lx.vocabulary(lang)
        self.codespell = lx.typo_dictionary()
        self.type_counts: Counter = Counter()
        self.band_counts: Counter = Counter()
        self.observed: dict[str, list[str]] = {}  # intended -> misspellings seen in the seeds
        self.codespell_share = 0.5  # of the seeds' misspellings, the share codespell lists
        self._cache: dict[str, str | None] = {}

    def intended(self, token: str) -> str | None:
        """The word a misspelt token stands for, or None when it is a word (or not a typo we can tell)."""
        w = token.lower()
        if w in self._cache:
            return self._cache[w]
        out: str | None = None
        if len(w) >= 3 and w.isalpha() and w not in lx.NOT_TYPOS:
            if w in self.codespell:
                out = _codespell_first().get(w)
            elif w not in self.vocab:
                # a rare real word ("rebooked") is not a typo: the word meant must be far more frequent
                own = lx.zipf(w, self.lang)
                near = [c for c in _edits1(w) if c in self.vocab and len(c) >= 3
                        and lx.zipf(c, self.lang) >= max(3.0, own + 1.5)]
                out = max(near, key=lambda c: (lx.zipf(c, self.lang), c)) if near else None
        self._cache[w] = out
        return out

    def misspellings_in(self, text: str) -> list[tuple[str, str]]:
        """(typo, intended) for each misspelt word; capitalised words away from sentence starts are names."""
        starts = {m.start(1) for m in sentence_starts(text)}
        out = []
        for m in lx.WORD.finditer(text):
            tok = m.group(0)
            if tok[0].isupper() and m.start() not in starts:
                continue
            word = self.intended(tok)
            if word is not None:
                out.append((tok.lower(), word))
        return out

    def fit(self, texts: Iterable[str]) -> TypoModel:
        n_codespell = n = 0
        for text in texts:
            for typo, word in self.misspellings_in(text):
                self.type_counts[classify_typo(typo, word)] += 1
                self.band_counts[band_of(lx.zipf(word, self.lang))] += 1
                self.observed.setdefault(word, []).append(typo)
                n += 1
                n_codespell += typo in self.codespell
        self.codespell_share = (n_codespell + 1) / (n + 2)
        return self

    def type_weights(self) -> dict[str, float]:
        prior = _codespell_prior()
        return {t: self.type_counts[t] + self.PRIOR_WEIGHT * prior[t] for t in EDIT_TYPES}

    def band_weights(self) -> list[float]:
        return [self.band_counts[b] + 1.0 for b in range(len(BANDS))]  # Laplace: every band possible

    def summary(self) -> dict[str, Any]:
        return {"misspellings": sum(self.type_counts.values()),
                "edit_types": {t: self.type_counts[t] for t in EDIT_TYPES},
                "bands": {f"{lo}-{hi}": self.band_counts[i] for i, (lo, hi) in enumerate(BANDS)},
                "codespell_share": round(self.codespell_share, 3)}

    def _is_word(self, w: str) -> bool:
        return w in self.vocab or self.intended(w) is None and lx.zipf(w, self.lang) >= 1.0

    def generate(self, word: str, edit_type: str, rng: random.Random) -> str | None:
        """A misspelling of `word` (lowercase) by `edit_type`, not itself a word; None when none fits."""
        n = len(word)
        cands: list[str] = []
        if edit_type == "deletion":
            cands = [word[:i] + word[i + 1:] for i in range(1, n)]
        elif edit_type == "doubling":
            cands = [word[:i + 1] + word[i] + word[i + 1:] for i in range(1, n) if word[i] not in VOWELS
                     and word[i] != word[i - 1] and (i + 1 >= n or word[i + 1] != word[i])]
        elif edit_type == "transposition":
            cands = [word[:i] + word[i + 1] + word[i] + word[i + 2:] for i in range(1, n - 1) if word[i] != word[i + 1]]
        elif edit_type == "keyboard":
            cands = [word[:i] + c + word[i + 1:] for i in range(1, n) for c in lx.KEYBOARD_NEIGHBOURS.get(word[i], "")]
        elif edit_type == "phonetic":
            cands = [word[:i] + b + word[i + len(a):] for a, b in _PHONETIC for i in range(1, n)
                     if word.startswith(a, i)]
            if word.endswith("ing") and n > 5:
                cands.append(word[:-1])  # g-dropping: goin, nothin
        cands = [c for c in dict.fromkeys(cands) if c != word and c.isalpha() and not self._is_word(c)]
        return rng.choice(cands) if cands else None

    def misspell(self, word: str, rng: random.Random, parent_typos: Mapping[str, str]) -> tuple[str, str] | None:
        """(misspelling, edit type): the parent's own, one seen in the seeds, codespell's, or a generated one."""
        w = word.lower()
        if w in parent_typos:
            t = parent_typos[w]
            return t, classify_typo(t, w)
        if w in self.observed:
            t = rng.choice(sorted(self.observed[w]))
            return t, classify_typo(t, w)
        weights = self.type_weights()
        types = list(EDIT_TYPES)
        first = rng.choices(types, weights=[weights[t] for t in types])[0]
        known = [p for p in _codespell_by_correct().get(w, ()) if p[0] not in self.vocab]
        if known and rng.random() < self.codespell_share:
            same = [p for p in known if p[1] == first]
            return rng.choice(sorted(same or known))
        for t in [first] + sorted((t for t in types if t != first), key=lambda t: -weights[t]):
            out = self.generate(w, t, rng)
            if out is not None:
                return out, t
        return None


@lru_cache(maxsize=1)
def _codespell_first() -> dict[str, str]:
    out: dict[str, str] = {}
    for typo, fix in lx.codespell_pairs():
        out.setdefault(typo, fix)
    return out
