"""Distribution metrics between a real and a synthetic corpus (embeddings or texts).

Every function takes plain numpy arrays (rows = records) or lists of strings and returns plain floats
or dicts, so the collapse experiments reuse them directly. All are deterministic given `seed`, and
none holds an n x n matrix: large inputs are processed in row chunks (memory O(chunk x n) at most,
O(d^2) for the moment-based ones).

Each is checked in tests against a reference: the pytorch-fid formula, closed forms on Gaussians,
`prdc`, `vendi-score`, `mauve-text` and nltk's BLEU.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import linalg

CHUNK = 65_536


# --- moments ---------------------------------------------------------------------------------------


def mean_and_cov(X: np.ndarray, chunk: int = CHUNK) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance with float32 chunked X^T X, accumulated in float64 (memory O(d^2))."""
    n, d = X.shape
    s = np.zeros(d)
    g = np.zeros((d, d))
    for i in range(0, n, chunk):
        c = np.asarray(X[i:i + chunk], dtype=np.float32)
        s += c.sum(0, dtype=np.float64)
        g += (c.T @ c).astype(np.float64)
    mu = s / n
    cov = (g - n * np.outer(mu, mu)) / max(n - 1, 1)
    return mu, cov


def frechet_from_moments(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray,
                         eps: float = 1e-6) -> float:
    """pytorch-fid's formula: ||mu1-mu2||^2 + Tr(S1 + S2 - 2 sqrt(S1 S2)) (with its eps fallback)."""
    diff = mu1 - mu2
    covmean, _ = linalg.sqrtm(s1.dot(s2), disp=False) if _sqrtm_has_disp() else (linalg.sqrtm(s1.dot(s2)), None)
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * eps
        covmean = linalg.sqrtm((s1 + offset).dot(s2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def _sqrtm_has_disp() -> bool:
    import inspect

    return "disp" in inspect.signature(linalg.sqrtm).parameters


def frechet_distance(X: np.ndarray, Y: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to X and Y (FID's formula on any embedding)."""
    return frechet_from_moments(*mean_and_cov(X), *mean_and_cov(Y))


# --- MMD --------------------------------------------------------------------------------------------


def _sq_dists(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    a = (A.astype(np.float64) ** 2).sum(1)[:, None]
    b = (B.astype(np.float64) ** 2).sum(1)[None, :]
    return np.maximum(a + b - 2.0 * (A.astype(np.float64) @ B.astype(np.float64).T), 0.0)


def median_bandwidth(X: np.ndarray, Y: np.ndarray, max_points: int = 1000, seed: int = 0) -> float:
    """Median heuristic: the median pairwise distance of the pooled sample (on <= max_points points)."""
    rng = np.random.default_rng(seed)
    Z = np.concatenate([X, Y])
    if len(Z) > max_points:
        Z = Z[rng.choice(len(Z), size=max_points, replace=False)]
    d = _sq_dists(Z, Z)[np.triu_indices(len(Z), k=1)]
    med = float(np.sqrt(np.median(d))) if d.size else 1.0
    return med if med > 0 else 1.0


def _kernel_sum(A: np.ndarray, B: np.ndarray, gamma: float, same: bool, chunk: int = 2048) -> float:
    total = 0.0
    for i in range(0, len(A), chunk):
        k = np.exp(-gamma * _sq_dists(A[i:i + chunk], B))
        total += float(k.sum())
    if same:
        total -= len(A)  # drop the diagonal k(x, x) = 1 for the unbiased estimate
    return total


def _rff_mean_stats(X: np.ndarray, W: np.ndarray, b: np.ndarray, chunk: int) -> tuple[np.ndarray, float]:
    """Sum of random Fourier features over rows and the sum of their squared norms."""
    D = W.shape[1]
    s = np.zeros(D)
    sq = 0.0
    scale = np.float32(math.sqrt(2.0 / D))
    for i in range(0, len(X), chunk):
        z = np.asarray(X[i:i + chunk], dtype=np.float32) @ W
        z += b
        np.cos(z, out=z)
        z *= scale
        s += z.sum(0, dtype=np.float64)
        sq += float(np.einsum("ij,ij->", z, z, dtype=np.float64))
    return s, sq


def mmd_method(n: int, m: int, exact_max_n: int) -> str:
    """What method "auto" picks: exact up to `exact_max_n` rows per side, random Fourier features above."""
    return "exact" if max(n, m) <= exact_max_n else "rff"


def mmd_rbf(X: np.ndarray, Y: np.ndarray, bandwidth: float | None = None, method: str = "auto",
            n_features: int = 1024, exact_max_n: int = 5000, seed: int = 0, chunk: int = CHUNK) -> dict[str, Any]:
    """Unbiased MMD^2 with an RBF kernel k(x,y) = exp(-||x-y||^2 / (2 bw^2)), bw by the median heuristic.

    method "exact" sums the kernel in row chunks (O(n^2) time, O(chunk n) memory); "rff" uses random
    Fourier features (O(n D d) time, O(D) memory), unbiased in expectation; "auto" picks exact up to
    `exact_max_n` rows per side.
    """
    n, m = len(X), len(Y)
    bw = bandwidth if bandwidth is not None else median_bandwidth(X, Y, seed=seed)
    gamma = 1.0 / (2.0 * bw * bw)
    if method == "auto":
        method = mmd_method(n, m, exact_max_n)
    if method == "exact":
        kxx = _kernel_sum(X, X, gamma, True) / (n * (n - 1))
        kyy = _kernel_sum(Y, Y, gamma, True) / (m * (m - 1))
        kxy = _kernel_sum(X, Y, gamma, False) / (n * m)
        value = kxx + kyy - 2 * kxy
    elif method == "rff":
        rng = np.random.default_rng(seed)
        W = (rng.standard_normal((X.shape[1], n_features)) / bw).astype(np.float32)
        b = rng.uniform(0, 2 * np.pi, n_features).astype(np.float32)
        sx, qx = _rff_mean_stats(X, W, b, chunk)
        sy, qy = _rff_mean_stats(Y, W, b, chunk)
        value = ((sx @ sx - qx) / (n * (n - 1)) + (sy @ sy - qy) / (m * (m - 1)) - 2 * (sx @ sy) / (n * m))
    else:
        raise ValueError(f"method must be auto, exact or rff, got {method!r}")
    return {"mmd2": float(value), "bandwidth": float(bw), "method": method,
            **({"n_features": n_features} if method == "rff" else {})}


# --- diversity --------------------------------------------------------------------------------------


def vendi_score(X: np.ndarray, q: float = 1.0, normalize: bool = True, chunk: int = CHUNK) -> float:
    """Vendi score with the cosine kernel via the dual form: eigenvalues of X^T X / n (d x d, float32 chunks).

    Equals vendi_score.vendi.score_dual; the effective number of distinct items (1..min(n, d)).
    """
    n, d = X.shape
    g = np.zeros((d, d))
    for i in range(0, n, chunk):
        c = np.asarray(X[i:i + chunk], dtype=np.float32)
        if normalize:
            c = c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)
        g += (c.T @ c).astype(np.float64)
    w = np.linalg.eigvalsh(g / n)
    p = w[w > 0]
    p = p / p.sum() if normalize else p
    if q == 1:
        return float(np.exp(-np.sum(p * np.log(p))))
    if q == float("inf"):
        return float(1.0 / p.max())
    return float(np.exp(np.log(np.sum(p ** q)) / (1 - q)))


def _tokens(text: str) -> list[str]:
    return text.lower().split()


def distinct_n(texts: Sequence[str], n: int = 2) -> float:
    """Unique n-grams / total n-grams over the corpus (Li et al. 2016); NaN when there are none."""
    seen: set[tuple[str, ...]] = set()
    total = 0
    for t in texts:
        toks = _tokens(t)
        grams = [tuple(toks[i:i + n]) for i in range(len(toks) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else float("nan")


def self_bleu(texts: Sequence[str], max_n: int = 4, max_texts: int = 1000, seed: int = 0,
              epsilon: float = 0.1) -> float:
    """Mean sentence BLEU of each text against all the others as references (Zhu et al. 2018).

    Same value as nltk's sentence_bleu(others, text, smoothing_function=method1) averaged, but
    O(n) per text: clipping uses the max and second max count of each n-gram over the set (the max
    among "others" is the second max when this text holds the max). Above `max_texts` a seeded
    subsample is scored.
    """
    rng = np.random.default_rng(seed)
    idx = np.arange(len(texts))
    if len(idx) > max_texts:
        idx = np.sort(rng.choice(len(texts), size=max_texts, replace=False))
    toks = [_tokens(texts[i]) for i in idx]
    if len(toks) < 2:
        return float("nan")
    weights = [1.0 / max_n] * max_n
    counts = [[Counter(tuple(t[i:i + k]) for i in range(len(t) - k + 1)) for t in toks] for k in range(1, max_n + 1)]
    best: list[dict[tuple[str, ...], list[int]]] = []  # ngram -> [max, owner, second]
    for k in range(max_n):
        top: dict[tuple[str, ...], list[int]] = {}
        for j, c in enumerate(counts[k]):
            for g, v in c.items():
                e = top.get(g)
                if e is None:
                    top[g] = [v, j, 0]
                elif v > e[0]:
                    top[g] = [v, j, e[0]]
                elif v > e[2]:
                    e[2] = v
        best.append(top)
    lens = np.array([len(t) for t in toks])
    order = np.argsort(lens, kind="stable")
    sorted_lens = lens[order]
    scores = []
    for j, t in enumerate(toks):
        hyp_len = len(t)
        nums, dens = [], []
        for k in range(max_n):
            num = 0
            for g, v in counts[k][j].items():
                e = best[k][g]
                other = e[2] if e[1] == j else e[0]
                num += min(v, other)
            nums.append(num)
            dens.append(max(1, hyp_len - k))
        if nums[0] == 0:
            scores.append(0.0)
            continue
        # closest reference length among the others (ties -> shorter), as nltk's closest_ref_length
        pos = np.searchsorted(sorted_lens, hyp_len)
        cands = []
        for p in (pos - 2, pos - 1, pos, pos + 1):
            if 0 <= p < len(order) and order[p] != j:
                cands.append(int(sorted_lens[p]))
        if not cands:
            cands = [int(x) for i, x in enumerate(lens) if i != j]
        ref_len = min(cands, key=lambda r: (abs(r - hyp_len), r))
        bp = 1.0 if hyp_len > ref_len else (0.0 if hyp_len == 0 else math.exp(1 - ref_len / hyp_len))
        logs = [w * math.log((num if num else epsilon) / den) for w, num, den in zip(weights, nums, dens, strict=True)]
        scores.append(bp * math.exp(sum(logs)))
    return float(np.mean(scores))


# --- k-NN based: PRDC, memorisation --------------------------------------------------------------


def _kth_nn_radius(X: np.ndarray, k: int) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=k + 1).fit(X)
    dist, _ = nn.kneighbors(X)
    return dist[:, k]  # column 0 is the point itself


def prdc(real: np.ndarray, fake: np.ndarray, k: int = 5, chunk: int = 2048) -> dict[str, float]:
    """Precision, recall, density, coverage (Naeem et al. 2020), same definitions as the `prdc` package,
    with distances computed in chunks (memory O(chunk x n), never n x n)."""
    real = np.asarray(real, dtype=np.float64)
    fake = np.asarray(fake, dtype=np.float64)
    r_rad = _kth_nn_radius(real, k)
    f_rad = _kth_nn_radius(fake, k)
    in_real_balls = np.zeros(len(fake))  # for each fake: number of real balls containing it
    real_min_to_fake = np.full(len(real), np.inf)
    for i in range(0, len(fake), chunk):
        d = np.sqrt(_sq_dists(fake[i:i + chunk], real))  # (c, n_real)
        in_real_balls[i:i + chunk] = (d < r_rad[None, :]).sum(1)
        real_min_to_fake = np.minimum(real_min_to_fake, d.min(0))
    recall_hits = np.zeros(len(real), dtype=bool)
    for i in range(0, len(real), chunk):
        d = np.sqrt(_sq_dists(real[i:i + chunk], fake))
        recall_hits[i:i + chunk] = (d < f_rad[None, :]).any(1)
    return {
        "precision": float((in_real_balls > 0).mean()),
        "recall": float(recall_hits.mean()),
        "density": float(in_real_balls.sum() / (k * len(fake))),
        "coverage": float((real_min_to_fake < r_rad).mean()),
    }


def nearest_cosine(queries: np.ndarray, base: np.ndarray, chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """For each query row: the highest cosine similarity to a base row and that row's index."""
    qn = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    bn = (base / np.maximum(np.linalg.norm(base, axis=1, keepdims=True), 1e-12)).astype(np.float32)
    sims = np.empty(len(qn))
    idx = np.empty(len(qn), dtype=np.int64)
    for i in range(0, len(qn), chunk):
        s = qn[i:i + chunk].astype(np.float32) @ bn.T
        idx[i:i + chunk] = s.argmax(1)
        sims[i:i + chunk] = s[np.arange(len(s)), idx[i:i + chunk]]
    return sims, idx


def memorisation_rate(real: np.ndarray, synthetic: np.ndarray, threshold: float = 0.95) -> dict[str, Any]:
    """Share of synthetic rows whose nearest real row has cosine >= threshold (a near-copy)."""
    sims, idx = nearest_cosine(synthetic, real)
    return {"rate": float((sims >= threshold).mean()), "threshold": threshold,
            "mean_nn_cosine": float(sims.mean()), "nn_cosine": sims, "nn_index": idx}


# --- clusters: MAUVE, tail coverage ------------------------------------------------------------------


def _kmeans_labels(data: np.ndarray, k: int, seed: int, n_redo: int, max_iter: int) -> np.ndarray:
    data = np.ascontiguousarray(data, dtype=np.float32)
    try:
        import faiss
    except ImportError:  # same algorithm family; faiss is what mauve-text uses, so prefer it when present
        from sklearn.cluster import KMeans

        return KMeans(n_clusters=k, n_init=n_redo, max_iter=max_iter, random_state=seed).fit_predict(data)
    # min_points_per_centroid only governs faiss's "provide more points" warning (small n is reported as such)
    km = faiss.Kmeans(data.shape[1], k, niter=max_iter, verbose=False, nredo=n_redo, update_index=True, seed=seed,
                      min_points_per_centroid=1)
    km.train(data)
    _, labels = km.index.search(data, 1)
    return labels.reshape(-1)


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    if np.logical_and(p != 0, q == 0).any():
        return float("inf")
    m = (p != 0) & (q != 0)
    return float(np.sum(p[m] * np.log(p[m] / q[m])))


def _auc(x: np.ndarray, y: np.ndarray) -> float:
    from sklearn.metrics import auc

    return float(auc(x, y))


def mauve(p_features: np.ndarray, q_features: np.ndarray, num_buckets: int | str = "auto",
          explained_variance: float = 0.9, n_redo: int = 5, max_iter: int = 500, scaling: float = 5.0,
          discretization: int = 25, seed: int = 25) -> dict[str, Any]:
    """MAUVE (Pillutla et al. 2021) on precomputed features, the algorithm of `mauve-text` step by step
    (l2-normalise, PCA to 90% variance, k-means into buckets, area under the divergence frontier),
    so it gives the same number at the same seed and bucket count. p = real, q = synthetic."""
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import normalize

    p_features, q_features = np.asarray(p_features), np.asarray(q_features)
    if num_buckets == "auto":
        num_buckets = max(2, int(round(min(len(p_features), len(q_features)) / 10)))
    data = normalize(np.vstack([q_features, p_features]), norm="l2", axis=1)
    pca = PCA(n_components=None, whiten=False, random_state=seed + 1).fit(data)
    idx = int(np.argmax(np.cumsum(pca.explained_variance_ratio_) >= explained_variance))
    data = pca.transform(data)[:, :idx + 1]
    labels = _kmeans_labels(data, int(num_buckets), seed + 2, n_redo, max_iter)
    q_lab, p_lab = labels[:len(q_features)], labels[len(q_features):]
    p = np.histogram(p_lab, bins=num_buckets, range=[0, num_buckets])[0].astype(float)
    q = np.histogram(q_lab, bins=num_buckets, range=[0, num_buckets])[0].astype(float)
    p, q = p / p.sum(), q / q.sum()
    curve = [[0, np.inf]]
    for w in np.sort(np.linspace(1e-6, 1 - 1e-6, discretization)):
        r = w * p + (1 - w) * q
        curve.append([_kl(q, r), _kl(p, r)])
    curve.append([np.inf, 0])
    x, y = np.exp(-scaling * np.asarray(curve)).T
    i1, i2 = np.argsort(x), np.argsort(y)
    value = 0.5 * (_auc(x[i1], y[i1]) + _auc(y[i2], x[i2]))
    return {"mauve": float(value), "num_buckets": int(num_buckets)}


def tail_coverage(real: np.ndarray, synthetic: np.ndarray, n_clusters: int = 50, tail_mass: float = 0.1,
                  seed: int = 0) -> dict[str, Any]:
    """Share of the real data's rare clusters that synthetic data reaches.

    k-means on real embeddings; the rare clusters are the smallest ones that together hold at most
    `tail_mass` of the real rows (at least one). A rare cluster is reached when at least one synthetic
    row has it as nearest centroid. Also reports synthetic mass in those clusters vs real mass.
    """
    from sklearn.cluster import KMeans

    k = int(min(n_clusters, max(2, len(real) // 10)))
    km = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(np.asarray(real, dtype=np.float32))
    real_counts = np.bincount(km.labels_, minlength=k)
    syn_counts = np.bincount(km.predict(np.asarray(synthetic, dtype=np.float32)), minlength=k)
    order = np.argsort(real_counts, kind="stable")
    cum = np.cumsum(real_counts[order]) / len(real)
    n_rare = max(1, int(np.searchsorted(cum, tail_mass, side="right")))
    rare = order[:n_rare]
    real_mass = float(real_counts[rare].sum() / len(real))
    syn_mass = float(syn_counts[rare].sum() / max(len(synthetic), 1))
    return {"coverage": float((syn_counts[rare] > 0).mean()), "n_clusters": k, "n_rare_clusters": int(n_rare),
            "real_tail_mass": real_mass, "synthetic_tail_mass": syn_mass,
            "tail_mass_ratio": syn_mass / real_mass if real_mass else None}
