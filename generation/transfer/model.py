"""The TransferModel: fitted once per run on all seeds (profiles, typo model), then, per record, each kind's
deficit against the parent is drawn and applied to a locked, logged Document."""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from semisynth import lexicon as lx
from semisynth.records import Message, Record

from .document import (
    Document,
    draw_count,
    end_insertion_point,
    match_case,
    pick,
    slang_phrases,
    stretch_index,
)
from .edits import Edit
from .kinds import CONTRACTION, KINDS, LEAD, TRANSFER_GENERATORS
from .profile import Profile, count_kinds, pool_profiles, profile_text, sentence_starts
from .typos import TypoModel, band_of

_TERMINAL = re.compile(r"(?<![.!?,])([.!?])(?![.!?,\w])")
_EMPHASIS = frozenset("not never no all still worst best every only really very now again always hours days so "
                      "please help why what love hate thanks great terrible awful horrible ever nothing".split())
_ELONGATABLE = frozenset("so no yes please thanks thank love what really hey oh why now very sorry good cool nice "
                         "long hate way too much all and omg ugh lol ok okay wow yay finally well sure".split())


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
                doc = Document(m.content, names, i)
                self._transfer(doc, prof, rng, english, corpus=profs is None)
                out_msgs.append(Message(m.role, doc.text))
                edits += doc.edits
            return None, tuple(out_msgs), tuple(edits)
        doc = Document(text or "", names, None)
        self._transfer(doc, profs[-1] if profs else self.corpus, rng, english, corpus=profs is None)
        return doc.text, None, tuple(doc.edits)

    def _transfer(self, doc: Document, p: Profile, rng: random.Random, english: bool, corpus: bool) -> None:
        if not doc.text.strip():
            return
        def deficit(kind: str) -> int:
            cur, opp = count_kinds(doc.text, None)[:2]
            return draw_count(p.rate(kind) * opp[kind] - cur[kind], rng)

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
    def _lead(self, doc: Document, p: Profile, rng: random.Random, corpus: bool) -> None:
        """The parent's leading handles ("<HANDLE> my bag..."), when the output has none of them anywhere."""
        if LEAD.match(doc.text):
            return
        lead = p.lead if not corpus else []
        if corpus and p.pool("lead") and rng.random() < p.lead_share:
            lead = rng.choice(p.pool("lead")).split()
        present = len(lx.HANDLE.findall(doc.text)) + doc.text.count("<HANDLE>")
        if lead and present < len(lead) + (0 if corpus else p.counts["handle"]):
            doc.edit("handle", 0, "", " ".join(lead) + " ")

    def _append_tokens(self, doc: Document, kind: str, p: Profile, k: int, rng: random.Random,
                       sentence_end: bool = False) -> None:
        pool = p.pool(kind) or self.corpus.pool(kind)
        if k <= 0 or not pool:
            return
        ends = [end_insertion_point(doc.text)]
        if sentence_end:  # after a sentence's terminal punctuation, before the next sentence
            ends += [m.end() for m in re.finditer(r"[.!?](?=\s+\S)", doc.text)]
        for _ in range(k):
            pos = rng.choice(ends)
            if not doc.free(pos, pos):
                continue
            tok = rng.choice(pool)
            doc.edit(kind, pos, "", " " + tok)
            ends = [e + (len(tok) + 1 if e >= pos else 0) for e in ends]

    def _slang(self, doc: Document, p: Profile, k: int, rng: random.Random) -> None:
        if k <= 0:
            return
        liked = set(p.pool("slang")) or set(self.corpus.pool("slang"))
        cands = []
        for m in slang_phrases().finditer(doc.text):
            forms = lx.SLANG_FOR[m.group(0).lower().replace("’", "'")]
            if doc.free(m.start(), m.end()):
                pref = [f for f in forms if f in liked]
                cands.append((m.start(), m.group(0), pref[0] if pref else forms[0], 5.0 if pref else 1.0))
        picked = pick([c[:3] for c in cands], k, rng, [c[3] for c in cands])
        for pos, before, form in picked:
            doc.edit("slang", pos, before, form.upper() if before.isupper() and len(before) > 1 else form)
        rest = k - len(picked)
        inter = sorted(s for s in liked if s in lx.INTERJECTION_SLANG) or \
            sorted(s for s in self.corpus.pool("slang") if s in lx.INTERJECTION_SLANG)
        if rest > 0 and inter:
            self._append_tokens(doc, "slang", Profile(pools={"slang": [rng.choice(inter)]}), rest, rng,
                                sentence_end=True)

    def _lowercase_i(self, doc: Document, k: int, rng: random.Random) -> None:
        cands = [(m.start(), "I") for m in lx.PRONOUN_I.finditer(doc.text)
                 if m.group(0) == "I" and doc.free(m.start(), m.start() + 1)]
        for pos, _ in pick(cands, k, rng):
            doc.edit("lowercase_i", pos, "I", "i")

    def _apostrophes(self, doc: Document, k: int, rng: random.Random) -> None:
        cands = [(m.start(2), m.group(2)) for m in CONTRACTION.finditer(doc.text)
                 if (m.group(1) + m.group(3)).lower() in lx.MISSING_APOSTROPHE and doc.free(m.start(), m.end())]
        for pos, ap in pick(cands, k, rng):
            doc.edit("missing_apostrophe", pos, ap, "")

    def _sentence_starts(self, doc: Document, k: int, rng: random.Random) -> None:
        cands = []
        for m in sentence_starts(doc.text):
            pos = m.start(1)
            word = re.match(r"[A-Za-z]+", doc.text[pos:])
            w = word.group(0) if word else ""
            if m.group(1).isupper() and w not in ("I",) and not (len(w) > 1 and w.isupper()) \
                    and doc.free(pos, pos + len(w)):
                cands.append((pos, m.group(1)))
        for pos, ch in pick(cands, k, rng):
            doc.edit("lowercase_sentence_start", pos, ch, ch.lower())

    def _allcaps(self, doc: Document, k: int, rng: random.Random) -> None:
        cands, weights = [], []
        for m in lx.WORD.finditer(doc.text):
            w = m.group(0)
            if (len(w) >= 3 and w.isalpha() and w.islower() and w not in lx.STOPWORDS
                    and doc.free(m.start(), m.end())):
                cands.append((m.start(), w))
                weights.append(4.0 if w.lower() in _EMPHASIS else 1.0)
        for pos, w in pick(cands, k, rng, weights):
            doc.edit("allcaps", pos, w, w.upper())

    def _elongate(self, doc: Document, p: Profile, k: int, rng: random.Random) -> None:
        runs = [int(x) for x in (p.pool("elongation") or self.corpus.pool("elongation"))] or [3, 4]
        cands, weights = [], []
        for m in lx.WORD.finditer(doc.text):
            w = m.group(0)
            if not w.isalpha() or len(w) > 7 or not doc.free(m.start(), m.end()) or w.isupper() and len(w) > 1:
                continue
            i = stretch_index(w)
            if i is not None:
                cands.append((m.start() + i, w[i]))
                weights.append(6.0 if w.lower() in _ELONGATABLE else 1.0)
        for pos, ch in pick(cands, k, rng, weights):
            n = max(3, min(rng.choice(runs), 8))
            doc.edit("elongation", pos + 1, "", ch * (n - 1))

    def _typos(self, doc: Document, p: Profile, rng: random.Random) -> None:
        model = self.typos
        cur = len(model.misspellings_in(doc.text))
        k = draw_count(p.rate("typo") * doc.n_words() - cur, rng)
        if k <= 0:
            return
        band_w = model.band_weights()
        starts = {m.start(1) for m in sentence_starts(doc.text)}
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
        for pos, w in pick(cands, k, rng, weights):
            got = model.misspell(w.lower(), rng, p.typos)
            if got is not None:
                doc.edit("typo", pos, w, match_case(w, got[0]), edit_type=got[1])

    def _punct(self, doc: Document, p: Profile, k: int, rng: random.Random) -> None:
        pool = p.pool("repeated_punct") or self.corpus.pool("repeated_punct") or ["!!"]
        if k <= 0:
            return
        cands, weights = [], []
        for m in _TERMINAL.finditer(doc.text):
            if doc.free(m.start(), m.end()):
                same = [f for f in pool if f[0] == m.group(1)]
                cands.append((m.start(), m.group(1)))
                weights.append(3.0 if same else 1.0)
        end = end_insertion_point(doc.text)
        if end and doc.text[end - 1].isalnum() and not doc.locked[end - 1]:
            cands.append((end, ""))
            weights.append(1.0)
        for pos, ch in pick(cands, k, rng, weights):
            same = [f for f in pool if f[0] == ch] or pool
            doc.edit("repeated_punct", pos, ch, rng.choice(same))
