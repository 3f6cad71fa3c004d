"""Per-generation text metrics of a chain: vocabulary and tail coverage, distinct-n, Frechet/MMD/Vendi against
the chain's generation 0, and the irregularity smoothing index."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from semisynth.collapse.experiments.real_text import tokenize
from semisynth.collapse.monitor.irregularity import corpus_profile, profile_counts
from semisynth.hashing import seed_from
from semisynth.records import Record


class HashingFeatures:
    """Hashed word uni+bigrams, l2-normalised, then a fixed seeded random projection to `dim`.

    Why: Frechet/MMD/Vendi need vectors for every generation; a sentence model costs ~8 ms a text on
    2 cores, this costs microseconds, and its fixed projection keeps generations comparable."""

    def __init__(self, dim: int = 64, n_features: int = 1 << 14, seed: int = 0):
        from sklearn.feature_extraction.text import HashingVectorizer

        self.vec = HashingVectorizer(n_features=n_features, ngram_range=(1, 2), alternate_sign=False,
                                     norm="l2", token_pattern=r"(?u)\b\w+\b|[^\w\s]")
        rng = np.random.default_rng(seed)
        self.proj = (rng.standard_normal((n_features, dim)) / math.sqrt(dim)).astype(np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.vec.transform(list(texts)) @ self.proj, dtype=np.float32)


def make_embedder(name: str, cache_dir: Path) -> Any:
    if name == "none":
        return None
    if name == "hashing":
        return HashingFeatures()
    from semisynth.collapse.monitor.embeddings import Embedder

    return Embedder(name, cache_dir=cache_dir)


def _subsample(texts: Sequence[str], k: int, seed: int) -> list[str]:
    if len(texts) <= k:
        return list(texts)
    idx = np.sort(np.random.default_rng(seed).choice(len(texts), size=k, replace=False))
    return [texts[i] for i in idx]


def tail_words(pool_texts: Sequence[str], rank: int) -> set[str]:
    """The real pool's long tail: words seen at least twice (learnable) but beyond the `rank` most frequent.

    Defined on the whole pool, not on one chain's generation 0, so fresh real data (mix) can refill it
    and every seed and mode is scored against the same words."""
    freq = Counter(w for t in pool_texts for w in tokenize(t))
    ranked = [w for w, c in freq.most_common() if c >= 2]
    return set(ranked[rank:])


_TAIL_CACHE: dict[tuple[int, int], tuple[list[Record], set[str]]] = {}


def pool_tail(pool: list[Record], rank: int) -> set[str]:
    """tail_words of a pool, once per process (pools are cached too: real_text.real_text_source).
    The entry holds the pool itself, so its id cannot be reused by another list while cached."""
    key = (id(pool), rank)
    if key not in _TAIL_CACHE:
        _TAIL_CACHE[key] = (pool, tail_words([r.content for r in pool], rank))
    return _TAIL_CACHE[key][1]


class TextMetrics:
    """Per-generation text metrics against the chain's generation-0 data (fixed for the chain)."""

    def __init__(self, gen0_texts: Sequence[str], heldout_texts: Sequence[str], embedder: Any, k: int,
                 tail: set[str], seed: int):
        self.embedder, self.k, self.seed, self.tail = embedder, k, seed, tail
        self.ref = _subsample(gen0_texts, k, seed_from("ref", seed))
        self.ref_emb = embedder.encode(self.ref) if embedder is not None else None
        self.heldout = _subsample(heldout_texts, k, seed_from("heldout", seed))
        self.ref_counts = profile_counts(self.ref)  # fixed for the chain: profiled once, not every generation

    def baselines(self) -> dict[str, float]:
        """The same metrics between two real samples at the same size: what "no degradation" looks like."""
        out = {}
        if self.embedder is not None and len(self.heldout) > 2:
            out.update({f"{k}_real_baseline": v for k, v in self._distribution(self.heldout).items()})
        return out

    def _distribution(self, texts: Sequence[str]) -> dict[str, float]:
        from semisynth.collapse.monitor.metrics import frechet_distance, mmd_rbf, vendi_score

        emb = self.embedder.encode(list(texts))
        return {"frechet": float(frechet_distance(self.ref_emb, emb)),
                "mmd2": float(mmd_rbf(self.ref_emb, emb, seed=self.seed)["mmd2"]),
                "vendi": float(vendi_score(emb))}

    def __call__(self, samples: Sequence[str]) -> dict[str, float]:
        from semisynth.collapse.monitor.metrics import distinct_n

        words = [w for t in samples for w in tokenize(t)]
        present = set(words)
        out = {
            "vocab_size": float(len(present)),
            "tail_coverage": len(self.tail & present) / len(self.tail) if self.tail else float("nan"),
            "mean_words": len(words) / max(len(samples), 1),
            "distinct_1": float(distinct_n(samples, 1)),
            "distinct_2": float(distinct_n(samples, 2)),
        }
        sub = _subsample(samples, self.k, seed_from("sub", self.seed, len(samples)))
        if self.embedder is not None and len(sub) > 2:
            out.update(self._distribution(sub))
        prof = corpus_profile(self.ref, sub, n_boot=20, seed=self.seed, real_counts=self.ref_counts)
        if prof.get("smoothing_index") is not None:
            out["smoothing_index"] = float(prof["smoothing_index"])
        return out

