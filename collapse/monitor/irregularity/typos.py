"""The typo lexicon and edit classes: codespell's misspellings, the most frequent word one edit away, which edit
(deletion, insertion, transposition, neighbouring key) and where; and naive keyboard noise to test against."""


import random
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from semisynth.lexicon import (
    NOT_TYPOS,
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



EDIT_TYPES = ("deletion", "insertion", "transposition", "keyboard_substitution", "other")
_QWERTY = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_KEY_POS = {c: (r, i) for r, row in enumerate(_QWERTY) for i, c in enumerate(row)}


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
    return EDIT_TYPES.index(kind), where, band


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
