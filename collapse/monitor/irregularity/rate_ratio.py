"""The log ratio of two rates (events per word, per sentence, per text) and its standard error, from the counts.

Why not a bootstrap of texts: when one side has 0 events (a feature the synthetic texts never show), every
replicate has 0 events too, the side's variance is estimated as 0 and a confident "smoothed" follows from a
sample that could not have shown the feature: real tweets against other real tweets, 1,000 vs 100, flagged
something in 42 % of splits. Here each side's variance is the linearised (sandwich) variance of a ratio
estimator, summed over clusters (all variants of one seed form one cluster, so they are not counted as
independent evidence), and the synthetic side's variance is never below what the real texts' own dispersion
implies for a synthetic side at the null (rate = `lower` x the real rate): a side with few events cannot look
more certain than a real sample of its size would be. A feature is judged only where the *expected* number of
synthetic events at the null, divided by that dispersion, is at least `min_expected`; elsewhere it is
"not_enough_data" with the n that would judge it. No subsampling, so the SE shrinks as 1/sqrt(n) at every n,
as the power statement and `n_to_settle` assume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from semisynth.collapse.monitor.irregularity.verdicts import PSEUDO_COUNT


def cluster_index(groups: np.ndarray | None, n: int) -> tuple[np.ndarray, int]:
    """Each text's cluster (0..G-1) and G; no groups: each text its own cluster."""
    if groups is None:
        return np.arange(n), n
    _, inv = np.unique(np.asarray(groups), return_inverse=True)
    return inv, int(inv.max()) + 1 if n else 0


