"""Each metric against its reference implementation or a closed form on Gaussians."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from scipy import linalg

from semisynth.collapse.monitor import metrics as M
from semisynth.collapse.monitor.calibration import SAMPLE

from .conftest import gaussian


def pytorch_fid_formula(X, Y, eps=1e-6):
    """calculate_frechet_distance from pytorch-fid, verbatim in numpy."""
    mu1, mu2 = X.mean(0), Y.mean(0)
    s1, s2 = np.cov(X, rowvar=False), np.cov(Y, rowvar=False)
    diff = mu1 - mu2
    covmean = linalg.sqrtm(s1.dot(s2))
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * eps
        covmean = linalg.sqrtm((s1 + offset).dot(s2 + offset))
    covmean = covmean.real
    return diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)


def test_frechet_matches_pytorch_fid_formula():
    X, Y = gaussian(800, 24, seed=1), gaussian(700, 24, 0.2, 1.3, seed=2)
    assert M.frechet_distance(X, Y) == pytest.approx(pytorch_fid_formula(X.astype(np.float64), Y.astype(np.float64)),
                                                     rel=1e-5)


def test_frechet_closed_form_on_isotropic_gaussians():
    d, n = 8, 200_000
    X, Y = gaussian(n, d, 0.0, 1.0, seed=3), gaussian(n, d, 0.5, 2.0, seed=4)
    expected = d * 0.5**2 + d * (1.0 - 2.0) ** 2  # ||mu||^2 + sum (s1 - s2)^2 for isotropic covariances
    assert M.frechet_distance(X, Y) == pytest.approx(expected, rel=0.02)
    assert M.frechet_distance(X, X) == pytest.approx(0.0, abs=1e-6)


def mmd_closed_form(d, a, b, delta2, h):
    """Unbiased-estimator target for N(m1, a I) vs N(m2, b I) under exp(-|x-y|^2 / (2 h^2))."""
    h2 = h * h
    kxx = (h2 / (h2 + 2 * a)) ** (d / 2)
    kyy = (h2 / (h2 + 2 * b)) ** (d / 2)
    kxy = (h2 / (h2 + a + b)) ** (d / 2) * math.exp(-delta2 / (2 * (h2 + a + b)))
    return kxx + kyy - 2 * kxy


def test_mmd_exact_is_unbiased_against_closed_form_and_brute_force():
    d, h = 4, 2.0
    X, Y = gaussian(3000, d, 0.0, 1.0, seed=5), gaussian(3000, d, 0.5, 1.0, seed=6)
    target = mmd_closed_form(d, 1.0, 1.0, d * 0.25, h)
    got = M.mmd_rbf(X, Y, bandwidth=h, method="exact")
    assert got["mmd2"] == pytest.approx(target, abs=0.01)
    x, y = X[:200].astype(np.float64), Y[:150].astype(np.float64)
    k = lambda a, b: np.exp(-((a[:, None] - b[None]) ** 2).sum(-1) / (2 * h * h))  # noqa: E731
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    brute = ((kxx.sum() - np.trace(kxx)) / (200 * 199) + (kyy.sum() - np.trace(kyy)) / (150 * 149) - 2 * kxy.mean())
    assert M.mmd_rbf(x, y, bandwidth=h, method="exact")["mmd2"] == pytest.approx(brute, rel=1e-9)


def test_mmd_rff_approximates_exact_and_same_distribution_is_near_zero():
    X, Y = gaussian(4000, 8, seed=7), gaussian(4000, 8, 0.3, seed=8)
    exact = M.mmd_rbf(X, Y, method="exact")
    rff = M.mmd_rbf(X, Y, method="rff", n_features=4096)
    assert rff["mmd2"] == pytest.approx(exact["mmd2"], rel=0.15)
    same = M.mmd_rbf(X, gaussian(4000, 8, seed=9), method="rff")
    assert abs(same["mmd2"]) < 0.1 * exact["mmd2"]
    assert M.mmd_rbf(X, Y)["method"] == "exact" and M.mmd_rbf(X, Y, exact_max_n=100)["method"] == "rff"


def test_vendi_matches_vendi_score_dual_and_counts_distinct_items():
    from vendi_score import vendi

    X = gaussian(300, 32, seed=10)
    assert M.vendi_score(X) == pytest.approx(float(vendi.score_dual(X)), rel=1e-5)
    assert M.vendi_score(X, q=2) == pytest.approx(float(vendi.score_dual(X, q=2)), rel=1e-5)
    three = np.repeat(np.eye(3, 16, dtype=np.float32), 50, axis=0)  # 3 orthogonal items, 50 copies each
    assert M.vendi_score(three) == pytest.approx(3.0, rel=1e-6)


def test_prdc_matches_reference_package():
    import prdc

    real, fake = gaussian(500, 16, seed=11), gaussian(400, 16, 0.3, 1.2, seed=12)
    ours = M.prdc(real, fake, k=5, chunk=97)
    ref = prdc.compute_prdc(real_features=real, fake_features=fake, nearest_k=5)
    for key in ("precision", "recall", "density", "coverage"):
        assert ours[key] == pytest.approx(float(ref[key]), abs=1e-12), key


def test_mauve_matches_mauve_text_at_same_seed_and_buckets():
    import mauve as reference

    p, q = gaussian(500, 24, seed=13), gaussian(500, 24, 0.25, seed=14)
    ref = reference.compute_mauve(p_features=p, q_features=q, num_buckets=25, seed=25)
    ours = M.mauve(p, q, num_buckets=25, seed=25)
    assert ours["mauve"] == pytest.approx(ref.mauve, abs=1e-12)
    same = M.mauve(p, gaussian(500, 24, seed=15), num_buckets=25)["mauve"]
    assert same > ours["mauve"]


def _sample_texts(n):
    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    return [r["text"] for r in rows if r.get("text")][:n]


def test_self_bleu_matches_nltk_sentence_bleu_against_all_others():
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    texts = _sample_texts(60) + ["a b", "hi", "the the the", "the the the"]
    toks = [t.lower().split() for t in texts]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = np.mean([sentence_bleu(toks[:i] + toks[i + 1:], toks[i], smoothing_function=SmoothingFunction().method1)
                       for i in range(len(toks))])
    assert M.self_bleu(texts) == pytest.approx(ref, rel=1e-9)
    assert M.self_bleu(["these are the same words"] * 5) == pytest.approx(1.0)


def test_distinct_n_on_a_hand_example():
    assert M.distinct_n(["a b a b", "a b"], 1) == pytest.approx(2 / 6)
    assert M.distinct_n(["a b a b", "a b"], 2) == pytest.approx(2 / 4)
    assert math.isnan(M.distinct_n(["one"], 2))


def test_tail_coverage_sees_lost_rare_clusters():
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((10, 8)) * 10
    sizes = [200] * 5 + [10] * 5  # five rare clusters
    real = np.vstack([c + rng.standard_normal((s, 8)) for c, s in zip(centers, sizes, strict=True)]).astype(np.float32)
    heads_only = np.vstack([c + rng.standard_normal((200, 8)) for c in centers[:5]]).astype(np.float32)
    lost = M.tail_coverage(real, heads_only, n_clusters=10, tail_mass=0.06)
    kept = M.tail_coverage(real, real[rng.permutation(len(real))], n_clusters=10, tail_mass=0.06)
    assert lost["coverage"] == 0.0 and lost["synthetic_tail_mass"] == 0.0
    assert kept["coverage"] == 1.0


def test_memorisation_counts_near_copies_only():
    real = gaussian(300, 16, seed=20)
    synthetic = np.vstack([real[:30] + 1e-3, gaussian(70, 16, seed=21)])
    mem = M.memorisation_rate(real, synthetic, threshold=0.95)
    assert mem["rate"] == pytest.approx(0.3)
    assert (mem["nn_index"][:30] == np.arange(30)).all()
