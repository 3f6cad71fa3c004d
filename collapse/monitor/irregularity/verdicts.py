"""The four-way verdict on a family of ratios synthetic/real: smoothed, exaggerated, preserved, inconclusive."""


import math
from collections.abc import Sequence
from typing import Any

import numpy as np

#
# A ratio synthetic/real is judged on the log scale with its bootstrap standard error (a normal
# bootstrap interval: Holm's small per-step levels need tails a few hundred replicates cannot give).
#   smoothed / exaggerated: the interval lies below / above the equivalence band [lower, upper], at the
#       level Holm's step-down gives the feature in the family of features (family-wise error <= alpha);
#   preserved: the whole interval lies inside the band (TOST: two one-sided tests at the Holm level);
#   inconclusive: neither, with the sample size that would settle it if the estimate held.
# An interval too wide to say anything is therefore inconclusive, never preserved.

VERDICTS = ("smoothed", "exaggerated", "preserved", "inconclusive")
PSEUDO_COUNT = 0.5  # added to event counts before the log, so a rate of 0 (everything removed) stays finite


def log_ratio(syn_counts: np.ndarray, syn_denoms: np.ndarray, real_counts: np.ndarray,
              real_denoms: np.ndarray) -> np.ndarray:
    """log((s + 0.5) / s_den) - log((r + 0.5) / r_den), elementwise (NaN where a denominator is 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (np.log(syn_counts + PSEUDO_COUNT) - np.log(syn_denoms)
               - np.log(real_counts + PSEUDO_COUNT) + np.log(real_denoms))
    return np.where((syn_denoms > 0) & (real_denoms > 0), out, np.nan)


def holm(p: Sequence[float], alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Holm's step-down: (rejected, adjusted p, level each hypothesis was tested at).

    The level of a hypothesis after the procedure stopped is the level of the step where it stopped,
    so "rejected" is exactly "p <= level" and an interval at that level shows the decision.
    """
    p = np.asarray(p, dtype=float)
    k = len(p)
    order = np.argsort(p, kind="stable")
    rejected = np.zeros(k, dtype=bool)
    levels = np.empty(k)
    adjusted = np.empty(k)
    running = 0.0
    stop = None
    for step, j in enumerate(order):
        level = alpha / (k - step)
        running = max(running, min(1.0, (k - step) * p[j]))
        adjusted[j] = running
        if stop is None and p[j] <= level:
            rejected[j], levels[j] = True, level
        else:
            stop = level if stop is None else stop
            levels[j] = stop
    return rejected, adjusted, levels


def ratio_verdicts(log_ratios: Sequence[float], se: Sequence[float], *, lower: float = 0.8, upper: float = 1.25,
                   alpha: float = 0.05, power: float = 0.8, n_real: int = 0, n_synthetic: int = 0,
                   extra_difference_p: Sequence[float] = ()) -> dict[str, Any]:
    """Four-way verdicts for K ratios judged together (see the comment above).

    `extra_difference_p`: p-values of other "is it different?" tests (the kind features) that join the
    difference family, so one Holm correction covers every flag the report raises. Returns per-ratio
    entries (verdict, p-values, intervals at the Holm levels, n to settle, detectable ratios), the
    Holm results of the extra tests, and the settings.
    """
    from scipy.stats import norm

    L = np.asarray(log_ratios, dtype=float)
    s = np.maximum(np.asarray(se, dtype=float), 1e-12)
    lo, hi = math.log(lower), math.log(upper)
    p_smooth = norm.cdf((L - lo) / s)          # H0: ratio >= lower
    p_exag = norm.sf((L - hi) / s)             # H0: ratio <= upper
    p_diff = np.minimum(1.0, 2 * np.minimum(p_smooth, p_exag))
    p_equiv = np.maximum(norm.sf((L - lo) / s), norm.cdf((L - hi) / s))  # TOST
    extra = np.asarray(list(extra_difference_p), dtype=float)
    k_diff = len(L) + len(extra)
    rej_d, adj_d, lev_d = holm(np.concatenate([p_diff, extra]), alpha)
    rej_e, adj_e, lev_e = holm(p_equiv, alpha)
    z_b = float(norm.ppf(power))
    z_d_worst = float(norm.ppf(1 - alpha / (2 * max(k_diff, 1))))  # Holm's first step = Bonferroni
    z_e_worst = float(norm.ppf(1 - alpha / max(len(L), 1)))
    out = []
    for j in range(len(L)):
        z_d = float(norm.ppf(1 - lev_d[j] / 2))
        z_e = float(norm.ppf(1 - lev_e[j]))
        if rej_d[j]:
            verdict = "smoothed" if L[j] < lo else "exaggerated"
        elif rej_e[j]:
            verdict = "preserved"
        else:
            verdict = "inconclusive"
        entry: dict[str, Any] = {
            "verdict": verdict, "log_ratio": float(L[j]), "se_log_ratio": float(s[j]),
            "p_difference": float(p_diff[j]), "p_difference_holm": float(adj_d[j]),
            "p_equivalence": float(p_equiv[j]), "p_equivalence_holm": float(adj_e[j]),
            "ci_difference": [math.exp(L[j] - z_d * s[j]), math.exp(L[j] + z_d * s[j])],
            "ci_difference_level": 1 - float(lev_d[j]),
            "ci_equivalence": [math.exp(L[j] - z_e * s[j]), math.exp(L[j] + z_e * s[j])],
            "ci_equivalence_level": 1 - 2 * float(lev_e[j]),
            # power at this n: a true ratio at or beyond these is flagged with probability >= `power`
            "detectable_smoothed_ratio": lower * math.exp(-(z_d_worst + z_b) * s[j]),
            "detectable_exaggerated_ratio": upper * math.exp((z_d_worst + z_b) * s[j]),
        }
        if verdict == "inconclusive":
            entry["n_to_settle"] = _n_to_settle(L[j], s[j], lo, hi, z_d_worst, z_e_worst, n_real, n_synthetic)
        out.append(entry)
    return {"features": out,
            "extra": [{"rejected": bool(rej_d[len(L) + i]), "p_holm": float(adj_d[len(L) + i]),
                       "level": float(lev_d[len(L) + i])} for i in range(len(extra))],
            "settings": {"alpha": alpha, "power": power, "band": [lower, upper], "correction": "holm",
                         "z_difference_bonferroni": z_d_worst,
                         "n_difference_tests": int(k_diff), "n_equivalence_tests": int(len(L))}}


def _n_to_settle(L: float, se: float, lo: float, hi: float, z_d: float, z_e: float, n_real: int,
                 n_synthetic: int) -> dict[str, Any]:
    """Both corpora scaled by the factor at which the interval (SE ~ 1/sqrt(n)) would leave or fit the band,
    if the estimate stayed where it is; at the strictest Holm level, so it is enough at any step."""
    if L < lo:
        need = (lo - L) / z_d
    elif L > hi:
        need = (L - hi) / z_d
    else:
        need = min(L - lo, hi - L) / z_e
    if need <= 0:
        return {"factor": None, "note": "the estimate sits on the margin: no sample size settles it"}
    factor = max(1.0, (se / need) ** 2)
    return {"factor": factor, "n_real": math.ceil(n_real * factor), "n_synthetic": math.ceil(n_synthetic * factor),
            "assumes": "the estimate stays where it is and the standard error shrinks as 1/sqrt(n)"}