def cluster_sums(counts: np.ndarray, denoms: np.ndarray, groups: np.ndarray | None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(G, F) counts and denominators summed per cluster, and each cluster's size in texts (no groups: one per text)."""
    if groups is None:
        return counts, denoms, np.ones(len(counts))
    inv, g = cluster_index(groups, len(counts))
    from scipy.sparse import csr_matrix

    m = csr_matrix((np.ones(len(inv)), (inv, np.arange(len(inv)))), shape=(g, len(inv)))
    return m @ counts, m @ denoms, np.asarray(m.sum(1)).ravel()


def design_effect_bound(sizes: np.ndarray) -> float:
    """Sum m^2 / sum m over clusters: the design effect if the texts of a cluster were identical (an upper bound)."""
    return float((sizes ** 2).sum() / max(sizes.sum(), 1.0))


def linearised_variance(c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Var(C - rho D) over clusters (rows), the variance of a ratio estimator's numerator around its rate, per column:
    G/(G-1) sum_g (c_g - rho d_g)^2 with rho = C/D (0 where a column has no denominator)."""
    g = len(c)
    C, D = c.sum(0), d.sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.where(D > 0, C / np.where(D > 0, D, 1), 0.0)
    resid = c - rho * d
    return (resid ** 2).sum(0) * (g / (g - 1) if g > 1 else 1.0)


@dataclass(frozen=True)
class RateRatio:
    """Per feature (arrays of length F): the continuity-corrected log ratio synthetic/real and its pieces."""

    log_ratio: np.ndarray
    se: np.ndarray
    real_events: np.ndarray
    synthetic_events: np.ndarray
    var_real: np.ndarray  # the real side's part of se**2
    var_synthetic: np.ndarray  # the synthetic side's part of se**2 (after the floor)
    real_denominator: np.ndarray  # words, sentences or texts the rates are per
    synthetic_denominator: np.ndarray
    dispersion: np.ndarray  # real side: Var(C - rho D) / C (1 for Poisson counts, more when events bunch in texts)
    expected_synthetic_events: np.ndarray  # at the null rate (lower x real rate), before dispersion
    effective_expected_events: np.ndarray  # expected / (dispersion x synthetic design effect)
    design_effect: float  # the synthetic side's cluster bound used for the floor


def rate_ratio(real: tuple[np.ndarray, np.ndarray], synthetic: tuple[np.ndarray, np.ndarray], *,
               lower: float = 0.8, real_groups: np.ndarray | None = None,
               synthetic_groups: np.ndarray | None = None) -> RateRatio:
    """log((S + 0.5)/S_den) - log((R + 0.5)/R_den) per column with its SE (see the module docstring)."""
    rc, rd, _ = cluster_sums(*real, real_groups)
    sc, sd, s_sizes = cluster_sums(*synthetic, synthetic_groups)
    R, RD, S, SD = rc.sum(0), rd.sum(0), sc.sum(0), sd.sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log(S + PSEUDO_COUNT) - np.log(SD) - np.log(R + PSEUDO_COUNT) + np.log(RD)
        log_ratio = np.where((SD > 0) & (RD > 0), log_ratio, np.nan)
        var_r = linearised_variance(rc, rd) / (R + PSEUDO_COUNT) ** 2
        var_s = linearised_variance(sc, sd) / (S + PSEUDO_COUNT) ** 2
        dispersion = np.where(R > 0, linearised_variance(rc, rd) / np.where(R > 0, R, 1), np.nan)
        dispersion = np.maximum(dispersion, 1.0)  # never claim less spread than Poisson counts have
        deff = design_effect_bound(s_sizes)
        expected = lower * np.where(RD > 0, R / np.where(RD > 0, RD, 1), 0.0) * SD
        floor = np.where(expected > 0, dispersion * deff / np.where(expected > 0, expected, 1), np.inf)
        var_syn = np.maximum(var_s, floor)
        se = np.sqrt(var_r + var_syn)
        effective = expected / (dispersion * deff)
    return RateRatio(log_ratio, se, R, S, var_r, var_syn, RD, SD, dispersion, expected, effective, deff)


# --- power on the count scale --------------------------------------------------------------------------------
# The Wald statement "lower x exp(-(z_a + z_b) SE)" assumes the log ratio is normal with a fixed SE. With a few
# dozen synthetic events it is not: a side that happened to show fewer events also gets a larger SE (it is 1/S),
# so a smoothed feature is flagged less often than that formula says (bench/null_calibration.py: 0.22 observed
# against 0.37 promised at n_synthetic 100). Here the rejection rule itself is integrated over the synthetic count
# S ~ Normal(mu, phi mu) (phi: the real texts' dispersion x the synthetic design effect, as the SE floor assumes)
# and the real side's log rate ~ Normal(observed, var_real): the promised power is the test's, at every n.

def power_model(rr: RateRatio, j: int) -> dict[str, float]:
    """What `detection_power` needs about feature j, as plain numbers (stored in the report for re-use)."""
    R, RD = float(rr.real_events[j]), float(rr.real_denominator[j])
    return {"log_real_rate": float(np.log((R + PSEUDO_COUNT) / RD)), "var_real": float(rr.var_real[j]),
            "real_rate": R / RD, "synthetic_denominator": float(rr.synthetic_denominator[j]),
            "phi": float(rr.dispersion[j] * rr.design_effect), "expected_null": float(rr.expected_synthetic_events[j])}


def detection_power(model: dict[str, float], ratio: float, z: float, *, lower: float = 0.8, upper: float = 1.25,
                    side: str = "smoothed", grid: int = 801) -> float:
    """P(the feature is called `side` at critical value z) when the true synthetic/real ratio is `ratio`."""
    from scipy.stats import norm

    mu = ratio * model["real_rate"] * model["synthetic_denominator"]
    if mu <= 0:
        return 0.0
    sd = np.sqrt(model["phi"] * mu)
    s = np.linspace(max(0.0, mu - 8 * sd), mu + 8 * sd, grid)
    w = norm.pdf(s, mu, sd)
    w /= w.sum()
    a = np.log(s + PSEUDO_COUNT) - np.log(model["synthetic_denominator"])  # synthetic log rate at each S
    var_s = np.maximum(model["phi"] * s / (s + PSEUDO_COUNT) ** 2,
                       model["phi"] / model["expected_null"] if model["expected_null"] > 0 else np.inf)
    se = np.sqrt(model["var_real"] + var_s)
    b_sd = max(np.sqrt(model["var_real"]), 1e-12)
    if side == "smoothed":   # L = a - b < log(lower) - z se  <=>  b > a - log(lower) + z se
        p = norm.sf((a - np.log(lower) + z * se - model["log_real_rate"]) / b_sd)
    else:                    # L > log(upper) + z se  <=>  b < a - log(upper) - z se
        p = norm.cdf((a - np.log(upper) - z * se - model["log_real_rate"]) / b_sd)
    return float((w * p).sum())


def detectable_ratio(model: dict[str, float], z: float, power: float, *, lower: float = 0.8, upper: float = 1.25,
                     side: str = "smoothed") -> float | None:
    """The ratio nearest the band that is called `side` with probability >= power (None: none within 1e-3..1e3)."""
    inside, outside = (np.log(lower), np.log(1e-3)) if side == "smoothed" else (np.log(upper), np.log(1e3))
    if detection_power(model, float(np.exp(outside)), z, lower=lower, upper=upper, side=side) < power:
        return None
    for _ in range(40):  # bisection on the log ratio: power rises monotonically away from the band
        mid = (inside + outside) / 2
        if detection_power(model, float(np.exp(mid)), z, lower=lower, upper=upper, side=side) >= power:
            outside = mid
        else:
            inside = mid
    return float(np.exp(outside))


def count_scale_power(rr: RateRatio, j: int, settings: dict, power: float) -> dict:
    """The detectable ratios of feature j at the strictest (Bonferroni) level of its family (`ratio_verdicts`'
    settings), replacing the normal formula's, with the numbers they came from."""
    z = settings["z_difference_bonferroni"]
    lower, upper = settings["band"]
    model = power_model(rr, j)
    return {"detectable_smoothed_ratio": detectable_ratio(model, z, power, lower=lower, upper=upper),
            "detectable_exaggerated_ratio": detectable_ratio(model, z, power, lower=lower, upper=upper,
                                                             side="exaggerated"),
            "power_model": {**model, "z": z, "power": power}}
