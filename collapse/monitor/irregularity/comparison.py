"""corpus_profile: real vs synthetic per feature (rates, ratio with its count-aware interval, four-way verdict),
the kind features, the smoothing and exaggeration indices with their intervals and same-n nulls, and the power
statement."""


import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from semisynth.collapse.monitor.irregularity.features import (
    FEATURE_SPECS,
    length_tail_bounds,
    length_words,
    profile_counts,
    rates,
)
from semisynth.collapse.monitor.irregularity.kinds import KIND_FEATURES, KIND_HELP, kind_counts, kind_test
from semisynth.collapse.monitor.irregularity.rate_ratio import (
    cluster_index,
    cluster_sums,
    count_scale_power,
    design_effect_bound,
    linearised_variance,
    rate_ratio,
)
from semisynth.collapse.monitor.irregularity.verdicts import VERDICTS, log_ratio, ratio_verdicts


def _bootstrap_sums(counts: np.ndarray, denoms: np.ndarray, n_boot: int, rng: np.random.Generator,
                    groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap replicates of column sums as (B, F) arrays: clusters (all variants of one seed) resampled with
    replacement, every text of a drawn cluster kept. All texts, no subsample: the spread is the one at this n."""
    inv, g = cluster_index(groups, len(counts))
    out_c, out_d = np.empty((n_boot, counts.shape[1])), np.empty((n_boot, counts.shape[1]))
    chunk = max(1, min(n_boot, 2_000_000 // max(len(counts), 1)))  # memory O(chunk * n)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        w = np.stack([np.bincount(rng.integers(0, g, size=g), minlength=g)[inv] for _ in range(start, stop)])
        out_c[start:stop], out_d[start:stop] = w @ counts, w @ denoms
    return out_c, out_d


def _resample_sums(counts: np.ndarray, denoms: np.ndarray, size: int, n_boot: int, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Column sums of `size` texts drawn with replacement, n_boot times: (B, F) arrays (for the null)."""
    n = len(counts)
    out_c, out_d = np.empty((n_boot, counts.shape[1])), np.empty((n_boot, counts.shape[1]))
    chunk = max(1, min(n_boot, 2_000_000 // max(n, 1)))
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        w = np.stack([np.bincount(rng.integers(0, n, size=size), minlength=n) for _ in range(start, stop)])
        out_c[start:stop], out_d[start:stop] = w @ counts, w @ denoms
    return out_c, out_d


def _smoothing(ratios: np.ndarray, cols: list[int]) -> np.ndarray:
    """Smoothing index of (..., F) ratios: mean over `cols` of clip(1 - ratio, 0, 1), NaN ratios skipped."""
    return _mean_over(np.clip(1.0 - ratios[..., cols], 0.0, 1.0))


def _exaggeration(ratios: np.ndarray, cols: list[int]) -> np.ndarray:
    """Exaggeration index: mean over `cols` of clip(ratio - 1, 0, 1) (a doubled rate counts 1, like a removed one)."""
    return _mean_over(np.clip(ratios[..., cols] - 1.0, 0.0, 1.0))


def _mean_over(d: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a replicate with no judged ratio gives NaN
        return np.nanmean(d, axis=-1)


def corpus_profile(real_texts: Sequence[str], synthetic_texts: Sequence[str], *, n_boot: int = 300,
                   ci: float = 0.95, seed: int = 0, smoothed_below: float = 0.8, exaggerated_above: float = 1.25,
                   min_events: int = 5, min_expected: float = 10.0, vocab_lang: str = "en",
                   alpha: float = 0.05, power: float = 0.8, n_perm: int = 2000, kinds: bool = True,
                   index_alpha: float | None = None,
                   real_counts: tuple[np.ndarray, np.ndarray] | None = None,
                   synthetic_counts: tuple[np.ndarray, np.ndarray] | None = None,
                   real_kinds: dict[str, np.ndarray] | None = None,
                   synthetic_kinds: dict[str, np.ndarray] | None = None,
                   synthetic_groups: Sequence[str] | np.ndarray | None = None) -> dict[str, Any]:
    """Compare irregularity rates (and kinds) of two corpora.

    For each rate feature: real rate, synthetic rate (ratio of sums over texts), the continuity-corrected ratio
    synthetic/real, its interval (normal on the log ratio with the count-aware SE of `rate_ratio`) and a verdict
    from `ratio_verdicts`: smoothed / exaggerated / preserved / inconclusive, Holm-corrected across the features
    (and the kind features) at family-wise `alpha`, with the band [smoothed_below, exaggerated_above]. A feature is
    judged only where the real side has `min_events` events and the synthetic side either an effective expected count
    of at least `min_expected` at the null or that many events (per cluster); else "not_enough_data" with the
    synthetic n that would judge it.
    `synthetic_groups`: one label per synthetic text (its seed); the variants of one seed are one cluster in every
    variance, bootstrap and null (None: each text its own).
    Kind features (`KIND_FEATURES`): JS divergence with a permutation p-value; "different" when Holm
    rejects, else "inconclusive" (a test of difference cannot show sameness).
    Two indices, each over the judged irregularity features: smoothing = mean clip(1 - ratio, 0, 1), exaggeration
    = mean clip(ratio - 1, 0, 1), each with a cluster-bootstrap interval and a real-vs-real null at the same sizes
    (the synthetic side at its effective n): "smoothed"/"exaggerated" when the index exceeds its null (p <= half of
    `index_alpha`, default `alpha`), "preserved" when both indices' bootstrap upper bounds at that level lie under
    their nulls' 95th percentiles (what real vs real reaches), else "inconclusive".
    """
    index_alpha = alpha if index_alpha is None else index_alpha
    rng = np.random.default_rng(seed)
    if real_counts is None:
        real_counts = profile_counts(real_texts, vocab_lang)
    bounds = length_tail_bounds(length_words(real_counts[0]))
    if synthetic_counts is None:
        synthetic_counts = profile_counts(synthetic_texts, vocab_lang, length_bounds=bounds)
    if kinds and real_kinds is None and (len(real_texts) or synthetic_kinds is not None):
        real_kinds = kind_counts(real_texts, vocab_lang) if len(real_texts) else None
    if kinds and synthetic_kinds is None and len(synthetic_texts):
        synthetic_kinds = kind_counts(synthetic_texts, vocab_lang)
    rc, rd = real_counts
    sc, sd = synthetic_counts
    if len(rc) == 0 or len(sc) == 0:
        return {"status": "not_enough_data", "min_n": 1, "n": int(min(len(rc), len(sc)))}
    groups = None if synthetic_groups is None else np.asarray(synthetic_groups)
    if groups is not None and len(groups) != len(sc):
        raise ValueError(f"synthetic_groups has {len(groups)} labels for {len(sc)} synthetic texts")
    r_rate = rates(rc.sum(0), rd.sum(0))
    s_rate = rates(sc.sum(0), sd.sum(0))
    rr = rate_ratio((rc, rd), (sc, sd), lower=smoothed_below, synthetic_groups=groups)
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + ci / 2))
    features: dict[str, Any] = {}
    judged: list[int] = []
    for j, spec in enumerate(FEATURE_SPECS):
        entry: dict[str, Any] = {"real_rate": float(r_rate[j]), "synthetic_rate": float(s_rate[j]),
                                 "unit": spec.unit, "help": spec.help, "real_events": float(rr.real_events[j]),
                                 "synthetic_events": float(rr.synthetic_events[j]),
                                 "expected_synthetic_events": float(rr.expected_synthetic_events[j]),
                                 "dispersion": float(rr.dispersion[j]) if np.isfinite(rr.dispersion[j]) else None}
        eff = float(rr.effective_expected_events[j])
        if rr.real_events[j] < min_events or not np.isfinite(r_rate[j]) or r_rate[j] == 0:
            entry.update(status="not_enough_data", min_n=min_events, n=int(rr.real_events[j]), verdict=None,
                         ratio=None, ci=None, why=f"{int(rr.real_events[j])} real events (< {min_events})")
        elif not np.isfinite(rr.log_ratio[j]) or max(eff, rr.synthetic_events[j] / rr.design_effect) < min_expected:
            need = math.ceil(len(sc) * min_expected / eff) if eff > 0 else None
            entry.update(status="not_enough_data", min_n=min_expected, n=round(eff, 2), verdict=None, ratio=None,
                         ci=None, why=(f"{eff:.1f} effective synthetic events expected at the null "
                                       f"(< {min_expected:g}): too few texts to see this feature either way"),
                         n_to_judge={"n_synthetic": need})
        else:
            L, se = float(rr.log_ratio[j]), float(rr.se[j])
            entry.update(status="ok", ratio=math.exp(L), raw_ratio=float(s_rate[j] / r_rate[j]),
                         ci=[math.exp(L - z * se), math.exp(L + z * se)], se_log_ratio=se,
                         ratio_method="(S + 0.5) / S_words over (R + 0.5) / R_words; interval normal on its log")
            judged.append(j)
        features[spec.name] = entry

    kind_entries: dict[str, Any] = {}
    if real_kinds is not None and synthetic_kinds is not None:
        for name in KIND_FEATURES:
            kind_entries[name] = {"categories": list(KIND_FEATURES[name]), "help": KIND_HELP[name],
                                  **kind_test(real_kinds[name], synthetic_kinds[name], n_perm, rng,
                                              max(min_events, 20), synthetic_groups=groups)}
    tested_kinds = [k for k, v in kind_entries.items() if v["status"] == "ok"]
    judged_names = [FEATURE_SPECS[j].name for j in judged]
    n_eff_syn = len(sc) / rr.design_effect
    v = ratio_verdicts([rr.log_ratio[j] for j in judged], [rr.se[j] for j in judged],
                       lower=smoothed_below, upper=exaggerated_above, alpha=alpha, power=power,
                       n_real=len(rc), n_synthetic=len(sc),
                       extra_difference_p=[kind_entries[k]["p_value"] for k in tested_kinds])
    for name, j, res in zip(judged_names, judged, v["features"], strict=True):
        features[name].update(res, **count_scale_power(rr, j, v["settings"], power))
    for name, res in zip(tested_kinds, v["extra"], strict=True):
        kind_entries[name].update(p_holm=res["p_holm"], verdict="different" if res["rejected"] else "inconclusive")

    irr_cols = [j for j in judged if FEATURE_SPECS[j].irregularity]
    indices = _index_tests(rc, rd, sc, sd, groups, irr_cols, features, n_boot, ci, index_alpha, rng)
    verdicts = [f["verdict"] for f in features.values() if f.get("verdict")]
    power_rows = {n: {"smoothed_at_or_below": features[n]["detectable_smoothed_ratio"],
                      "exaggerated_at_or_above": features[n]["detectable_exaggerated_ratio"]} for n in judged_names}
    return {
        "n_real": len(rc), "n_synthetic": len(sc), "ci_level": ci, "n_boot": n_boot,
        "synthetic_clusters": int(len(np.unique(groups))) if groups is not None else len(sc),
        "synthetic_design_effect_bound": rr.design_effect,
        "thresholds": {"smoothed_below": smoothed_below, "exaggerated_above": exaggerated_above,
                       "min_events": min_events, "min_expected": min_expected, "alpha": alpha},
        "verdict_rule": ("Holm-corrected across features (family-wise error <= alpha): smoothed/exaggerated when "
                         "the interval at the feature's Holm level lies beyond the band, preserved when it lies "
                         "inside it (TOST), else inconclusive; SE from the counts (linearised, by cluster), never "
                         "below what the real texts' dispersion implies at the null"),
        "length_tail_bounds_words": list(bounds),
        **indices,
        "n_judged": len(irr_cols),
        "counts": {k: verdicts.count(k) for k in VERDICTS},
        "features": features,
        "kinds": kind_entries,
        "power": {"alpha": alpha, "power": power, "correction": "Bonferroni (Holm's first, strictest step)",
                  "n_real": len(rc), "n_synthetic": len(sc), "effective_n_synthetic": n_eff_syn,
                  "meaning": ("a true ratio at or beyond these is flagged with at least this power at this n: the "
                              "test's own rule integrated over the synthetic event count (not a normal log ratio, "
                              "which over-promises with few events); null where no ratio is"),
                  "features": power_rows},
    }


def _index_tests(rc: np.ndarray, rd: np.ndarray, sc: np.ndarray, sd: np.ndarray, groups: np.ndarray | None,
                 irr_cols: list[int], features: dict[str, Any], n_boot: int, ci: float, index_alpha: float,
                 rng: np.random.Generator) -> dict[str, Any]:
    """The smoothing and exaggeration indices, each against its real-vs-real null at level index_alpha / 2."""
    empty = {"status": "not_enough_data", "verdict": None}
    out: dict[str, Any] = {"smoothing_index": None, "smoothing_index_test": dict(empty),
                           "exaggeration_index": None, "exaggeration_index_test": dict(empty),
                           "index_verdict": None}
    if not irr_cols:
        return out
    ratios_now = np.array([features[s.name]["ratio"] if features[s.name].get("status") == "ok" else np.nan
                           for s in FEATURE_SPECS])
    rb_c, rb_d = _bootstrap_sums(rc, rd, n_boot, rng)
    sb_c, sb_d = _bootstrap_sums(sc, sd, n_boot, rng, groups)
    boot_ratio = np.exp(log_ratio(sb_c, sb_d, rb_c, rb_d))
    # The synthetic side's effective n: clustered variants carry less evidence than independent texts.
    deff = _design_effect(sc, sd, groups, irr_cols)
    n_eff = max(2, round(len(sc) / deff))
    # the null's upper tail sets a small level: enough draws for >= 10 beyond it, up to 10,000 (a smaller level, as
    # in a breakdown slice, reads its p from a normal approximation of the null; see below)
    need = math.ceil(10 / (index_alpha / 2))
    n_null = int(max(n_boot, 1000, need if need <= 10_000 else 0))
    n0_c, n0_d = _resample_sums(rc, rd, len(rc), n_null, rng)
    n1_c, n1_d = _resample_sums(rc, rd, n_eff, n_null, rng)
    null_ratio = np.exp(log_ratio(n1_c, n1_d, n0_c, n0_d))
    from scipy.stats import norm

    a2 = (1 - ci) / 2
    level = index_alpha / 2
    tests = {}
    for name, fn in (("smoothing", _smoothing), ("exaggeration", _exaggeration)):
        value = float(fn(ratios_now, irr_cols))
        boot, null = fn(boot_ratio, irr_cols), fn(null_ratio, irr_cols)
        boot, null = boot[np.isfinite(boot)], null[np.isfinite(null)]
        ci_idx = [float(np.quantile(boot, a2)), float(np.quantile(boot, 1 - a2))]
        # "preserved": even the index's upper bound at this test's level stays within what real vs real reaches
        # 95 % of the time (a stricter level widens the bound, so it never makes "preserved" easier)
        margin = float(np.quantile(null, 0.95))
        z = float(norm.ppf(1 - level))
        upper = value + z * float(np.std(boot, ddof=1))  # normal bootstrap bound: the level can be far in the tail
        if level * len(null) >= 5:  # enough null draws beyond the level to read p off them
            p, p_method = float((1 + np.sum(null >= value)) / (1 + len(null))), "share of null draws >= the index"
        else:  # a slice's small level: the null's tail from its mean and SD (normal approximation)
            p = float(norm.sf((value - float(np.mean(null))) / max(float(np.std(null, ddof=1)), 1e-12)))
            p_method = "normal approximation of the null (level below 5 / draws)"
        flagged = "smoothed" if name == "smoothing" else "exaggerated"
        verdict = flagged if p <= level else "preserved" if upper <= margin else "inconclusive"
        tests[name] = {"status": "ok", "value": value, "ci": ci_idx, "ci_level": ci, "ci_method": (
                           "percentile bootstrap, synthetic clusters (variants of one seed) resampled together"),
                       "verdict": verdict, "p_value": p, "p_method": p_method, "alpha": level,
                       "baseline": {"median": float(np.median(null)),
                                    "interval": [float(np.quantile(null, a2)), float(np.quantile(null, 1 - a2))],
                                    "upper": margin, "upper_quantile": 0.95,
                                    "index_upper_at_level": upper,
                                    "method": (f"real vs real at the same sizes ({len(rc)} vs {n_eff} texts drawn "
                                               f"with replacement from the real corpus; {n_eff} is the synthetic "
                                               f"side's effective n, design effect {deff:.2f}), {len(null)} draws")}}
        out[f"{name}_index"] = value
        out[f"{name}_index_test"] = tests[name]
    s, e = tests["smoothing"]["verdict"], tests["exaggeration"]["verdict"]
    out["index_verdict"] = (s if s == "smoothed" else e if e == "exaggerated" else
                            "preserved" if s == e == "preserved" else "inconclusive")
    out["index_design_effect"] = deff
    return out


def _design_effect(sc: np.ndarray, sd: np.ndarray, groups: np.ndarray | None, cols: list[int]) -> float:
    """Variance of the synthetic rates with clusters over the variance as if every text were independent (mean over
    the judged columns), between 1 and the identical-variants bound; 1 without groups."""
    if groups is None:
        return 1.0
    c, d, sizes = cluster_sums(sc, sd, groups)
    bound = design_effect_bound(sizes)
    v_iid = linearised_variance(sc[:, cols], sd[:, cols])
    v_cl = linearised_variance(c[:, cols], d[:, cols])
    ok = v_iid > 0
    if not ok.any():
        return bound
    return float(np.clip(np.mean(v_cl[ok] / v_iid[ok]), 1.0, bound))
