"""The toy models' simulated curves agree with the closed forms the collapse papers derive."""

from __future__ import annotations

import numpy as np
import pytest

from semisynth.collapse.experiments import closed_forms as cf
from semisynth.errors import UserError

P0 = cf.zipf_distribution(20)
N = 50
REPLICAS = 20_000


def _within(sim: np.ndarray, expected: float, k: float = 4.0) -> bool:
    se = sim.std(ddof=1) / np.sqrt(len(sim))
    return abs(sim.mean() - expected) <= k * se + 1e-12


@pytest.mark.parametrize("m", [1, 3, 10, 30])
def test_categorical_replace_matches_seddik_closed_form(m):
    sim = cf.simulate_categorical(P0, N, m, "replace", REPLICAS, np.random.default_rng(m))
    assert _within(sim[m], cf.categorical_replace_sq_distance(P0, N, m))


@pytest.mark.parametrize("f", [0.1, 0.3, 0.5])
def test_categorical_mix_matches_derived_closed_form_and_plateaus(f):
    m = 40
    sim = cf.simulate_categorical(P0, N, m, "mix", REPLICAS, np.random.default_rng(int(f * 100)), real_fraction=f)
    for t in (1, 5, m):
        assert _within(sim[t], cf.categorical_mix_sq_distance(P0, N, t, f))
    plateau = cf.categorical_mix_plateau(P0, N, f)
    assert cf.categorical_mix_sq_distance(P0, N, 500, f) == pytest.approx(plateau, rel=1e-6)
    assert _within(sim[m], plateau, k=5)  # reached within 40 generations


def test_mix_plateau_falls_as_real_fraction_rises():
    plateaus = [cf.categorical_mix_plateau(P0, N, f) for f in (0.0, 0.02, 0.1, 0.3, 0.6, 1.0)]
    assert all(a > b for a, b in zip(plateaus, plateaus[1:], strict=False))
    assert plateaus[0] == pytest.approx(cf.categorical_spread(P0))  # no real data: full collapse
    assert plateaus[-1] == pytest.approx(cf.categorical_spread(P0) / N)  # all fresh real: one sampling error


def test_categorical_accumulate_matches_recursion_and_stays_bounded():
    m = 60
    sim = cf.simulate_categorical(P0, N, m, "accumulate", REPLICAS, np.random.default_rng(7))
    for t in (1, 4, m):
        assert _within(sim[t], cf.categorical_accumulate_sq_distance(P0, N, t))
    bound = cf.categorical_accumulate_bound(P0, N)
    assert sim.mean(axis=1).max() <= bound
    assert cf.categorical_accumulate_sq_distance(P0, N, 10_000) <= bound


def test_orderings_replace_above_mix_above_accumulate_in_every_seed():
    for seed in range(5):
        rng = np.random.default_rng(100 + seed)
        last = {mode: cf.simulate_categorical(P0, N, 20, mode, 2000, rng, real_fraction=0.1)[20].mean()
                for mode in ("replace", "mix", "accumulate")}
        assert last["replace"] > last["mix"] > last["accumulate"]


def test_gaussian_variance_shrinks_as_n_minus_1_over_n_to_the_m():
    n, m = 10, 8
    mus, variances = cf.simulate_gaussian(0.0, 1.0, n, m, 50_000, np.random.default_rng(3))
    for t in (1, 4, m):
        assert _within(variances[t], cf.gaussian_replace_variance(1.0, n, t))
        assert _within(mus[t] ** 2, cf.gaussian_replace_mean_drift(1.0, n, t))
    assert variances.mean(axis=1)[-1] < variances.mean(axis=1)[1] < 1.0


@pytest.mark.parametrize("kwargs", [dict(real_fraction=1.5), dict(real_fraction=-0.1), dict(mode="bogus")])
def test_bad_inputs_are_user_errors(kwargs):
    args = dict(mode="mix", real_fraction=0.1) | kwargs
    with pytest.raises(UserError):
        cf.simulate_categorical(P0, N, 3, args["mode"], 10, np.random.default_rng(0), args["real_fraction"])
