"""Irregularity transfer: put back the kinds of mess the parent seed had and the model smoothed away.

Small and large models both "clean up" when they rewrite, whatever the prompt says. This stage runs
after a variant passed the output checks. It profiles the parent seed (how often it writes sentences
without a capital, "i", ALL CAPS, "dont", "sooo", "!!", emoticons, slang, handles, typos), measures the
same on the model's output, and adds the deficit, at the parent's rate per opportunity (per word, per
sentence start, per pronoun "I", per contraction). Pure synthetic records, having no parent, draw from
the profile of all seeds pooled.

Typos are real kinds: the seeds' own misspellings (an out-of-vocabulary token one edit away from a
frequent word, or a codespell entry) teach the mix of edit types (deletion, doubling, transposition,
keyboard-adjacent substitution, phonetic) and the frequency band of the words people misspell; the
misspelling itself is, in order of preference, the parent's own, one seen in the seeds, codespell's list
read backwards (correct word -> its common misspellings), or an edit of the drawn type.

Never edited: numbers, amounts, dates, codes (any token with a digit or an inner capital, ALL-CAPS),
names (capitalised words not at a sentence start, and any word the parent capitalised mid-sentence),
PII placeholders (<EMAIL>, <URL>, ...), @handles, #hashtags, URLs, and a conversation's roles (only a
turn's content is edited). Every edit is an `Edit` in `lineage.transfer`, in the order applied, with its
position in the text as it was at that moment; `undo_edits` replays them backwards to the clean model
output, byte for byte. Deterministic: the rng is seeded from the run seed and the task id.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from semisynth import lexicon as lx
from semisynth.records import Message, Record

KINDS = ("handle", "hashtag", "url", "slang", "lowercase_i", "missing_apostrophe", "lowercase_sentence_start",
         "allcaps", "elongation", "typo", "repeated_punct", "emoticon", "emoji")
ENGLISH_ONLY = frozenset({"slang", "lowercase_i", "missing_apostrophe", "typo"})
EDIT_TYPES = ("deletion", "doubling", "transposition", "keyboard", "phonetic")
# Zipf-frequency bands of the intended word (wordfreq: log10 occurrences per billion words).
BANDS = ((0.0, 3.5), (3.5, 4.5), (4.5, 5.5), (5.5, 99.0))
# Generators that get the stage by default; the clean paraphrase never does.
TRANSFER_GENERATORS = ("paraphrase:keep_irregularities", "seeded_synthetic", "pure_synthetic")

_NUMBERISH = re.compile(r"[$€£¥]?\w*\d(?:[\w$€£%/:.,'-]*\w)?%?")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b")
_INNER_CAP = re.compile(r"\b[A-Za-z]+[A-Z][A-Za-z]*\b")  # PHL, iPhone, McDonald, LUV
_ENTITY = re.compile(r"&#?\w+;")  # HTML entities left in scraped text (&amp;)
_CAPWORD = re.compile(r"\b[A-Z][a-z]+(?:'[a-z]+)?\b")
_CONTRACTION = re.compile(r"(?<![\w@#])([A-Za-z]+)(['’])([A-Za-z]+)(?![\w'’])")
_LEAD = re.compile(r"^(?:\s*(?:@\w+|<HANDLE>)[ \t]*)+")
_TERMINAL = re.compile(r"(?<![.!?,])([.!?])(?![.!?,\w])")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_VOWELS = "aeiou"
_EMPHASIS = frozenset("not never no all still worst best every only really very now again always hours days so "
                      "please help why what love hate thanks great terrible awful horrible ever nothing".split())
_ELONGATABLE = frozenset("so no yes please thanks thank love what really hey oh why now very sorry good cool nice "
                         "long hate way too much all and omg ugh lol ok okay wow yay finally well sure".split())
_PHONETIC = (("ie", "ei"), ("ei", "ie"), ("ance", "ence"), ("ence", "ance"), ("ible", "able"), ("able", "ible"),
             ("ant", "ent"), ("ent", "ant"), ("ph", "f"), ("ck", "k"), ("ise", "ize"), ("ize", "ise"),
             ("tion", "sion"), ("ea", "ee"), ("ee", "ea"), ("ite", "ate"), ("ate", "ite"), ("ou", "o"), ("y", "ie"),
             ("er", "or"), ("or", "er"), ("c", "s"), ("s", "z"), ("ay", "ai"), ("ai", "ay"), ("ly", "ley"))


# --- edits ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Edit:
    """One change: at `position` (in the text as it was when the edit was made) `before` became `after`."""

    kind: str
    position: int
    before: str
    after: str
    turn: int | None = None  # index of the message, for conversations
    edit_type: str | None = None  # typos only: deletion | doubling | transposition | keyboard | phonetic

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "position": self.position, "before": self.before, "after": self.after}
        if self.turn is not None:
            d["turn"] = self.turn
        if self.edit_type is not None:
            d["edit_type"] = self.edit_type
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Edit:
        return cls(d["kind"], int(d["position"]), d["before"], d["after"], d.get("turn"), d.get("edit_type"))


def undo_edits(text: str, edits: Sequence[Edit]) -> str:
    """The text before `edits` were applied (they are replayed backwards; each is checked)."""
    for e in reversed(edits):
        end = e.position + len(e.after)
        if text[e.position:end] != e.after:
            raise ValueError(f"edit {e.to_dict()} does not match the text at {e.position}: {text[e.position:end]!r}")
        text = text[:e.position] + e.before + text[end:]
    return text


def undo_transfer_record(record: Record) -> Record:
    """The record as the model wrote it: transfer edits undone, `lineage.transfer` cleared, id recomputed."""
    edits = [Edit.from_dict(d) for d in record.lineage.transfer]
    if not edits:
        return record
    lineage = replace(record.lineage, transfer=())
    if record.messages:
        msgs = list(record.messages)
        for turn in sorted({e.turn for e in edits if e.turn is not None}, reverse=True):
            mine = [e for e in edits if e.turn == turn]
            msgs[turn] = Message(msgs[turn].role, undo_edits(msgs[turn].content, mine))
        return record.evolve(messages=tuple(msgs), lineage=lineage)
    return record.evolve(text=undo_edits(record.text or "", edits), lineage=lineage)


def undo_transfer(record: Record) -> str:
    """The clean model output (`content`: text, or the turns joined by newlines) before transfer."""
    return undo_transfer_record(record).content


# --- profiles ------------------------------------------------------------------------------------


@dataclass
class Profile:
    """Irregularity events and their opportunities in one text (or pooled over a corpus)."""

    counts: Counter = field(default_factory=Counter)
    opps: Counter = field(default_factory=Counter)
    pools: dict[str, list[str]] = field(default_factory=dict)  # observed forms: emoticons, slang, "!!", ...
    lead: list[str] = field(default_factory=list)  # leading handles/placeholders ("<HANDLE> thanks...")
    lead_share: float = 0.0  # share of texts that start with a handle (1/0 for one text)
    names: frozenset[str] = frozenset()  # lowercase words the text capitalises mid-sentence
    typos: dict[str, str] = field(default_factory=dict)  # intended word -> the misspelling seen

    def rate(self, kind: str) -> float:
        return self.counts[kind] / self.opps[kind] if self.opps[kind] else 0.0

    def pool(self, kind: str) -> list[str]:
        return self.pools.get(kind, [])


def _n_words(text: str) -> int:
    """Words as the monitor counts them: tokens other than @handles, #hashtags and URLs."""
    return sum(1 for t in lx.TOKEN.findall(text) if t[0] not in "@#" and not t.startswith(("http", "www.")))


