"""A representative sample of synthetic records for human review.

Two-level stratification. First by *cell* = generator x style (lineage), the unit a reviewed acceptance rate
is reported and gated on: n is allocated to cells in proportion to their size with at least one per cell
(largest remainders). Then, inside each cell, by embedding cluster x language x taxonomy leaf x irregularity
bin, allocated the same way. Each row carries its cell and the cell's population N_h, so `preference report`
can weight a cell's reviewed records by N_h / n_h (a stratified estimate) whatever the allocation did.
Records in low-resource languages are always added: nobody can check them automatically. N comes from a
margin of error when not given (`sample_size`, stated in the summary).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

from semisynth.records import Record


def sample_size(population: int, margin: float = 0.05, confidence: float = 0.95, p: float = 0.5) -> int:
    """Records needed to estimate a proportion within +-margin (worst case p=0.5), with the finite
    population correction: 385 for a large corpus at 5% / 95%."""
    if population <= 0:
        return 0
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    n0 = z * z * p * (1 - p) / (margin * margin)
    return int(min(population, math.ceil(n0 / (1 + (n0 - 1) / population))))


SIZE_METHOD = ("n0 = z^2 p(1-p) / margin^2 with p = 0.5 (worst case) and z the normal quantile of the confidence, "
               "then the finite population correction n = n0 / (1 + (n0 - 1) / N); before the correction, the Wilson "
               "half-width at n0 is at most the margin for any observed rate (design weights widen it by the "
               "design effect, which the review report states as its effective n)")


def review_cell(r: Record) -> str:
    """The generator x style cell a record is reported and gated in."""
    return f"{r.lineage.generator or '-'}|{r.lineage.style or '-'}"


def irregularity_bins(scores: np.ndarray) -> np.ndarray:
    """0 = clean, 1 = some irregularity, 2 = above the median of the irregular ones."""
    bins = np.zeros(len(scores), dtype=int)
    pos = scores > 0
    if pos.any():
        med = float(np.median(scores[pos]))
        bins[pos] = 1
        bins[scores > med] = 2
    return bins


def allocate(sizes: Mapping[str, int], n: int) -> dict[str, int]:
    """Proportional allocation with at least one per stratum (when n allows) and largest remainders."""
    total = sum(sizes.values())
    if n >= total:
        return dict(sizes)
    keys = sorted(sizes)
    if n < len(keys):  # fewer slots than strata: the largest strata get one each
        order = sorted(keys, key=lambda k: (-sizes[k], k))[:n]
        return {k: int(k in order) for k in keys}
    alloc = {k: 1 for k in keys}
    rest = n - len(keys)
    extra = {k: rest * (sizes[k] - 1) / max(total - len(keys), 1) for k in keys}
    for k in keys:
        alloc[k] += min(int(math.floor(extra[k])), sizes[k] - 1)
    left = n - sum(alloc.values())
    for k in sorted(keys, key=lambda k: (-(extra[k] - math.floor(extra[k])), k)):
        if left <= 0:
            break
        if alloc[k] < sizes[k]:
            alloc[k] += 1
            left -= 1
    return alloc


def select_review_sample(records: Sequence[Record], emb: np.ndarray, langs: Sequence[str], irr_scores: np.ndarray,
                         low_resource: Mapping[str, Any], cfg: Any) -> dict[str, Any]:
    """Rows (Record dicts with meta review_stratum / review_reason) and a summary for report.json."""
    from sklearn.cluster import KMeans

    n_pop = len(records)
    rng = np.random.default_rng(cfg.seed)
    k = int(min(cfg.review_clusters, max(1, n_pop // 20)))
    clusters = (KMeans(n_clusters=k, n_init=3, random_state=cfg.seed).fit_predict(np.asarray(emb, dtype=np.float32))
                if k > 1 else np.zeros(n_pop, dtype=int))
    bins = irregularity_bins(np.asarray(irr_scores))
    cells = [review_cell(r) for r in records]
    keys = [f"{cells[i]}|c{clusters[i]}|{langs[i]}|{r.lineage.taxonomy_leaf or '-'}|irr{bins[i]}"
            for i, r in enumerate(records)]
    strata: dict[str, list[int]] = defaultdict(list)
    by_cell: dict[str, dict[str, int]] = defaultdict(dict)
    for i, key in enumerate(keys):
        strata[key].append(i)
    for key, members in strata.items():
        by_cell[cells[members[0]]][key] = len(members)
    cell_size = {c: sum(v.values()) for c, v in by_cell.items()}
    target = (sample_size(n_pop, cfg.review_margin, cfg.review_confidence) if cfg.review_sample == "auto"
              else min(int(cfg.review_sample), n_pop))
    cell_alloc = allocate(cell_size, target)
    alloc = {k: v for c in sorted(by_cell) for k, v in allocate(by_cell[c], cell_alloc.get(c, 0)).items()}
    chosen: dict[int, tuple[str, str]] = {}
    for s in sorted(strata):
        members = strata[s]
        take = alloc.get(s, 0)
        for i in sorted(rng.choice(members, take, replace=False).tolist()) if take else []:
            chosen[i] = (s, "stratified")
    forced = 0
    for i in range(n_pop):
        if langs[i] in low_resource and i not in chosen:
            chosen[i] = (keys[i], "low_resource")
            forced += 1
    rows = []
    for i in sorted(chosen):
        stratum, reason = chosen[i]
        d = records[i].to_dict()
        d["meta"] = {**d.get("meta", {}), "review_stratum": stratum, "review_reason": reason,
                     "review_cell": cells[i], "review_cell_size": cell_size[cells[i]]}
        rows.append(d)
    summary = {"n": len(rows), "n_stratified": len(rows) - forced, "n_low_resource_added": forced,
               "target_n": target, "from_margin_of_error": cfg.review_sample == "auto",
               "margin": cfg.review_margin, "confidence": cfg.review_confidence, "n_strata": len(strata),
               "size_method": SIZE_METHOD if cfg.review_sample == "auto" else "given",
               "strata": "generator | style, then embedding cluster | language | taxonomy leaf | irregularity bin",
               "cells": {c: {"population": cell_size[c], "allocated": cell_alloc.get(c, 0)} for c in sorted(cell_size)}}
    return {"rows": rows, "summary": summary}
