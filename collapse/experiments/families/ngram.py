"""ngram: interpolated Kneser-Ney word n-gram over real text, fixed vocabulary (finite, comparable perplexity)."""

from __future__ import annotations

import bisect
import math
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from semisynth.collapse.experiments.families.protocol import fit_id, synthetic_record
from semisynth.collapse.experiments.real_text import real_text_source, tokenize
from semisynth.errors import UserError
from semisynth.records import Record


class NGramModel:
    """Interpolated Kneser-Ney over a fixed vocabulary. The unigram (continuation) level mixes in a small
    fixed share `floor` of the uniform distribution over that vocabulary, so every held-out word keeps a
    finite probability and perplexities of all generations are comparable; words the model has forgotten
    fall to that floor. (Full KN would hand the uniform d*types/total, ~15%, which keeps re-seeding the
    tail and hides the collapse the experiment is meant to show.)"""

    def __init__(self, model_id: str, order: int, vocab: Sequence[str], texts: Sequence[str],
                 discount: float = 0.75, max_tokens: int = 60, floor: float = 1e-3):
        self.model_id, self.order, self.d, self.max_tokens, self.floor = model_id, order, discount, max_tokens, floor
        self.vocab = list(vocab)  # includes </s> and <unk>
        self.vocab_set = set(self.vocab)
        self.sample_vocab = [w for w in self.vocab if w != "<unk>"]
        # counts[k][ctx][w]: raw counts at the top order, continuation counts below.
        self.counts: list[dict[tuple[str, ...], Counter[str]]] = [defaultdict(Counter) for _ in range(order + 1)]
        top = self.counts[order]
        for text in texts:
            seq = ["<s>"] * (order - 1) + self.map_tokens(tokenize(text)) + ["</s>"]
            for i in range(order - 1, len(seq)):
                top[tuple(seq[i - order + 1: i])][seq[i]] += 1
        for k in range(order, 1, -1):  # continuation counts of order k-1 from distinct types at order k
            lower = self.counts[k - 1]
            for ctx, ws in self.counts[k].items():
                for w in ws:
                    lower[ctx[1:]][w] += 1
        self.totals = [{c: (sum(ws.values()), len(ws)) for c, ws in level.items()} for level in self.counts]
        self._tables: dict[tuple[int, tuple[str, ...]], tuple[list[str], list[float]]] = {}

    def map_tokens(self, toks: Sequence[str]) -> list[str]:
        return [t if t in self.vocab_set else "<unk>" for t in toks]

    def prob(self, ctx: tuple[str, ...], w: str) -> float:
        p = 1.0 / len(self.vocab)
        for k in range(1, self.order + 1):
            c = ctx[len(ctx) - (k - 1):] if k > 1 else ()
            tot = self.totals[k].get(c)
            if tot is None:
                continue
            total, types = tot
            cnt = self.counts[k][c].get(w, 0)
            if k == 1:
                p = (1.0 - self.floor) * cnt / total + self.floor * p
            else:
                p = max(cnt - self.d, 0.0) / total + self.d * types / total * p
        return p

    def _table(self, k: int, ctx: tuple[str, ...]) -> tuple[list[str], list[float]]:
        key = (k, ctx)
        tab = self._tables.get(key)
        if tab is None:
            words, cum, acc = [], [], 0.0
            d = self.d if k > 1 else 0.0
            for w, c in self.counts[k][ctx].items():
                if c > d:
                    acc += c - d
                    words.append(w)
                    cum.append(acc)
            tab = self._tables[key] = (words, cum)
        return tab

    def _draw(self, ctx: tuple[str, ...], rnd: random.Random) -> str:
        """Exact sampling from the interpolated mixture: at each order, take a discounted count with
        probability (total - d*types)/total, else back off one order; order 1 leaks `floor` to uniform."""
        for k in range(self.order, 0, -1):
            c = ctx[len(ctx) - (k - 1):] if k > 1 else ()
            tot = self.totals[k].get(c)
            if tot is None:
                continue
            total, types = tot
            r = rnd.random() * total
            kept = total - self.d * types if k > 1 else total * (1.0 - self.floor)
            if r < kept:
                words, cum = self._table(k, c)
                return words[min(bisect.bisect_right(cum, r), len(words) - 1)]
        return self.sample_vocab[rnd.randrange(len(self.sample_vocab))]

    def sample_texts(self, n: int, seed: int) -> list[str]:
        rnd = random.Random(seed)
        out = []
        for _ in range(n):
            ctx = ("<s>",) * (self.order - 1)
            toks: list[str] = []
            while len(toks) < self.max_tokens:
                w = self._draw(ctx, rnd)
                if w == "</s>":
                    break
                if w != "<unk>":
                    toks.append(w)
                ctx = (ctx + (w,))[1:] if self.order > 1 else ()
            out.append(" ".join(toks) if toks else ".")
        return out

    def sample(self, n: int, seed: int) -> list[Record]:
        params = {"order": self.order, "discount": self.d, "max_tokens": self.max_tokens, "floor": self.floor}
        return [synthetic_record(t, self.model_id, "ngram", i, seed, params)
                for i, t in enumerate(self.sample_texts(n, seed))]

    def evaluate(self, heldout: Sequence[Record]) -> dict[str, float]:
        nll, ntok = 0.0, 0
        for r in heldout:
            seq = ["<s>"] * (self.order - 1) + self.map_tokens(tokenize(r.content)) + ["</s>"]
            for i in range(self.order - 1, len(seq)):
                nll -= math.log(self.prob(tuple(seq[i - self.order + 1: i]), seq[i]))
                ntok += 1
        return {"heldout_ppl": math.exp(nll / max(ntok, 1)), "model_types": float(len(self.counts[1].get((), {})))}


class NGramFamily:
    """Word n-gram LM: fast enough to run many generations and seeds, with exact held-out perplexity."""

    name = "ngram"
    is_text = True

    def __init__(self, order: int = 3, discount: float = 0.75, real_data: str | Path | None = None,
                 heldout_size: int = 500, min_count: int = 2, max_tokens: int = 60, floor: float = 1e-3):
        if order < 1:
            raise UserError("ngram_order", f"order {order} must be >= 1", "use 2 or 3")
        self.order, self.discount, self.max_tokens, self.floor = order, discount, max_tokens, floor
        self.source = real_text_source(str(real_data) if real_data else None, heldout_size)
        # Fixed vocabulary from the real training pool (never from a generation): comparable perplexities.
        freq = Counter(t for r in self.source.pool for t in tokenize(r.content))
        self.vocab = sorted(w for w, c in freq.items() if c >= min_count) + ["</s>", "<unk>"]

    def real_pool(self) -> tuple[list[Record], list[Record]]:
        return self.source.pool, self.source.heldout

    def fit(self, records: Sequence[Record], seed: int, workdir: Path | None = None) -> NGramModel:
        mid = fit_id(self.name, records, 0, [self.order, self.discount, self.floor])
        return NGramModel(mid, self.order, self.vocab, [r.content for r in records], self.discount,
                          self.max_tokens, self.floor)

