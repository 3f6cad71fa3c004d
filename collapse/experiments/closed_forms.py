"""Closed forms for the toy models the collapse papers analyse, and vectorised simulators to check them.

Why here: the experiment runner's toy families must reproduce these numbers, so the formulas are the
test oracle for the whole loop (sampling, refitting, mixing, accumulating).

Setting (categorical, Seddik et al. 2024, arXiv 2404.05090): generation 0 is the true distribution p0 over
K categories. Generation t+1 is the maximum-likelihood fit (empirical frequencies) on n training samples:
  replace     n samples from generation t;
  mix f       k = round(f n) fresh samples from p0 plus n - k samples from generation t;
  accumulate  all samples of generations 1..t+1 (each n drawn from the then-current model).
D_m = E ||p_m - p0||^2 and S = 1 - sum p0^2 (the variance of one multinomial draw, summed over categories).

Derivation (mix, which contains replace as f = 0). With R ~ Mult(k, p0), Q ~ Mult(n-k, p_t) independent,
p_{t+1} - p0 = (R - k p0)/n + (Q - (n-k) p_t)/n + (1-f)(p_t - p0). The three terms are uncorrelated, and
E ||Q - (n-k) p_t||^2 = (n-k) (1 - sum p_t^2) with E sum p_t^2 = sum p0^2 + D_t (E p_t = p0), so
  D_{t+1} = S/n + a D_t,   a = (1-f)(1-f-1/n),   D_0 = 0
  D_m = (S/n) (1 - a^m) / (1 - a)    -> plateau S / (n (1 - a)) for f > 0.
f = 0 gives a = 1 - 1/n and D_m = S (1 - (1 - 1/n)^m): the distance grows to S, i.e. collapse to one category.
Accumulate: p_{t+1} = (t p_t + Q_t/n) / (t+1) with Q_t ~ Mult(n, p_t), so
  D_{t+1} = D_t + (S - D_t) / ((t+1)^2 n)  <= S pi^2 / (6 n): bounded (Gerstgrasser et al. 2024).

Gaussian (MLE mean and biased variance on n samples, replace): E[s^2_{t+1} | s^2_t] = (n-1)/n s^2_t, so
E sigma^2_m = sigma0^2 ((n-1)/n)^m, and the mean drifts with E (mu_m - mu0)^2 = sigma0^2 (1 - ((n-1)/n)^m).
"""

from __future__ import annotations

import math

import numpy as np

from semisynth.errors import UserError

MODES = ("replace", "accumulate", "mix")


def _check(n: int, m: int, f: float = 0.0) -> None:
    if n < 1:
        raise UserError("closed form", f"sample size n={n} must be >= 1", "use n >= 1")
    if m < 0:
        raise UserError("closed form", f"generations m={m} must be >= 0", "use m >= 0")
    if not 0.0 <= f <= 1.0:
        raise UserError("closed form", f"real_fraction={f} is outside [0, 1]", "use a fraction between 0 and 1")


def zipf_distribution(k: int, exponent: float = 1.1) -> np.ndarray:
    """A long-tailed p0: the tail is what collapse removes first, so the toy needs one."""
    w = 1.0 / np.arange(1, k + 1, dtype=float) ** exponent
    return w / w.sum()


def categorical_spread(p0: np.ndarray) -> float:
    """S = 1 - sum p0^2: the ceiling of E||p_m - p0||^2 under replace."""
    return float(1.0 - np.sum(np.asarray(p0, dtype=float) ** 2))


def categorical_replace_sq_distance(p0: np.ndarray, n: int, m: int) -> float:
    """E ||p_m - p0||^2 after m replace generations of n samples: S (1 - (1 - 1/n)^m)."""
    _check(n, m)
    return categorical_spread(p0) * (1.0 - (1.0 - 1.0 / n) ** m)


def categorical_mix_sq_distance(p0: np.ndarray, n: int, m: int, real_fraction: float) -> float:
    """E ||p_m - p0||^2 with k = round(f n) fresh real samples per generation (see module docstring)."""
    _check(n, m, real_fraction)
    f = round(real_fraction * n) / n  # what the simulation can realise
    a = (1.0 - f) * (1.0 - f - 1.0 / n)
    s = categorical_spread(p0)
    if abs(1.0 - a) < 1e-15:
        return s * m / n
    return s / n * (1.0 - a**m) / (1.0 - a)