def _words(text: str) -> list[re.Match[str]]:
    return list(lx.WORD.finditer(text))


def _sentence_starts(text: str) -> list[re.Match[str]]:
    return list(lx.SENTENCE_START.finditer(text))


def names_in(text: str) -> set[str]:
    """Lowercase forms of words capitalised away from a sentence start (names, brands, places)."""
    starts = {m.start(1) for m in _sentence_starts(text)}
    out = set()
    for m in _CAPWORD.finditer(text):
        if m.start() not in starts and m.group(0) != "I" and not m.group(0).startswith("I'"):
            out.add(m.group(0).lower())
    for m in _INNER_CAP.finditer(text):
        out.add(m.group(0).lower())
    return out


def _count_kinds(text: str, typo_model: TypoModel | None) -> tuple[Counter, Counter, dict[str, list[str]],
                                                                    dict[str, str]]:
    counts: Counter = Counter()
    opps: Counter = Counter()
    pools: dict[str, list[str]] = {}
    words = _words(text)
    n_words = _n_words(text)
    for k in ("handle", "hashtag", "url", "slang", "allcaps", "elongation", "typo", "repeated_punct", "emoticon",
              "emoji"):
        opps[k] = n_words
    lead = _LEAD.match(text)
    handles = lx.HANDLE.findall(text[lead.end() if lead else 0:]) + re.findall(r"<HANDLE>", text[lead.end() if lead else 0:])
    urls = lx.URL.findall(text) + re.findall(r"<URL>", text)
    tags = lx.HASHTAG.findall(text)
    counts["handle"], counts["url"], counts["hashtag"] = len(handles), len(urls), len(tags)
    pools["handle"], pools["url"], pools["hashtag"] = handles, urls, tags
    slang = [m.group(0).lower() for m in words if m.group(0).lower() in lx.SLANG]
    counts["slang"], pools["slang"] = len(slang), slang
    counts["allcaps"] = len(lx.ALLCAPS.findall(lx.PLACEHOLDER.sub("<>", text)))  # emphasis, not <HANDLE>
    elong = [m.group(0) for m in lx.ELONGATION.finditer(text)]
    counts["elongation"] = len(elong)
    pools["elongation"] = [str(max(len(g.group(0)) for g in re.finditer(r"([A-Za-z])\1{2,}", w))) for w in elong]
    punct = lx.REPEATED_PUNCT.findall(text)
    counts["repeated_punct"], pools["repeated_punct"] = len(punct), punct
    emot = lx.EMOTICON.findall(text)
    counts["emoticon"], pools["emoticon"] = len(emot), emot
    emoji = lx.EMOJI.findall(text)
    counts["emoji"], pools["emoji"] = len(emoji), emoji
    pron = lx.PRONOUN_I.findall(text)
    counts["lowercase_i"], opps["lowercase_i"] = sum(1 for p in pron if p == "i"), len(pron)
    starts = _sentence_starts(text)
    counts["lowercase_sentence_start"] = sum(1 for m in starts if m.group(1).islower())
    opps["lowercase_sentence_start"] = len(starts)
    missing = sum(1 for m in words if m.group(0).lower() in lx.MISSING_APOSTROPHE)
    with_ap = sum(1 for m in _CONTRACTION.finditer(text) if (m.group(1) + m.group(3)).lower() in lx.MISSING_APOSTROPHE)
    counts["missing_apostrophe"], opps["missing_apostrophe"] = missing, missing + with_ap
    typos: dict[str, str] = {}
    if typo_model is not None:
        for typo, intended in typo_model.misspellings_in(text):
            typos.setdefault(intended, typo)
        counts["typo"] = len(typo_model.misspellings_in(text))
    return counts, opps, pools, typos


