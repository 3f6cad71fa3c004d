"""Figures beside their same-distribution baseline: real A vs synthetic at the same n as real A vs real B.

A metric without enough data says so ({"status": "not_enough_data", "min_n", "n"}) instead of printing a number.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from semisynth.collapse.monitor import irregularity as irr
from semisynth.collapse.monitor import metrics as M
from semisynth.collapse.monitor.config import ALPHA_SHARES, MonitorConfig


def not_enough(min_n: int, n: int) -> dict[str, Any]:
    return {"status": "not_enough_data", "min_n": int(min_n), "n": int(n)}


def paired(fn: Callable[[np.ndarray, np.ndarray], float], A: np.ndarray, S: np.ndarray,
            B: np.ndarray, min_n: int, lower_is_better: bool = True) -> dict[str, Any]:
    n = min(len(A), len(S), len(B))
    if n < min_n:
        return not_enough(min_n, n)
    value, base = float(fn(A, S)), float(fn(A, B))
    return {"status": "ok", "value": value, "baseline": base, "n_real": len(A), "n_synthetic": len(S),
            "ratio_to_baseline": value / base if base else None, "lower_is_better": lower_is_better}


def mmd2_at(cfg: MonitorConfig, bandwidth: float) -> Callable[[np.ndarray, np.ndarray], float]:
    """MMD^2 at a fixed bandwidth, so a figure and its baseline are measured with the same kernel."""
    return lambda x, y: M.mmd_rbf(x, y, bandwidth=bandwidth, n_features=cfg.mmd_rff_features,
                                  exact_max_n=cfg.mmd_exact_max_n, seed=cfg.seed)["mmd2"]


def single(fn: Callable[[Any], float], S: Any, B: Any, min_n: int, **extra: Any) -> dict[str, Any]:
    n = min(len(S), len(B))
    if n < min_n:
        return not_enough(min_n, n)
    value, base = float(fn(S)), float(fn(B))
    if not (math.isfinite(value) and math.isfinite(base)):
        return not_enough(min_n, 0)
    return {"status": "ok", "value": value, "baseline": base, "n": len(S),
            "ratio_to_baseline": value / base if base else None, **extra}


def subsampled(fn: Callable[[np.ndarray, np.ndarray], dict[str, float]], A: np.ndarray, S: np.ndarray,
                B: np.ndarray, size: int, repeats: int, seed: int, min_n: int) -> dict[str, Any]:
    """Mean over `repeats` subsample draws with a t-interval: for metrics too costly on all rows."""
    n = min(len(A), len(S), len(B), size)
    if n < min_n:
        return not_enough(min_n, min(len(A), len(S), len(B)))
    from scipy import stats

    rng = np.random.default_rng(seed)
    runs: dict[str, list[float]] = defaultdict(list)
    base: dict[str, list[float]] = defaultdict(list)
    for _ in range(repeats):
        a = A[rng.choice(len(A), n, replace=False)]
        s = S[rng.choice(len(S), n, replace=False)]
        b = B[rng.choice(len(B), n, replace=False)]
        for k, v in fn(a, s).items():
            runs[k].append(v)
        for k, v in fn(a, b).items():
            base[k].append(v)
    t = float(stats.t.ppf(0.975, repeats - 1))

    def summary(xs: list[float]) -> dict[str, Any]:
        arr = np.asarray(xs)
        half = t * arr.std(ddof=1) / math.sqrt(len(arr))
        return {"mean": float(arr.mean()), "ci": [float(arr.mean() - half), float(arr.mean() + half)]}

    return {"status": "ok", "subsample_n": n, "repeats": repeats, "ci_level": 0.95,
            **{k: {"value": summary(v), "baseline": summary(base[k])} for k, v in runs.items()}}


def cap_rows(X: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if len(X) <= n:
        return X, np.arange(len(X))
    idx = np.sort(rng.choice(len(X), n, replace=False))
    return X[idx], idx


def norm_text(t: str) -> str:
    return " ".join(t.lower().split())


def group_metrics(idx: np.ndarray, real_idx: np.ndarray, syn_counts: tuple[np.ndarray, np.ndarray],
                  real_counts: tuple[np.ndarray, np.ndarray], R: np.ndarray, S: np.ndarray,
                  cfg: MonitorConfig, rng: np.random.Generator, real_kinds: dict[str, np.ndarray] | None = None,
                  syn_kinds: dict[str, np.ndarray] | None = None, *, alpha: float | None = None,
                  synthetic_groups: np.ndarray | None = None) -> dict[str, Any]:
    """Irregularity and Frechet/MMD of one slice of the synthetic data against its real reference; its flags at
    family-wise `alpha` (the slice's part of the report's), split between features and index like the report's."""
    n = len(idx)
    if n < cfg.breakdown_min_n or len(real_idx) < cfg.breakdown_min_n:
        return not_enough(cfg.breakdown_min_n, min(n, len(real_idx)))
    kinds = {} if real_kinds is None or syn_kinds is None else {
        "real_kinds": {k: v[real_idx] for k, v in real_kinds.items()},
        "synthetic_kinds": {k: v[idx] for k, v in syn_kinds.items()}}
    alpha = cfg.alpha * ALPHA_SHARES["breakdown"] if alpha is None else alpha
    within = ALPHA_SHARES["features"] + ALPHA_SHARES["smoothing_index"]
    prof = irr.corpus_profile([], [], n_boot=100, ci=cfg.ci, seed=cfg.seed, smoothed_below=cfg.smoothed_below,
                              exaggerated_above=cfg.exaggerated_above, min_events=cfg.min_events,
                              min_expected=cfg.min_expected, synthetic_groups=synthetic_groups,
                              alpha=alpha * ALPHA_SHARES["features"] / within,
                              index_alpha=alpha * ALPHA_SHARES["smoothing_index"] / within,
                              power=cfg.power, n_perm=min(cfg.n_perm, 1000),
                              real_counts=(real_counts[0][real_idx], real_counts[1][real_idx]),
                              synthetic_counts=(syn_counts[0][idx], syn_counts[1][idx]), **kinds)
    si = prof["smoothing_index_test"]
    out: dict[str, Any] = {"status": "ok", "n_synthetic": n, "n_real_reference": len(real_idx),
                           "smoothing_index": prof["smoothing_index"], "smoothing_index_ci": si.get("ci"),
                           "smoothing_index_verdict": si.get("verdict"),
                           "exaggeration_index": prof["exaggeration_index"],
                           "index_verdict": prof["index_verdict"], "verdicts": prof["counts"], "alpha": alpha,
                           "ci_level": cfg.ci,
                           "features": {k: {"ratio": v["ratio"], "ci": v["ci"], "verdict": v["verdict"],
                                            **{c: v[c] for c in ("ci_difference", "ci_difference_level",
                                                                 "ci_equivalence", "ci_equivalence_level")},
                                            **({"n_to_settle": v["n_to_settle"]} if "n_to_settle" in v else {})}
                                        for k, v in prof["features"].items() if v.get("status") == "ok"},
                           "kinds": {k: {"jsd": v["jsd"], "p_holm": v["p_holm"], "verdict": v["verdict"]}
                                     for k, v in prof["kinds"].items() if v.get("status") == "ok"}}
    perm = rng.permutation(real_idx)
    half = len(perm) // 2
    A, B = R[perm[:half]], R[perm[half:]]
    m = min(len(B), n)
    s = S[rng.choice(idx, m, replace=False)]
    b = B[:m]
    out["frechet"] = paired(M.frechet_distance, A, s, b, cfg.min_n_for("frechet"))
    out["mmd"] = paired(mmd2_at(cfg, M.median_bandwidth(A, B, seed=cfg.seed)), A, s, b, cfg.min_n_for("mmd"))
    return out


