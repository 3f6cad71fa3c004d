"""A text under edit: what must never change (numbers, names, placeholders, handles, ...), which characters
are already edited, the log of edits; and the small draws the appliers share."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from semisynth import lexicon as lx

from .edits import Edit
from .kinds import INNER_CAP, VOWELS, common_words
from .profile import n_words, names_in

_NUMBERISH = re.compile(r"[$€£¥]?\w*\d(?:[\w$€£%/:.,'-]*\w)?%?")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b")
_ENTITY = re.compile(r"&#?\w+;")  # HTML entities left in scraped text (&amp;)


def protected_mask(text: str, names: Iterable[str] = ()) -> list[bool]:
    """True for every character of a token the stage must never edit (see module docstring)."""
    mask = [False] * len(text)

    def cover(a: int, b: int) -> None:
        for i in range(a, b):
            mask[i] = True

    for pat in (lx.PLACEHOLDER, lx.URL, _EMAIL, lx.HANDLE, lx.HASHTAG, _NUMBERISH, INNER_CAP, _ENTITY, lx.EMOTICON,
                lx.EMOJI):
        for m in pat.finditer(text):
            cover(m.start(), m.end())
    names = set(names) | names_in(text)
    protected_words = lx.MONTHS | lx.WEEKDAYS | lx.NUMBER_WORDS
    common = common_words()  # a capital at a sentence start on one of these says nothing
    for m in lx.WORD.finditer(text):
        w = m.group(0).lower()
        capital = m.group(0)[0].isupper() and m.group(0) != "I" and "'" not in w
        # a capitalised word that is not a common lowercase word is a name, even at a sentence start
        if w in protected_words or (capital and (w in names or w not in common)):
            cover(m.start(), m.end())
    return mask


class Document:
    """A text being edited: protected and already-edited characters are locked; edits are logged."""

    def __init__(self, text: str, names: frozenset[str], turn: int | None):
        self.text = text
        self.locked = protected_mask(text, names)
        self.edits: list[Edit] = []
        self.turn = turn

    def free(self, a: int, b: int) -> bool:
        if a == b:  # an insertion: not inside a locked token
            return not (0 < a < len(self.text) and self.locked[a - 1] and self.locked[a])
        return not any(self.locked[a:b])

    def edit(self, kind: str, pos: int, before: str, after: str, edit_type: str | None = None) -> None:
        assert self.text[pos:pos + len(before)] == before
        self.text = self.text[:pos] + after + self.text[pos + len(before):]
        self.locked[pos:pos + len(before)] = [True] * len(after)
        self.edits.append(Edit(kind, pos, before, after, self.turn, edit_type))

    def n_words(self) -> int:
        return n_words(self.text)


def draw_count(expected: float, rng: random.Random) -> int:
    """An integer with this expectation (stochastic rounding: rates hold on average, even per short text)."""
    if expected <= 0:
        return 0
    k = int(expected)
    return k + (1 if rng.random() < expected - k else 0)


def pick(cands: Sequence[Any], k: int, rng: random.Random, weights: Sequence[float] | None = None) -> list[Any]:
    """k distinct candidates (weighted without replacement), returned right to left by position."""
    cands = list(cands)
    w = list(weights) if weights is not None else [1.0] * len(cands)
    out = []
    while cands and len(out) < k:
        i = rng.choices(range(len(cands)), weights=w)[0] if any(w) else rng.randrange(len(cands))
        out.append(cands.pop(i))
        w.pop(i)
    return sorted(out, key=lambda c: c[0], reverse=True)


def match_case(src: str, new: str) -> str:
    if src.isupper() and len(src) > 1:
        return new.upper()
    if src[:1].isupper():
        return new[:1].upper() + new[1:]
    return new


def end_insertion_point(text: str) -> int:
    """Where trailing material goes: the end of the text, before trailing whitespace."""
    return len(text.rstrip())


def stretch_index(w: str) -> int | None:
    """The letter people stretch: the last vowel (not a silent final e), or a final vowel/y ("sooo", "heyyy")."""
    lw = w.lower()
    if len(lw) < 2:
        return None
    if lw[-1] in VOWELS + "y" and (len(lw) <= 3 or lw[-1] != "e"):
        return len(lw) - 1
    for i in range(len(lw) - 2, -1, -1):
        if lw[i] in VOWELS:
            return i
    return None


@lru_cache(maxsize=1)
def slang_phrases() -> re.Pattern[str]:
    keys = sorted(lx.SLANG_FOR, key=len, reverse=True)
    alts = "|".join(re.escape(k).replace("'", "['’]") for k in keys)
    return re.compile(rf"(?<![\w'’@#<])(?:{alts})(?![\w'’>])", re.IGNORECASE)
