"""corpus_profile: real vs synthetic per feature (rates, ratio with its bootstrap interval, four-way verdict),
the kind features, the smoothing index with its interval and same-n null, and the power statement."""


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
from semisynth.collapse.monitor.irregularity.verdicts import VERDICTS, log_ratio, ratio_verdicts


def _bootstrap_sums(counts: np.ndarray, denoms: np.ndarray, n_boot: int, rng: np.random.Generator,
                    max_n: int) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap replicates of column sums (texts resampled with replacement) as (B, F) arrays.

    Above `max_n` texts a seeded subsample is resampled and rescaled: the CI is then slightly
    conservative, and memory stays O(B * F) per replicate instead of O(B * n).
    """
    n = len(counts)
    if n > max_n:
        idx = rng.choice(n, size=max_n, replace=False)
        counts, denoms, scale = counts[idx], denoms[idx], n / max_n
    else:
        scale = 1.0
    m = len(counts)
    weights = np.empty((n_boot, m))
    for b in range(n_boot):
        weights[b] = np.bincount(rng.integers(0, m, size=m), minlength=m)
    return weights @ counts * scale, weights @ denoms * scale


def _resample_sums(counts: np.ndarray, denoms: np.ndarray, size: int, n_boot: int, rng: np.random.Generator,
                   max_n: int) -> tuple[np.ndarray, np.ndarray]:
    """Column sums of `size` texts drawn with replacement, n_boot times: (B, F) arrays (for the null)."""
    n = len(counts)
    scale = 1.0
    if size > max_n:
        scale, size = size / max_n, max_n
    out_c, out_d = np.empty((n_boot, counts.shape[1])), np.empty((n_boot, counts.shape[1]))
    for start in range(0, n_boot, 250):  # memory O(250 n)
        stop = min(n_boot, start + 250)
        weights = np.stack([np.bincount(rng.integers(0, n, size=size), minlength=n) for _ in range(start, stop)])
        out_c[start:stop], out_d[start:stop] = weights @ counts * scale, weights @ denoms * scale
    return out_c, out_d


def _index(ratios: np.ndarray, cols: list[int]) -> np.ndarray:
    """Smoothing index of (..., F) ratios: mean over `cols` of clip(1 - ratio, 0, 1), NaN ratios skipped."""
    d = np.clip(1.0 - ratios[..., cols], 0.0, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a replicate with no judged ratio gives NaN
        return np.nanmean(d, axis=-1)


def corpus_profile(real_texts: Sequence[str], synthetic_texts: Sequence[str], *, n_boot: int = 300,
                   ci: float = 0.95, seed: int = 0, smoothed_below: float = 0.8, exaggerated_above: float = 1.25,
                   min_events: int = 5, vocab_lang: str = "en", bootstrap_max_n: int = 20_000,
                   alpha: float = 0.05, power: float = 0.8, n_perm: int = 2000, kinds: bool = True,
                   index_alpha: float | None = None,
                   real_counts: tuple[np.ndarray, np.ndarray] | None = None,
                   synthetic_counts: tuple[np.ndarray, np.ndarray] | None = None,
                   real_kinds: dict[str, np.ndarray] | None = None,
                   synthetic_kinds: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Compare irregularity rates (and kinds) of two corpora.

    For each rate feature: real rate, synthetic rate (ratio of sums over texts), ratio synthetic/real,
    its 95% interval (normal on the log ratio with the bootstrap SE) and a verdict from
    `ratio_verdicts`: smoothed / exaggerated / preserved / inconclusive, Holm-corrected across the
    features (and the kind features) at family-wise `alpha`, with the band [smoothed_below,
    exaggerated_above]. Features with fewer than `min_events` real occurrences are "not_enough_data".
    Kind features (`KIND_FEATURES`): JS divergence with a permutation p-value; "different" when Holm
    rejects, else "inconclusive" (a test of difference cannot show sameness).
    smoothing_index = mean over judged irregularity features of clip(1 - ratio, 0, 1), with a bootstrap
    interval and a real-vs-real null at the same sizes (both sides drawn from the real texts): "smoothed"
    when the index exceeds the null (p <= alpha), "preserved" when its whole interval lies under the
    null's (1 - alpha) quantile, else "inconclusive" (`index_alpha`, default `alpha`, is that test's level).
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
    r_rate = rates(rc.sum(0), rd.sum(0))
    s_rate = rates(sc.sum(0), sd.sum(0))
    rb_c, rb_d = _bootstrap_sums(rc, rd, n_boot, rng, bootstrap_max_n)
    sb_c, sb_d = _bootstrap_sums(sc, sd, n_boot, rng, bootstrap_max_n)
    with np.errstate(divide="ignore", invalid="ignore"):
        boot_ratio = rates(sb_c, sb_d) / rates(rb_c, rb_d)
    boot_log = log_ratio(sb_c, sb_d, rb_c, rb_d)
    point_log = log_ratio(sc.sum(0), sd.sum(0), rc.sum(0), rd.sum(0))
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + ci / 2))
    features: dict[str, Any] = {}
    judged: list[int] = []
    for j, spec in enumerate(FEATURE_SPECS):
        real_events = float(rc[:, j].sum())
        entry: dict[str, Any] = {"real_rate": float(r_rate[j]), "synthetic_rate": float(s_rate[j]),
                                 "unit": spec.unit, "help": spec.help, "real_events": real_events,
                                 "synthetic_events": float(sc[:, j].sum())}
        b = boot_log[:, j]
        b = b[np.isfinite(b)]
        if real_events < min_events or not np.isfinite(r_rate[j]) or r_rate[j] == 0 or len(b) < 2:
            entry.update(status="not_enough_data", min_n=min_events, n=int(real_events), verdict=None,
                         ratio=None, ci=None)
        else:
            ratio = float(s_rate[j] / r_rate[j]) if np.isfinite(s_rate[j]) else float("nan")
            se = float(np.std(b, ddof=1))
            lo, hi = math.exp(point_log[j] - z * se), math.exp(point_log[j] + z * se)
            if np.isfinite(ratio):  # the pseudo-count moves the centre a hair; the interval keeps the ratio
                lo, hi = min(lo, ratio), max(hi, ratio)
            entry.update(status="ok", ratio=ratio, ci=[lo, hi], se_log_ratio=se)
            judged.append(j)
        features[spec.name] = entry

    kind_entries: dict[str, Any] = {}
    if real_kinds is not None and synthetic_kinds is not None:
        for name in KIND_FEATURES:
            kind_entries[name] = {"categories": list(KIND_FEATURES[name]), "help": KIND_HELP[name],
                                  **kind_test(real_kinds[name], synthetic_kinds[name], n_perm, rng,
                                              max(min_events, 20))}
    tested_kinds = [k for k, v in kind_entries.items() if v["status"] == "ok"]
    judged_names = [FEATURE_SPECS[j].name for j in judged]
    v = ratio_verdicts([point_log[j] for j in judged], [features[n]["se_log_ratio"] for n in judged_names],
                       lower=smoothed_below, upper=exaggerated_above, alpha=alpha, power=power,
                       n_real=len(rc), n_synthetic=len(sc),
                       extra_difference_p=[kind_entries[k]["p_value"] for k in tested_kinds])
    for name, res in zip(judged_names, v["features"], strict=True):
        features[name].update(res)
    for name, res in zip(tested_kinds, v["extra"], strict=True):
        kind_entries[name].update(p_holm=res["p_holm"], verdict="different" if res["rejected"] else "inconclusive")

    # Smoothing index: bootstrap interval and a same-n real-vs-real null.
    irr_cols = [j for j in judged if FEATURE_SPECS[j].irregularity]
    index: float | None = None
    index_entry: dict[str, Any] = {"status": "not_enough_data", "verdict": None}
    if irr_cols:
        ratios_now = np.array([features[s.name]["ratio"] if features[s.name].get("status") == "ok" else np.nan
                               for s in FEATURE_SPECS])
        index = float(_index(ratios_now, irr_cols))
        boot_index = _index(boot_ratio, irr_cols)
        n_null = max(n_boot, 1000)  # the null's upper tail sets a small level: more draws than the CI needs
        n0_c, n0_d = _resample_sums(rc, rd, len(rc), n_null, rng, bootstrap_max_n)
        n1_c, n1_d = _resample_sums(rc, rd, len(sc), n_null, rng, bootstrap_max_n)
        with np.errstate(divide="ignore", invalid="ignore"):
            null_index = _index(rates(n1_c, n1_d) / rates(n0_c, n0_d), irr_cols)
        boot_index, null_index = boot_index[np.isfinite(boot_index)], null_index[np.isfinite(null_index)]
        a2 = (1 - ci) / 2
        ci_idx = [float(np.quantile(boot_index, a2)), float(np.quantile(boot_index, 1 - a2))]
        null_hi = float(np.quantile(null_index, 1 - index_alpha))
        p_index = float((1 + np.sum(null_index >= index)) / (1 + len(null_index)))
        verdict = "smoothed" if p_index <= index_alpha else "preserved" if ci_idx[1] <= null_hi else "inconclusive"
        index_entry = {"status": "ok", "value": index, "ci": [min(ci_idx[0], index), max(ci_idx[1], index)],
                       "ci_level": ci, "verdict": verdict, "p_value": p_index, "alpha": index_alpha,
                       "baseline": {"median": float(np.median(null_index)),
                                    "interval": [float(np.quantile(null_index, a2)),
                                                 float(np.quantile(null_index, 1 - a2))],
                                    "upper": null_hi,
                                    "method": f"real vs real at the same sizes ({len(rc)} vs {len(sc)} texts drawn "
                                              f"with replacement from the real corpus), {len(null_index)} draws"}}
    verdicts = [f["verdict"] for f in features.values() if f.get("verdict")]
    power_rows = {n: {"smoothed_at_or_below": features[n]["detectable_smoothed_ratio"],
                      "exaggerated_at_or_above": features[n]["detectable_exaggerated_ratio"]} for n in judged_names}
    return {
        "n_real": len(rc), "n_synthetic": len(sc), "ci_level": ci, "n_boot": n_boot,
        "thresholds": {"smoothed_below": smoothed_below, "exaggerated_above": exaggerated_above,
                       "min_events": min_events, "alpha": alpha},
        "verdict_rule": ("Holm-corrected across features (family-wise error <= alpha): smoothed/exaggerated when "
                         "the interval at the feature's Holm level lies beyond the band, preserved when it lies "
                         "inside it (TOST), else inconclusive"),
        "length_tail_bounds_words": list(bounds),
        "smoothing_index": index,
        "smoothing_index_test": index_entry,
        "n_judged": len(irr_cols),
        "counts": {k: verdicts.count(k) for k in VERDICTS},
        "features": features,
        "kinds": kind_entries,
        "power": {"alpha": alpha, "power": power, "correction": "Bonferroni (Holm's first, strictest step)",
                  "n_real": len(rc), "n_synthetic": len(sc),
                  "meaning": "a true ratio at or beyond these is flagged with at least this power at this n",
                  "features": power_rows},
    }

