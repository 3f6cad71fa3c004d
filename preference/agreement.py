"""Inter-rater agreement: Krippendorff's alpha (nominal, ordinal), Cohen's and Fleiss' kappa,
with percentile bootstrap intervals over items.

Vectorised so that 100k responses take seconds: each item's contribution to the coincidence (or
confusion) matrix is computed once; a bootstrap replicate is a weighted sum of those contributions.
Values are integer codes 0..V-1; a missing rating is -1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MISSING = -1


@dataclass(frozen=True, slots=True)
class Estimate:
    value: float
    low: float
    high: float
    n_items: int

    def to_dict(self) -> dict[str, float | int]:
        return {"value": _r(self.value), "ci_low": _r(self.low), "ci_high": _r(self.high), "n_items": self.n_items}


def _r(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 4)


def _delta(n_values: int, level: str, totals: np.ndarray | None = None) -> np.ndarray:
    """Squared distance between codes: 0/1 for nominal; Krippendorff's rank metric for ordinal."""
    idx = np.arange(n_values)
    if level == "nominal":
        return (idx[:, None] != idx[None, :]).astype(float)
    if level == "ordinal":
        assert totals is not None
        cum = np.concatenate([[0.0], np.cumsum(totals)])
        lo, hi = np.minimum.outer(idx, idx), np.maximum.outer(idx, idx)
        s = cum[hi + 1] - cum[lo]  # sum of n_g for g in [lo, hi]
        return (s - (totals[lo] + totals[hi]) / 2.0) ** 2
    raise ValueError(f"unknown level {level!r}")


def unit_coincidences(matrix: np.ndarray, n_values: int) -> np.ndarray:
    """Per-unit coincidence matrices (units x V x V) for a units x raters code matrix."""
    counts = category_counts(matrix, n_values)
    n_u = counts.sum(axis=1)
    ok = n_u >= 2
    counts, n_u = counts[ok], n_u[ok]
    outer = counts[:, :, None] * counts[:, None, :]
    outer[:, np.arange(n_values), np.arange(n_values)] -= counts
    return outer / (n_u - 1)[:, None, None]


def _alpha_from_coincidence(o: np.ndarray, level: str) -> float:
    totals = o.sum(axis=-1)
    n = totals.sum()
    if n <= 1:
        return float("nan")
    d = _delta(o.shape[-1], level, totals)
    d_o = (o * d).sum()
    d_e = (np.outer(totals, totals) * d).sum() / (n - 1)
    return float("nan") if d_e == 0 else float(1.0 - d_o / d_e)


def _bootstrap(stat, n_items: int, n_boot: int, seed: int) -> tuple[float, float]:
    if n_boot <= 0 or n_items < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    w = rng.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=n_boot).astype(float)
    vals = np.array([stat(row) for row in w])
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return float("nan"), float("nan")
    return float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))


def krippendorff_alpha(matrix: np.ndarray, n_values: int, level: str = "nominal",
                       n_boot: int = 200, seed: int = 0) -> Estimate:
    """Alpha over a units x raters matrix of codes (-1 = missing)."""
    per_unit = unit_coincidences(matrix, n_values)
    if per_unit.shape[0] == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    value = _alpha_from_coincidence(per_unit.sum(axis=0), level)
    flat = per_unit.reshape(per_unit.shape[0], -1)

    def stat(w: np.ndarray) -> float:
        return _alpha_from_coincidence((w @ flat).reshape(n_values, n_values), level)

    lo, hi = _bootstrap(stat, per_unit.shape[0], n_boot, seed)
    return Estimate(value, lo, hi, per_unit.shape[0])


def _kappa_from_confusion(c: np.ndarray) -> float:
    n = c.sum()
    if n == 0:
        return float("nan")
    po = np.trace(c) / n
    pe = (c.sum(axis=0) * c.sum(axis=1)).sum() / (n * n)
    return float("nan") if pe == 1 else float((po - pe) / (1 - pe))


def cohen_kappa(a: Sequence[int], b: Sequence[int], n_values: int, n_boot: int = 200, seed: int = 0) -> Estimate:
    """Cohen's kappa of two raters over the items both rated."""
    a, b = np.asarray(a), np.asarray(b)
    keep = (a != MISSING) & (b != MISSING)
    a, b = a[keep], b[keep]
    if a.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    cells = a * n_values + b
    one_hot = np.zeros((a.size, n_values * n_values))
    one_hot[np.arange(a.size), cells] = 1.0
    value = _kappa_from_confusion(one_hot.sum(axis=0).reshape(n_values, n_values))

    def stat(w: np.ndarray) -> float:
        return _kappa_from_confusion((w @ one_hot).reshape(n_values, n_values))

    lo, hi = _bootstrap(stat, a.size, n_boot, seed)
    return Estimate(value, lo, hi, int(a.size))


def category_counts(matrix: np.ndarray, n_values: int) -> np.ndarray:
    m = np.asarray(matrix)
    if n_values == 0:
        return np.zeros((m.shape[0], 0))
    return np.stack([(m == v).sum(axis=1) for v in range(n_values)], axis=1).astype(float)


def _fleiss_from_counts(counts: np.ndarray) -> float:
    """Fleiss' kappa of a table whose rows all have >= 2 ratings (fleiss_kappa filters)."""
    if counts.shape[0] == 0:
        return float("nan")
    n_i = counts.sum(axis=1)
    p_i = ((counts ** 2).sum(axis=1) - n_i) / (n_i * (n_i - 1))
    p_j = counts.sum(axis=0) / n_i.sum()
    p_bar, p_e = p_i.mean(), (p_j ** 2).sum()
    return float("nan") if p_e == 1 else float((p_bar - p_e) / (1 - p_e))


def fleiss_kappa(counts: np.ndarray, n_boot: int = 200, seed: int = 0) -> Estimate:
    """Fleiss' kappa from an items x categories count table (rows may have different rater counts)."""
    counts = np.asarray(counts, dtype=float)
    counts = counts[counts.sum(axis=1) >= 2]
    value = _fleiss_from_counts(counts)

    def stat(w: np.ndarray) -> float:
        return _fleiss_from_counts(np.repeat(counts, w.astype(int), axis=0))

    lo, hi = _bootstrap(stat, counts.shape[0], n_boot, seed)
    return Estimate(value, lo, hi, int(counts.shape[0]))


def pairwise_cohen(matrix: np.ndarray, n_values: int, n_boot: int = 0) -> dict[tuple[int, int], Estimate]:
    m = np.asarray(matrix)
    out = {}
    for i in range(m.shape[1]):
        for j in range(i + 1, m.shape[1]):
            est = cohen_kappa(m[:, i], m[:, j], n_values, n_boot=n_boot)
            if est.n_items:
                out[(i, j)] = est
    return out


def rater_vs_rest(matrix: np.ndarray, n_values: int, n_boot: int = 200, seed: int = 0) -> list[Estimate]:
    """Per rater: Cohen's kappa against the majority of the other raters (leave-one-out consensus)."""
    m = np.asarray(matrix)
    counts = category_counts(m, n_values)
    out = []
    for r in range(m.shape[1]):
        rest = counts.copy()
        own = m[:, r]
        has = own != MISSING
        rest[np.where(has)[0], own[has]] -= 1
        if not rest.shape[1]:  # no judgment coded yet (e.g. only gold items answered): no majority anywhere
            majority = np.full(m.shape[0], MISSING)
        else:
            majority = np.where(rest.sum(axis=1) > 0, rest.argmax(axis=1), MISSING)
        out.append(cohen_kappa(own, majority, n_values, n_boot=n_boot, seed=seed + r))
    return out