def profile_text(text: str, typo_model: TypoModel | None = None) -> Profile:
    counts, opps, pools, typos = _count_kinds(text, typo_model)
    lead = _LEAD.match(text)
    lead_tokens = lead.group(0).split() if lead else []
    return Profile(counts, opps, pools, lead_tokens, 1.0 if lead_tokens else 0.0, frozenset(names_in(text)), typos)


def pool_profiles(profiles: Iterable[Profile]) -> Profile:
    """The corpus-level profile: events and opportunities summed, observed forms pooled."""
    out = Profile()
    n = n_lead = 0
    leads: list[str] = []
    for p in profiles:
        out.counts.update(p.counts)
        out.opps.update(p.opps)
        for k, v in p.pools.items():
            out.pools.setdefault(k, []).extend(v)
        for k, v in p.typos.items():
            out.typos.setdefault(k, v)
        n += 1
        if p.lead:
            n_lead += 1
            leads.append(" ".join(p.lead))
    out.lead_share = n_lead / n if n else 0.0
    out.pools["lead"] = leads
    return out


# --- typos ---------------------------------------------------------------------------------------


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
        starts = {m.start(1) for m in _sentence_starts(text)}
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
            cands = [word[:i + 1] + word[i] + word[i + 1:] for i in range(1, n) if word[i] not in _VOWELS
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


# --- the transfer --------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _common_words() -> frozenset[str]:
    """Words common enough in lowercase that a capital at a sentence start says nothing (top 30k)."""
    from wordfreq import top_n_list

    return frozenset(top_n_list("en", 30_000))


def protected_mask(text: str, names: Iterable[str] = ()) -> list[bool]:
    """True for every character of a token the stage must never edit (see module docstring)."""
    mask = [False] * len(text)

    def cover(a: int, b: int) -> None:
        for i in range(a, b):
            mask[i] = True

    for pat in (lx.PLACEHOLDER, lx.URL, _EMAIL, lx.HANDLE, lx.HASHTAG, _NUMBERISH, _INNER_CAP, _ENTITY, lx.EMOTICON,
                lx.EMOJI):
        for m in pat.finditer(text):
            cover(m.start(), m.end())
    names = set(names) | names_in(text)
    protected_words = lx.MONTHS | lx.WEEKDAYS | lx.NUMBER_WORDS
    common = _common_words()
    for m in lx.WORD.finditer(text):
        w = m.group(0).lower()
        capital = m.group(0)[0].isupper() and m.group(0) != "I" and "'" not in w
        # a capitalised word that is not a common lowercase word is a name, even at a sentence start
        if w in protected_words or (capital and (w in names or w not in common)):
            cover(m.start(), m.end())
    return mask


class _Doc:
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
        return _n_words(self.text)


def _draw(expected: float, rng: random.Random) -> int:
    """An integer with this expectation (stochastic rounding: rates hold on average, even per short text)."""
    if expected <= 0:
        return 0
    k = int(expected)
    return k + (1 if rng.random() < expected - k else 0)


def _pick(cands: Sequence[Any], k: int, rng: random.Random, weights: Sequence[float] | None = None) -> list[Any]:
    """k distinct candidates (weighted without replacement), returned right to left by position."""
    cands = list(cands)
    w = list(weights) if weights is not None else [1.0] * len(cands)
    out = []
    while cands and len(out) < k:
        i = rng.choices(range(len(cands)), weights=w)[0] if any(w) else rng.randrange(len(cands))
        out.append(cands.pop(i))
        w.pop(i)
    return sorted(out, key=lambda c: c[0], reverse=True)


def _match_case(src: str, new: str) -> str:
    if src.isupper() and len(src) > 1:
        return new.upper()
    if src[:1].isupper():
        return new[:1].upper() + new[1:]
    return new


def _end_insertion_point(text: str) -> int:
    """Where trailing material goes: the end of the text, before trailing whitespace."""
    return len(text.rstrip())


class TransferModel:
    """Fitted once per run on all seeds; `apply` is a pure function of (record parts, parent, seed)."""

    def __init__(self, seeds: Sequence[Record], generators: Sequence[str] = TRANSFER_GENERATORS, lang: str = "en"):
        bad = [g for g in generators if g not in TRANSFER_GENERATORS]
        if bad:
            raise ValueError(f"no transfer for {bad}: only {', '.join(TRANSFER_GENERATORS)}")
        self.generators = tuple(generators)
        self.typos = TypoModel(lang).fit(s.content for s in seeds if s.language == lang)
        self._profiles: dict[str, list[Profile]] = {}
        self.corpus = pool_profiles(self.profiles(s)[-1] for s in seeds)

    def profiles(self, seed: Record) -> list[Profile]:
        """One profile per turn, plus the whole record's as the last element."""
        if seed.id not in self._profiles:
            model = self.typos if seed.language == self.typos.lang else None
            turns = [profile_text(m.content, model) for m in seed.messages] if seed.messages else []
            self._profiles[seed.id] = turns + [profile_text(seed.content, model)]
        return self._profiles[seed.id]

    def applies(self, generator: str) -> bool:
        """The clean paraphrase never gets transfer, whatever the list says."""
        return generator in self.generators and generator != "paraphrase:clean"

    def summary(self) -> dict[str, Any]:
        return {"generators": list(self.generators), "typos": self.typos.summary(), "lead_share": round(self.corpus.lead_share, 3),
                "corpus_rates": {k: round(self.corpus.rate(k), 5) for k in KINDS}}

    # -- one record -----------------------------------------------------------------------------
    def apply(self, text: str | None, messages: Sequence[Message] | None, parent: Record | None, language: str,
              rng_seed: int) -> tuple[str | None, tuple[Message, ...] | None, tuple[Edit, ...]]:
        rng = random.Random(rng_seed)
        english = language == self.typos.lang or (parent is not None and parent.language == self.typos.lang)
        if parent is None:
            profs, names = None, frozenset()
        else:
            profs = self.profiles(parent)
            names = frozenset().union(*(p.names for p in profs))
        if messages:
            out_msgs, edits = [], []
            same_turns = profs is not None and len(profs) - 1 == len(messages)
            for i, m in enumerate(messages):
                prof = (profs[i] if same_turns else profs[-1]) if profs else self.corpus
                doc = _Doc(m.content, names, i)
                self._transfer(doc, prof, rng, english, corpus=profs is None)
                out_msgs.append(Message(m.role, doc.text))
                edits += doc.edits
            return None, tuple(out_msgs), tuple(edits)
        doc = _Doc(text or "", names, None)
        self._transfer(doc, profs[-1] if profs else self.corpus, rng, english, corpus=profs is None)
        return doc.text, None, tuple(doc.edits)

    def _transfer(self, doc: _Doc, p: Profile, rng: random.Random, english: bool, corpus: bool) -> None:
        if not doc.text.strip():
            return
        def deficit(kind: str) -> int:
            cur, opp = _count_kinds(doc.text, None)[:2]
            return _draw(p.rate(kind) * opp[kind] - cur[kind], rng)

        self._lead(doc, p, rng, corpus)
        for kind in ("hashtag", "url", "handle"):
            self._append_tokens(doc, kind, p, deficit(kind), rng)
        if english:
            self._slang(doc, p, deficit("slang"), rng)
            self._lowercase_i(doc, deficit("lowercase_i"), rng)
            self._apostrophes(doc, deficit("missing_apostrophe"), rng)
        self._sentence_starts(doc, deficit("lowercase_sentence_start"), rng)
        self._allcaps(doc, deficit("allcaps"), rng)
        self._elongate(doc, p, deficit("elongation"), rng)
        if english:
            self._typos(doc, p, rng)
        self._punct(doc, p, deficit("repeated_punct"), rng)
        for kind in ("emoticon", "emoji"):
            self._append_tokens(doc, kind, p, deficit(kind), rng, sentence_end=True)

    # -- kinds ----------------------------------------------------------------------------------
    def _lead(self, doc: _Doc, p: Profile, rng: random.Random, corpus: bool) -> None:
        """The parent's leading handles ("<HANDLE> my bag..."), when the output has none of them anywhere."""
        if _LEAD.match(doc.text):
            return
        lead = p.lead if not corpus else []
        if corpus and p.pool("lead") and rng.random() < p.lead_share:
            lead = rng.choice(p.pool("lead")).split()
        present = len(lx.HANDLE.findall(doc.text)) + doc.text.count("<HANDLE>")
        if lead and present < len(lead) + (0 if corpus else p.counts["handle"]):
            doc.edit("handle", 0, "", " ".join(lead) + " ")

    def _append_tokens(self, doc: _Doc, kind: str, p: Profile, k: int, rng: random.Random,
                       sentence_end: bool = False) -> None:
        pool = p.pool(kind) or self.corpus.pool(kind)
        if k <= 0 or not pool:
            return
        ends = [_end_insertion_point(doc.text)]
        if sentence_end:  # after a sentence's terminal punctuation, before the next sentence
            ends += [m.end() for m in re.finditer(r"[.!?](?=\s+\S)", doc.text)]
        for _ in range(k):
            pos = rng.choice(ends)
            if not doc.free(pos, pos):
                continue
            tok = rng.choice(pool)
            doc.edit(kind, pos, "", " " + tok)
            ends = [e + (len(tok) + 1 if e >= pos else 0) for e in ends]

    def _slang(self, doc: _Doc, p: Profile, k: int, rng: random.Random) -> None:
        if k <= 0:
            return
        liked = set(p.pool("slang")) or set(self.corpus.pool("slang"))
        cands = []
        for m in _slang_phrases().finditer(doc.text):
            forms = lx.SLANG_FOR[m.group(0).lower().replace("’", "'")]
            if doc.free(m.start(), m.end()):
                pref = [f for f in forms if f in liked]
                cands.append((m.start(), m.group(0), pref[0] if pref else forms[0], 5.0 if pref else 1.0))
        picked = _pick([c[:3] for c in cands], k, rng, [c[3] for c in cands])
        for pos, before, form in picked:
            doc.edit("slang", pos, before, form.upper() if before.isupper() and len(before) > 1 else form)
        rest = k - len(picked)
        inter = sorted(s for s in liked if s in lx.INTERJECTION_SLANG) or \
            sorted(s for s in self.corpus.pool("slang") if s in lx.INTERJECTION_SLANG)
        if rest > 0 and inter:
            self._append_tokens(doc, "slang", Profile(pools={"slang": [rng.choice(inter)]}), rest, rng,
                                sentence_end=True)

    def _lowercase_i(self, doc: _Doc, k: int, rng: random.Random) -> None:
        cands = [(m.start(), "I") for m in lx.PRONOUN_I.finditer(doc.text)
                 if m.group(0) == "I" and doc.free(m.start(), m.start() + 1)]
        for pos, _ in _pick(cands, k, rng):
            doc.edit("lowercase_i", pos, "I", "i")

    def _apostrophes(self, doc: _Doc, k: int, rng: random.Random) -> None:
        cands = [(m.start(2), m.group(2)) for m in _CONTRACTION.finditer(doc.text)
                 if (m.group(1) + m.group(3)).lower() in lx.MISSING_APOSTROPHE and doc.free(m.start(), m.end())]
        for pos, ap in _pick(cands, k, rng):
            doc.edit("missing_apostrophe", pos, ap, "")

    def _sentence_starts(self, doc: _Doc, k: int, rng: random.Random) -> None:
        cands = []
        for m in _sentence_starts(doc.text):
            pos = m.start(1)
            word = re.match(r"[A-Za-z]+", doc.text[pos:])
            w = word.group(0) if word else ""
            if m.group(1).isupper() and w not in ("I",) and not (len(w) > 1 and w.isupper()) \
                    and doc.free(pos, pos + len(w)):
                cands.append((pos, m.group(1)))
        for pos, ch in _pick(cands, k, rng):
            doc.edit("lowercase_sentence_start", pos, ch, ch.lower())

    def _allcaps(self, doc: _Doc, k: int, rng: random.Random) -> None:
        cands, weights = [], []
        for m in lx.WORD.finditer(doc.text):
            w = m.group(0)
            if (len(w) >= 3 and w.isalpha() and w.islower() and w not in lx.STOPWORDS
                    and doc.free(m.start(), m.end())):
                cands.append((m.start(), w))
                weights.append(4.0 if w.lower() in _EMPHASIS else 1.0)
        for pos, w in _pick(cands, k, rng, weights):
            doc.edit("allcaps", pos, w, w.upper())

    def _elongate(self, doc: _Doc, p: Profile, k: int, rng: random.Random) -> None:
        runs = [int(x) for x in (p.pool("elongation") or self.corpus.pool("elongation"))] or [3, 4]
        cands, weights = [], []
        for m in lx.WORD.finditer(doc.text):
            w = m.group(0)
            if not w.isalpha() or len(w) > 7 or not doc.free(m.start(), m.end()) or w.isupper() and len(w) > 1:
                continue
            i = _stretch_index(w)
            if i is not None:
                cands.append((m.start() + i, w[i]))
                weights.append(6.0 if w.lower() in _ELONGATABLE else 1.0)
        for pos, ch in _pick(cands, k, rng, weights):
            n = max(3, min(rng.choice(runs), 8))
            doc.edit("elongation", pos + 1, "", ch * (n - 1))

    def _typos(self, doc: _Doc, p: Profile, rng: random.Random) -> None:
        model = self.typos
        cur = len(model.misspellings_in(doc.text))
        k = _draw(p.rate("typo") * doc.n_words() - cur, rng)
        if k <= 0:
            return
        band_w = model.band_weights()
        starts = {m.start(1) for m in _sentence_starts(doc.text)}
        cands, bands = [], []
        for m in lx.WORD.finditer(doc.text):
            w = m.group(0)
            lw = w.lower()
            if (len(w) < 3 or not w.isalpha() or lw in lx.NOT_TYPOS or (w[0].isupper() and m.start() not in starts)
                    or (len(w) > 1 and w.isupper()) or not doc.free(m.start(), m.end()) or lw not in model.vocab):
                continue
            cands.append((m.start(), w))
            bands.append(band_of(lx.zipf(lw, model.lang)))
        # a band's weight is spread over its candidates, so the drawn band follows the seeds' band mix
        per_band = Counter(bands)
        weights = [band_w[b] / per_band[b] for b in bands]
        for pos, w in _pick(cands, k, rng, weights):
            got = model.misspell(w.lower(), rng, p.typos)
            if got is not None:
                doc.edit("typo", pos, w, _match_case(w, got[0]), edit_type=got[1])

    def _punct(self, doc: _Doc, p: Profile, k: int, rng: random.Random) -> None:
        pool = p.pool("repeated_punct") or self.corpus.pool("repeated_punct") or ["!!"]
        if k <= 0:
            return
        cands, weights = [], []
        for m in _TERMINAL.finditer(doc.text):
            if doc.free(m.start(), m.end()):
                same = [f for f in pool if f[0] == m.group(1)]
                cands.append((m.start(), m.group(1)))
                weights.append(3.0 if same else 1.0)
        end = _end_insertion_point(doc.text)
        if end and doc.text[end - 1].isalnum() and not doc.locked[end - 1]:
            cands.append((end, ""))
            weights.append(1.0)
        for pos, ch in _pick(cands, k, rng, weights):
            same = [f for f in pool if f[0] == ch] or pool
            doc.edit("repeated_punct", pos, ch, rng.choice(same))


def _stretch_index(w: str) -> int | None:
    """The letter people stretch: the last vowel (not a silent final e), or a final vowel/y ("sooo", "heyyy")."""
    lw = w.lower()
    if len(lw) < 2:
        return None
    if lw[-1] in _VOWELS + "y" and (len(lw) <= 3 or lw[-1] != "e"):
        return len(lw) - 1
    for i in range(len(lw) - 2, -1, -1):
        if lw[i] in _VOWELS:
            return i
    return None


@lru_cache(maxsize=1)
def _slang_phrases() -> re.Pattern[str]:
    keys = sorted(lx.SLANG_FOR, key=len, reverse=True)
    alts = "|".join(re.escape(k).replace("'", "['’]") for k in keys)
    return re.compile(rf"(?<![\w'’@#<])(?:{alts})(?![\w'’>])", re.IGNORECASE)
