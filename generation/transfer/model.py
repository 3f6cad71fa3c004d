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
from .edits import Edit, undo_edits
from .kinds import CODES, CONTRACTION, KINDS, LEAD, PLACEHOLDERS, TRANSFER_GENERATORS, common_words
from .near_seed import NEAR_COPY_SIMILARITY, rebuilds_seed
from .profile import (
    Profile,
    count_kinds,
    kind_of_token,
    learn_codes,
    pool_profiles,
    profile_text,
    sentence_starts,
    tail_tokens,
    token_key,
    tokens_of,
)
from .typos import TypoModel, band_of

_TERMINAL = re.compile(r"(?<![.!?,])([.!?])(?![.!?,\w])")
_EMPHASIS = frozenset("not never no all still worst best every only really very now again always hours days so "
                      "please help why what love hate thanks great terrible awful horrible ever nothing".split())
_STANDALONE = re.compile(r"[ \t]*(?:[,.!?]|$)")  # "no." / "no," / "no" at the end: an answer, not "no bags"
_ELONGATABLE = frozenset("so no yes please thanks thank love what really hey oh why now very sorry good cool nice "
                         "long hate way too much all and omg ugh lol ok okay wow yay finally well sure".split())


class TransferModel:
    """Fitted once per run on all seeds; `apply` is a pure function of (record parts, parent, seed)."""

    def __init__(self, seeds: Sequence[Record], generators: Sequence[str] = TRANSFER_GENERATORS, lang: str = "en",
                 near_copy_similarity: float = NEAR_COPY_SIMILARITY):
        bad = [g for g in generators if g not in TRANSFER_GENERATORS]
        if bad:
            raise ValueError(f"no transfer for {bad}: only {', '.join(TRANSFER_GENERATORS)}")
        self.generators = tuple(generators)
        self.near_copy_similarity = near_copy_similarity  # the output checks' threshold (CheckConfig)
        self.typos = TypoModel(lang).fit(s.content for s in seeds if s.language == lang)
        self.codes = learn_codes(s.content for s in seeds)  # the seeds' own all-caps codes: not shouting
        self._profiles: dict[str, list[Profile]] = {}
        self.corpus = pool_profiles(self.profiles(s)[-1] for s in seeds)

    def profiles(self, seed: Record) -> list[Profile]:
        """One profile per turn, plus the whole record's as the last element."""
        if seed.id not in self._profiles:
            model = self.typos if seed.language == self.typos.lang else None
            turns = [profile_text(m.content, model, self.codes) for m in seed.messages] if seed.messages else []
            self._profiles[seed.id] = turns + [profile_text(seed.content, model, self.codes)]
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
            turns = self._off_the_seed([m.content for m in messages], [m.content for m in out_msgs], edits, parent)
            return None, tuple(Message(m.role, t) for m, t in zip(out_msgs, turns, strict=True)), tuple(edits)
        doc = Document(text or "", names, None)
        self._transfer(doc, profs[-1] if profs else self.corpus, rng, english, corpus=profs is None)
        edits = list(doc.edits)
        out = self._off_the_seed([text or ""], [doc.text], edits, parent)[0]
        return out, None, tuple(edits)

    def _off_the_seed(self, clean: list[str], out: list[str], edits: list[Edit], parent: Record | None) -> list[str]:
        """The transferred turns, stepped back (last edits first, dropped from `edits` in place) while they
        read as the parent again and the model's own words did not: a transfer that rebuilds a short seed
        ("<HANDLE> thanks!!") undid the rewrite. What is left is a prefix of the log, so undo still holds."""
        if parent is None or not edits:
            return out
        seed = parent.content
        if not self._near(out, seed) or self._near(clean, seed):
            return out
        out = list(out)
        while edits and self._near(out, seed):
            e = edits.pop()
            t = e.turn or 0
            out[t] = undo_edits(out[t], [e])
        return out

    def _near(self, turns: list[str], seed: str) -> bool:
        return rebuilds_seed("\n".join(turns), seed, self.near_copy_similarity) is not None

    def _transfer(self, doc: Document, p: Profile, rng: random.Random, english: bool, corpus: bool) -> None:
        if not doc.text.strip():
            return
        def deficit(kind: str) -> int:
            cur, opp = count_kinds(doc.text, None, self.codes)[:2]
            return draw_count(p.rate(kind) * opp[kind] - cur[kind], rng)

        self._lead(doc, p, rng, corpus)
        if corpus:
            for kind in ("hashtag", "url", "handle"):
                self._append_tokens(doc, kind, p, deficit(kind), rng)
        else:
            self._seed_tokens(doc, p)
        if english:
            self._slang(doc, p, deficit("slang"), rng)
            self._lowercase_i(doc, deficit("lowercase_i"), rng)
            self._apostrophes(doc, deficit("missing_apostrophe"), rng)
        self._sentence_starts(doc, deficit("lowercase_sentence_start"), rng)
        self._allcaps(doc, p, deficit("allcaps"), rng, corpus)
        self._elongate(doc, p, deficit("elongation"), rng)
        if english:
            self._typos(doc, p, rng)
        self._punct(doc, p, deficit("repeated_punct"), rng)
        for kind in ("emoticon", "emoji"):
            k = deficit(kind)
            if not corpus:  # never more than the parent has
                k = min(k, p.counts[kind] - count_kinds(doc.text, None)[0][kind])
            self._append_tokens(doc, kind, p, k, rng, sentence_end=True)

    # -- kinds ----------------------------------------------------------------------------------
    def _lead(self, doc: Document, p: Profile, rng: random.Random, corpus: bool) -> None:
        """The parent's leading handles ("<HANDLE> my bag..."), when the output does not start with one: those
        it does not hold anywhere (a <HANDLE> counts as any handle), never past the parent's number of handles."""
        if LEAD.match(doc.text):
            return
        lead = p.lead if not corpus else []
        if corpus and p.pool("lead") and rng.random() < p.lead_share:
            lead = rng.choice(p.pool("lead")).split()
        held = tokens_of(doc.text, "handle")
        keys = {token_key(t) for t in held}
        budget = len(lead) + (0 if corpus else p.counts["handle"]) - len(held)
        add = []
        for tok in lead:
            if budget <= 0:
                break
            if tok in PLACEHOLDERS or token_key(tok) not in keys:
                add.append(tok)
                keys.add(token_key(tok))
                budget -= 1
        if add:
            doc.edit("handle", 0, "", " ".join(add) + " ")

    def _seed_tokens(self, doc: Document, p: Profile) -> None:
        """The parent's handles, hashtags and URLs the output lost, where and as often as the parent has them:
        an inline hashtag or handle put back on the same word when the output still has it ("United" ->
        "#United"; an inline URL has no place to go), the trailing run appended at the end in the parent's
        order. Never one the output holds already (case aside), never more of a kind than the parent has. A
        masker's placeholder stands for a different handle or link each time: it is counted, not matched."""
        kinds = ("hashtag", "url", "handle")
        held = {k: tokens_of(doc.text, k) for k in kinds}
        budget = {k: len(tokens_of(" ".join(p.lead), k)) + p.counts[k] - len(held[k]) for k in kinds}
        if all(b <= 0 for b in budget.values()):
            return
        keys = {token_key(t) for k in kinds for t in held[k]}
        tail = Counter(p.tail)
        for kind in ("hashtag", "handle"):
            inline = Counter(p.pool(kind))  # the parent's, in its order (handles: the lead's left out)
            inline.subtract(tail)  # a token's last occurrences are the trailing ones
            for tok in p.pool(kind):
                if inline[tok] <= 0:
                    continue
                inline[tok] -= 1
                if (budget[kind] > 0 and tok not in PLACEHOLDERS and token_key(tok) not in keys
                        and self._mark_word(doc, kind, tok)):
                    keys.add(token_key(tok))
                    budget[kind] -= 1
        out_tail = Counter(t for t in tail_tokens(doc.text) if t in PLACEHOLDERS)
        for tok in p.tail:
            kind = kind_of_token(tok)
            if kind is None or budget[kind] <= 0:
                continue
            if tok in PLACEHOLDERS and out_tail[tok] > 0:  # the output's own trailing <URL> is this one
                out_tail[tok] -= 1
                continue
            if tok not in PLACEHOLDERS and token_key(tok) in keys:
                continue
            doc.edit(kind, end_insertion_point(doc.text), "", " " + tok)
            keys.add(token_key(tok))
            budget[kind] -= 1

    @staticmethod
    def _mark_word(doc: Document, kind: str, tok: str) -> bool:
        """"#" or "@" before the first word that is the tag's or handle's body ("United" for "#united")."""
        body = tok[1:].lower()
        for m in lx.WORD.finditer(doc.text):
            if m.group(0).lower() == body and doc.free(m.start(), m.start()):
                doc.edit(kind, m.start(), "", tok[0])
                return True
        return False

    def _append_tokens(self, doc: Document, kind: str, p: Profile, k: int, rng: random.Random,
                       sentence_end: bool = False) -> None:
        """k distinct tokens of the kind from the parent's (or the corpus's) forms, each one the output does
        not hold already: never "#kudos #kudos", never a second ":)"."""
        pool = p.pool(kind) or self.corpus.pool(kind)
        if k <= 0 or not pool:
            return
        held = {token_key(t) for t in re.findall(r"\S+", doc.text) + lx.EMOTICON.findall(doc.text)}
        if kind in ("hashtag", "url", "handle"):
            held |= {token_key(t) for t in tokens_of(doc.text, kind)}
        emoji = set("".join(lx.EMOJI.findall(doc.text))) - {"\ufe0f"}  # "😂😂" is no new form in a text with "😂"
        forms = Counter(t for t in pool if token_key(t) not in held and not (kind == "emoji" and emoji & set(t)))
        cands = sorted(forms)
        picked = [t for _, t in pick(list(enumerate(cands)), k, rng, [forms[t] for t in cands])]
        ends = [end_insertion_point(doc.text)]
        if sentence_end:  # after a sentence's terminal punctuation, before the next sentence
            ends += [m.end() for m in re.finditer(r"[.!?](?=\s+\S)", doc.text)]
        for tok in picked:
            pos = rng.choice(ends)
            if not doc.free(pos, pos):
                continue
            doc.edit(kind, pos, "", " " + tok)
            ends = [e + (len(tok) + 1 if e >= pos else 0) for e in ends]

    def _slang(self, doc: Document, p: Profile, k: int, rng: random.Random) -> None:
        """Slang only as a swap of words the output has ("you" -> "u", "please" -> "pls"). Interjections with
        no word behind them ("lol", "wtf") are never added: on a neutral text they say what it does not."""
        if k <= 0:
            return
        liked = set(p.pool("slang")) or set(self.corpus.pool("slang"))
        cands = []
        for m in slang_phrases().finditer(doc.text):
            key = m.group(0).lower().replace("’", "'")
            standalone = _STANDALONE.match(doc.text, m.end()) is not None
            forms = [f for f in lx.SLANG_FOR[key] if f != "k" or standalone]  # "is it k" is no one's
            if (key == "no" and not standalone) or not forms:  # "nope" answers; "nope bags" is no one's
                continue
            if doc.free(m.start(), m.end()):
                pref = [f for f in forms if f in liked]
                cands.append((m.start(), m.group(0), pref[0] if pref else forms[0], 5.0 if pref else 1.0))
        picked = pick([c[:3] for c in cands], k, rng, [c[3] for c in cands])
        for pos, before, form in picked:
            doc.edit("slang", pos, before, form.upper() if before.isupper() and len(before) > 1 else form)

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

    def _allcaps(self, doc: Document, p: Profile, k: int, rng: random.Random, corpus: bool) -> None:
        """Capitals only on words that carry the voice: a word the parent itself shouted ("AGAIN"), else one of
        the words people shout (`_EMPHASIS`: "never", "worst", "help"). Never an ordinary word ("flight"),
        and the parent's codes (LAX, USA) were never counted as shouting to begin with."""
        if k <= 0:
            return
        if corpus:  # no parent: what the seeds shout more than once
            n = Counter(p.pool("allcaps"))
            shouted = {w for w, c in n.items() if c >= 2}
        else:
            shouted = set(p.pool("allcaps"))
        common = common_words()
        cands, weights = [], []
        for m in lx.WORD.finditer(doc.text):
            w = m.group(0)
            if not (len(w) >= 3 and w.isalpha() and w.islower() and w in common and w not in CODES
                    and w not in self.codes and (w in shouted or w in _EMPHASIS) and doc.free(m.start(), m.end())):
                continue
            cands.append((m.start(), w))
            weights.append(8.0 if w in shouted else 1.0)
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
        """Runs of the parent's ("!!", "??", "....") that keep each sentence's type: "?" runs only on a question,
        a "!" stays an exclamation (never "!?"), a statement never becomes a question."""
        pool = p.pool("repeated_punct") or self.corpus.pool("repeated_punct") or ["!!"]
        if k <= 0:
            return
        cands, weights = [], []
        for m in _TERMINAL.finditer(doc.text):
            ok = [f for f in pool if keeps_sentence_type(m.group(1), f)]
            if ok and doc.free(m.start(), m.end()):
                cands.append((m.start(), m.group(1)))
                weights.append(3.0 if any(f[0] == m.group(1) for f in ok) else 1.0)
        end = end_insertion_point(doc.text)
        if (end and doc.text[end - 1].isalnum() and not doc.locked[end - 1]
                and any(keeps_sentence_type("", f) for f in pool)):
            cands.append((end, ""))
            weights.append(1.0)
        for pos, ch in pick(cands, k, rng, weights):
            ok = [f for f in pool if keeps_sentence_type(ch, f)]
            same = [f for f in ok if f[0] == ch] or ok
            doc.edit("repeated_punct", pos, ch, rng.choice(same))


def keeps_sentence_type(end: str, run: str) -> bool:
    """Whether a sentence ending in `end` ("?", "!", "." or "" for none) may end in `run` instead: a question
    stays a question ("??", "?!"), an exclamation an exclamation ("!!", never "!?"), a statement gets no "?"
    (nor a ",," in a sentence's place)."""
    if end == "?":
        return run.startswith("?")
    if end == "!":
        return run.startswith("!") and "?" not in run
    return "?" not in run and "," not in run
