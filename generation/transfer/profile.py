"""Profiles: each irregularity kind's events and opportunities in a text, and pooled over the seeds."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from semisynth import lexicon as lx

from .kinds import CODES, CONTRACTION, INNER_CAP, LEAD, common_words

if TYPE_CHECKING:
    from .typos import TypoModel

_CAPWORD = re.compile(r"\b[A-Z][a-z]+(?:'[a-z]+)?\b")
_EDGE_PUNCT = ".,!?:;|()[]\"'…-–—"


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
    tail: tuple[str, ...] = ()  # the handles, hashtags and URLs of the text's trailing run ("... thx #fail <URL>")

    def rate(self, kind: str) -> float:
        return self.counts[kind] / self.opps[kind] if self.opps[kind] else 0.0

    def pool(self, kind: str) -> list[str]:
        return self.pools.get(kind, [])


def n_words(text: str) -> int:
    """Words as the monitor counts them: tokens other than placeholders, @handles, #hashtags and URLs."""
    return sum(1 for t in lx.TOKEN.findall(text) if lx.is_word(t))


def _words(text: str) -> list[re.Match[str]]:
    return list(lx.WORD.finditer(text))


def sentence_starts(text: str) -> list[re.Match[str]]:
    return list(lx.SENTENCE_START.finditer(text))


def names_in(text: str) -> set[str]:
    """Lowercase forms of words capitalised away from a sentence start (names, brands, places)."""
    starts = {m.start(1) for m in sentence_starts(text)}
    out = set()
    for m in _CAPWORD.finditer(text):
        if m.start() not in starts and m.group(0) != "I" and not m.group(0).startswith("I'"):
            out.add(m.group(0).lower())
    for m in INNER_CAP.finditer(text):
        out.add(m.group(0).lower())
    return out


def is_shouting(token: str, codes: Collection[str] = frozenset()) -> bool:
    """An all-caps word that raises the voice ("AGAIN", "NEVER", "KIDS"): a common word written in capitals.
    Not a code or an acronym (LAX, USA, TSA; UA234 and SFO are no words at all; `codes` adds a corpus's own),
    not slang that is written in capitals anyway (OMG, LOL)."""
    lw = token.lower()
    return (len(token) >= 3 and token.isalpha() and token.isupper() and lw in common_words()
            and lw not in CODES and lw not in codes and lw not in lx.SLANG)


def learn_codes(texts: Iterable[str]) -> frozenset[str]:
    """Words a corpus writes in capitals at least as often as not, and twice or more: its own codes and names
    ("SEA" and "DEN" in airline tweets), not shouting. Lowercase forms."""
    caps: Counter = Counter()
    other: Counter = Counter()
    for text in texts:
        for m in lx.WORD.finditer(text):
            w = m.group(0)
            (caps if len(w) >= 3 and w.isupper() else other)[w.lower()] += 1
    return frozenset(w for w, n in caps.items() if n >= 2 and n >= other[w])


def tokens_of(text: str, kind: str) -> list[str]:
    """Every handle (with the masker's <HANDLE>), hashtag or URL (with <URL>) in the text."""
    if kind == "hashtag":
        return lx.HASHTAG.findall(text)
    if kind == "handle":
        return lx.HANDLE_OR_MASK.findall(text)
    if kind == "url":
        return lx.URL_OR_MASK.findall(text)
    raise ValueError(f"no tokens for kind {kind!r}: handle, hashtag or url")


def token_key(token: str) -> str:
    """Tags and handles are the same whatever their case (#Fail is #fail); URLs are exact."""
    return token if token.startswith(("http", "www.")) else token.lower()


def kind_of_token(token: str) -> str | None:
    if lx.HANDLE_OR_MASK.fullmatch(token):
        return "handle"
    if lx.URL_OR_MASK.fullmatch(token):
        return "url"
    if lx.HASHTAG.fullmatch(token):
        return "hashtag"
    return None


def tail_tokens(text: str) -> list[str]:
    """The handles, hashtags and URLs of the text's trailing run, in order: what follows its last word, with
    emoticons, emoji and punctuation in between ("... ever! #fail @united <URL> :(")). A leading handle
    (`LEAD`) is the lead's, not the tail's."""
    lead = LEAD.match(text)
    out: list[str] = []
    for tok in reversed(text[lead.end() if lead else 0:].split()):
        core = tok if tok.startswith(("http", "www.")) else tok.strip(_EDGE_PUNCT)
        if not core:
            continue
        if kind_of_token(core) is not None:
            out.append(core)
        elif not (lx.EMOTICON.fullmatch(core) or lx.EMOJI.fullmatch(core)):
            break
    return out[::-1]


def count_kinds(text: str, typo_model: TypoModel | None, codes: Collection[str] = frozenset(),
                ) -> tuple[Counter, Counter, dict[str, list[str]], dict[str, str]]:
    counts: Counter = Counter()
    opps: Counter = Counter()
    pools: dict[str, list[str]] = {}
    words = _words(text)
    n_word = n_words(text)
    for k in ("handle", "hashtag", "url", "slang", "allcaps", "elongation", "typo", "repeated_punct", "emoticon",
              "emoji"):
        opps[k] = n_word
    lead = LEAD.match(text)
    handles = lx.HANDLE_OR_MASK.findall(text[lead.end() if lead else 0:])
    urls = lx.URL_OR_MASK.findall(text)
    tags = lx.HASHTAG.findall(text)
    counts["handle"], counts["url"], counts["hashtag"] = len(handles), len(urls), len(tags)
    pools["handle"], pools["url"], pools["hashtag"] = handles, urls, tags
    slang = [m.group(0).lower() for m in words if m.group(0).lower() in lx.SLANG]
    counts["slang"], pools["slang"] = len(slang), slang
    shouts = [t.lower() for t in lx.ALLCAPS.findall(lx.PLACEHOLDER.sub("<>", text)) if is_shouting(t, codes)]
    counts["allcaps"], pools["allcaps"] = len(shouts), shouts  # emphasis: not <HANDLE>, LAX, USA, OMG
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
    starts = sentence_starts(text)
    counts["lowercase_sentence_start"] = sum(1 for m in starts if m.group(1).islower())
    opps["lowercase_sentence_start"] = len(starts)
    missing = sum(1 for m in words if m.group(0).lower() in lx.MISSING_APOSTROPHE)
    with_ap = sum(1 for m in CONTRACTION.finditer(text) if (m.group(1) + m.group(3)).lower() in lx.MISSING_APOSTROPHE)
    counts["missing_apostrophe"], opps["missing_apostrophe"] = missing, missing + with_ap
    typos: dict[str, str] = {}
    if typo_model is not None:
        for typo, intended in typo_model.misspellings_in(text):
            typos.setdefault(intended, typo)
        counts["typo"] = len(typo_model.misspellings_in(text))
    return counts, opps, pools, typos


def profile_text(text: str, typo_model: TypoModel | None = None, codes: Collection[str] = frozenset()) -> Profile:
    counts, opps, pools, typos = count_kinds(text, typo_model, codes)
    lead = LEAD.match(text)
    lead_tokens = lead.group(0).split() if lead else []
    return Profile(counts, opps, pools, lead_tokens, 1.0 if lead_tokens else 0.0, frozenset(names_in(text)), typos,
                   tuple(tail_tokens(text)))


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