def categorical_mix_plateau(p0: np.ndarray, n: int, real_fraction: float) -> float:
    """lim_m E ||p_m - p0||^2 for f > 0: S / (n (1 - a)); for f = 0 the limit is S (full collapse)."""
    _check(n, 0, real_fraction)
    f = round(real_fraction * n) / n
    if f == 0:
        return categorical_spread(p0)
    a = (1.0 - f) * (1.0 - f - 1.0 / n)
    return categorical_spread(p0) / (n * (1.0 - a))


def categorical_accumulate_sq_distance(p0: np.ndarray, n: int, m: int) -> float:
    """E ||p_m - p0||^2 when every generation keeps all earlier samples (exact recursion)."""
    _check(n, m)
    s, d = categorical_spread(p0), 0.0
    for t in range(m):
        d = d + (s - d) / ((t + 1) ** 2 * n)
    return d


def categorical_accumulate_bound(p0: np.ndarray, n: int) -> float:
    """S pi^2 / (6 n): accumulate never exceeds this, however many generations."""
    return categorical_spread(p0) * math.pi**2 / (6 * n)


def expected_sq_distance(mode: str, p0: np.ndarray, n: int, m: int, real_fraction: float = 0.0) -> float:
    if mode == "replace":
        return categorical_replace_sq_distance(p0, n, m)
    if mode == "mix":
        return categorical_mix_sq_distance(p0, n, m, real_fraction)
    if mode == "accumulate":
        return categorical_accumulate_sq_distance(p0, n, m)
    raise UserError("mode", f"unknown mode '{mode}'", f"use one of {', '.join(MODES)}")


def simulate_categorical(p0: np.ndarray, n: int, generations: int, mode: str, replicas: int,
                         rng: np.random.Generator, real_fraction: float = 0.0) -> np.ndarray:
    """||p_t - p0||^2 for t = 0..generations over `replicas` independent chains, shape (generations+1, replicas).

    Vectorised over replicas (one multinomial call per generation) so thousands of chains take milliseconds.
    """
    _check(n, generations, real_fraction)
    if mode not in MODES:
        raise UserError("mode", f"unknown mode '{mode}'", f"use one of {', '.join(MODES)}")
    p0 = np.asarray(p0, dtype=float)
    k_real = round(real_fraction * n) if mode == "mix" else 0
    p = np.tile(p0, (replicas, 1))
    total = np.zeros_like(p)  # accumulated counts (accumulate mode)
    out = np.zeros((generations + 1, replicas))
    for t in range(1, generations + 1):
        synth = _multinomial_rows(rng, n - k_real, p)
        if mode == "accumulate":
            total += synth
            p = total / (t * n)
        else:
            counts = synth + (rng.multinomial(k_real, p0, size=replicas) if k_real else 0)
            p = counts / n
        out[t] = np.sum((p - p0) ** 2, axis=1)
    return out


def _multinomial_rows(rng: np.random.Generator, n: int, p: np.ndarray) -> np.ndarray:
    """One Mult(n, p_i) draw per row (numpy broadcasts pvals rows since 1.22)."""
    if n == 0:
        return np.zeros_like(p)
    p = np.clip(p, 0.0, None)
    p = p / p.sum(axis=1, keepdims=True)
    return rng.multinomial(n, p).astype(float)


def gaussian_replace_variance(sigma0_sq: float, n: int, m: int) -> float:
    """E sigma^2_m = sigma0^2 ((n-1)/n)^m under MLE replace."""
    _check(n, m)
    return sigma0_sq * ((n - 1) / n) ** m


def gaussian_replace_mean_drift(sigma0_sq: float, n: int, m: int) -> float:
    """E (mu_m - mu0)^2 = sigma0^2 (1 - ((n-1)/n)^m): the mean random-walks while the variance shrinks."""
    _check(n, m)
    return sigma0_sq * (1.0 - ((n - 1) / n) ** m)


def simulate_gaussian(mu0: float, sigma0: float, n: int, generations: int, replicas: int,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(means, variances) of MLE replace chains, each shape (generations+1, replicas)."""
    _check(n, generations)
    mu = np.full(replicas, float(mu0))
    var = np.full(replicas, float(sigma0) ** 2)
    mus, vars_ = [mu.copy()], [var.copy()]
    for _ in range(generations):
        x = rng.standard_normal((replicas, n)) * np.sqrt(var)[:, None] + mu[:, None]
        mu, var = x.mean(axis=1), x.var(axis=1)
        mus.append(mu.copy())
        vars_.append(var.copy())
    return np.array(mus), np.array(vars_)