def two_sample_tests(R: np.ndarray, S: np.ndarray, real_texts: Sequence[str], syn_texts: Sequence[str],
                     a_idx: np.ndarray, b_idx: np.ndarray, syn_ids: Sequence[str], cfg: MonitorConfig, *,
                     real_ids: Sequence[str] | None = None, synthetic_groups: Sequence[str] | None = None
                     ) -> dict[str, Any]:
    """Classifier two-sample test, real vs synthetic, on embeddings and on character n-grams, each beside the
    same test on real A vs real B (which should sit at AUC 0.5). A seed and its variants share one cluster
    (`real_ids`, `synthetic_groups`): they fall in one fold and count once in the interval."""
    from semisynth.collapse.monitor.two_sample import c2st

    kw = dict(folds=cfg.c2st_folds, seed=cfg.seed, max_n=cfg.c2st_max_n)
    out: dict[str, Any] = {"method": "Lopez-Paz & Oquab 2017: cross-validated AUC of a classifier telling synthetic "
                                     f"from real; both sides subsampled to <= {cfg.c2st_max_n} records (seeded)"}
    a_t, b_t = [real_texts[i] for i in a_idx], [real_texts[i] for i in b_idx]
    for feats, real, syn, ra, rb in (("embedding", R, S, R[a_idx], R[b_idx]), ("ngram", real_texts, syn_texts, a_t, b_t)):
        a = cfg.alpha * ALPHA_SHARES[f"c2st_{feats}"]
        res = c2st(real, syn, features=feats, synthetic_ids=syn_ids, alpha=a, real_groups=real_ids,
                   synthetic_groups=synthetic_groups, **kw)
        base = c2st(ra, rb, features=feats, top_k=0, alpha=a, **kw)
        res["baseline"] = {k: base.get(k) for k in ("status", "auc", "ci", "p_value", "verdict", "n_per_side")}
        out[feats] = res
    return out

