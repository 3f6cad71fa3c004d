"""Profiles: each irregularity kind's events and opportunities in a text, and pooled over the seeds."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from semisynth import lexicon as lx

from .kinds import CONTRACTION, INNER_CAP, LEAD

if TYPE_CHECKING:
    from .typos import TypoModel

_CAPWORD = re.compile(r"\b[A-Z][a-z]+(?:'[a-z]+)?\b")


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


def n_words(text: str) -> int:
    """Words as the monitor counts them: tokens other than @handles, #hashtags and URLs."""
    return sum(1 for t in lx.TOKEN.findall(text) if t[0] not in "@#" and not t.startswith(("http", "www.")))


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


def count_kinds(text: str, typo_model: TypoModel | None) -> tuple[Counter, Counter, dict[str, list[str]],
                                                                    dict[str, str]]:
    counts: Counter = Counter()
    opps: Counter = Counter()
    pools: dict[str, list[str]] = {}
    words = _words(text)
    n_word = n_words(text)
    for k in ("handle", "hashtag", "url", "slang", "allcaps", "elongation", "typo", "repeated_punct", "emoticon",
              "emoji"):
        opps[k] = n_word
    lead = LEAD.match(text)
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


def profile_text(text: str, typo_model: TypoModel | None = None) -> Profile:
    counts, opps, pools, typos = count_kinds(text, typo_model)
    lead = LEAD.match(text)
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
