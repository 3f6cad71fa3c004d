"""What `semisynth monitor` can be told: MonitorConfig, CI gates, and the names of the figures a gate may use.

Kept apart from the computation so a config (and its gate names) can be validated before any corpus is read.
"""

from __future__ import annotations

import os
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from semisynth.collapse.monitor import irregularity as irr
from semisynth.config import CommandConfig
from semisynth.runner import RunnerConfig

# Figures of the subsampled metrics, named "<metric>.<key>" (the keys their metric function returns).
SUBSAMPLED_FIGURES = {"prdc": ("precision", "recall", "density", "coverage"), "mauve": ("mauve",)}
EMBEDDING_FIGURES = ("frechet", "mmd", "vendi", "prdc", "mauve", "memorisation", "tail_coverage")
TEXT_DIVERSITY_FIGURES = ("distinct_1", "distinct_2", "self_bleu")
LANGUAGE_FIGURES = ("other_language_rate", "code_switching_rate")


# How `alpha` is shared between every test the report can flag, so that real vs real flags anything with
# probability <= alpha: Bonferroni across the shares; Holm within the features (+ kind features); the two indices
# (smoothing, exaggeration) half each; the two language figures half each; "breakdown" is split evenly over the
# slices judged (each slice its own features / index family at that slice's level).
ALPHA_SHARES = {"features": 0.35, "smoothing_index": 0.15, "c2st_embedding": 0.1, "c2st_ngram": 0.1,
                "languages": 0.1, "breakdown": 0.2}


# Figures that carry a verdict a gate can require (verdict_not), and counts of flags a gate can bound (max: 0).
VERDICT_FIGURES = ("irregularity.smoothing_index", "irregularity.exaggeration_index", "c2st_embedding", "c2st_ngram")
COUNT_FIGURES = ("irregularity.n_smoothed_features", "irregularity.n_exaggerated_features",
                 "irregularity.n_kinds_different")
GATE_VERDICTS = ("smoothed", "exaggerated", "preserved", "inconclusive", "distinguishable", "indistinguishable",
                 "different")


def gate_figure_names() -> frozenset[str]:
    """Every figure a gate may name, known before the run (a typo should not cost a whole run)."""
    return frozenset({*VERDICT_FIGURES, *COUNT_FIGURES,
                      *(f"irregularity.{f}.ratio" for f in (*irr.FEATURES, *LANGUAGE_FIGURES)),
                      *EMBEDDING_FIGURES, *TEXT_DIVERSITY_FIGURES,
                      *(f"{m}.{k}" for m, ks in SUBSAMPLED_FIGURES.items() for k in ks)})
DEFAULT_MIN_N = {"frechet": 50, "mmd": 10, "vendi": 2, "prdc": 20, "mauve": 50, "self_bleu": 10,
                 "distinct_n": 1, "memorisation": 1, "tail_coverage": 50, "irregularity": 1}


class Gate(BaseModel):
    """A CI threshold on one figure of the report (see `figures` in report.json for names).

    An absolute bound (min / max), a bound relative to the same-distribution baseline (max_baseline_ratio:
    value <= ratio x baseline; min_baseline_ratio: value >= ratio x baseline), or verdicts the figure must not
    have (verdict_not: [smoothed] on irregularity.smoothing_index fails a run whose index is *significantly*
    smoothed, whatever its point value). Figures with verdicts: the two indices, each irregularity.<f>.ratio,
    c2st_embedding and c2st_ngram; counts of flags: irregularity.n_smoothed_features (max: 0) and the like.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    figure: str = Field(description="a key of report.json `figures`, e.g. irregularity.typo_rate.ratio, frechet")
    min: float | None = None
    max: float | None = None
    max_baseline_ratio: float | None = Field(None, gt=0)
    min_baseline_ratio: float | None = Field(None, gt=0)
    verdict_not: list[Literal[GATE_VERDICTS]] | None = Field(  # type: ignore[valid-type]
        None, description="verdicts that fail the gate, e.g. [smoothed]")
    on_missing: Literal["skip", "fail"] = Field("skip", description="when the figure has not enough data")

    @model_validator(mode="after")
    def _one_bound(self) -> Gate:
        if all(v is None for v in (self.min, self.max, self.max_baseline_ratio, self.min_baseline_ratio,
                                   self.verdict_not)):
            raise ValueError("a gate needs min, max, max_baseline_ratio, min_baseline_ratio or verdict_not")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"gate on {self.figure}: min {self.min} is above max {self.max}; no value passes")
        return self


DEFAULT_GATES = (
    Gate(figure="irregularity.typo_rate.ratio", min=0.7),
    Gate(figure="frechet", max_baseline_ratio=2.0),
    Gate(figure="irregularity.smoothing_index", max=0.5),
    Gate(figure="irregularity.smoothing_index", verdict_not=["smoothed"]),
)


class MonitorConfig(CommandConfig):
    """Settings of `semisynth monitor`; every field can come from YAML (--config) and most from flags."""

    embedder: str = Field("all-MiniLM-L6-v2", description="all-MiniLM-L6-v2 | multilingual-e5-small")
    batch_size: int = Field(64, ge=1)
    cache_dir: str | None = Field(os.path.join("~", ".cache", "semisynth", "embeddings"),
                                  description="embedding cache (null: no cache)")
    seed: int = 0
    text_field: str = "text"
    # irregularity
    n_boot: int = Field(300, ge=20)
    ci: float = Field(0.95, gt=0.5, lt=1)
    smoothed_below: float = Field(0.8, gt=0, le=1)
    exaggerated_above: float = Field(1.25, ge=1)
    min_events: int = Field(5, ge=1, description="min real occurrences of a feature to judge it")
    min_expected: float = Field(10.0, gt=0, description="min effective synthetic events expected at the null (or "
                                "seen) to judge a feature: fewer cannot tell smoothing from chance")
    vocab_lang: str = "en"
    alpha: float = Field(0.05, gt=0, lt=0.5, description="family-wise error over the report's corpus-level flags, "
                         "split as ALPHA_SHARES (features+kinds Holm, index, each classifier test)")
    power: float = Field(0.8, gt=0.5, lt=1, description="power of the detectable-change statement")
    n_perm: int = Field(2000, ge=100, description="permutations of each kind-feature test")
    c2st: bool = Field(True, description="classifier two-sample test on embeddings and character n-grams")
    c2st_max_n: int = Field(2000, ge=20, description="records per side the classifier test uses (seeded subsample)")
    c2st_folds: int = Field(2, ge=2, description="folds of the classifier test (2 gives the tightest valid interval)")
    # languages (semisynth.langid: py3langid, langdetect where unsure; ~700+ texts/s, so every record by default)
    language_max_texts: int | None = Field(
        None, ge=0, validation_alias=AliasChoices("language_max_texts", "langdetect_sample"),
        description="cap on texts per corpus run through language id (null: every record; old name langdetect_sample)")
    language_min_chars: int = Field(25, ge=1, description="a language counts as present only in texts this long "
                                    "(URLs and @handles removed)")
    language_min_confidence: float = Field(0.8, ge=0, le=1, description="...and at this detector confidence")
    # embedding metrics
    min_n: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_MIN_N))
    mmd_rff_features: int = Field(1024, ge=64)
    mmd_exact_max_n: int = Field(5000, ge=10)
    prdc_k: int = Field(5, ge=1)
    subsample_n: int = Field(2000, ge=10, description="PRDC/MAUVE subsample size per side")
    subsample_repeats: int = Field(5, ge=2)
    memorisation_threshold: float = Field(0.95, gt=0, le=1)
    nn_max_synthetic: int = Field(5000, ge=1)
    nn_max_real: int = Field(50_000, ge=1)
    tail_clusters: int = Field(50, ge=2)
    tail_mass: float = Field(0.1, gt=0, lt=1)
    # breakdowns, low resource, review, gates
    breakdown_min_n: int = Field(20, ge=2)
    low_resource_languages: list[str] | None = Field(None, description="null: languages with few seeds / low confidence")
    low_resource_min_seeds: int = Field(20, ge=1)
    low_resource_min_confidence: float = Field(0.8, ge=0, le=1)
    review_sample: Annotated[int, Field(ge=1)] | Literal["auto"] | None = Field(
        None, description="N >= 1, 'auto' (margin of error) or null")
    review_margin: float = Field(0.05, gt=0, lt=0.5)
    review_confidence: float = Field(0.95, gt=0.5, lt=1)
    review_clusters: int = Field(8, ge=1)
    gates: list[Gate] = Field(default_factory=lambda: list(DEFAULT_GATES))
    worst_examples: int = Field(10, ge=0)
    html: bool = True
    runner: RunnerConfig = Field(default_factory=RunnerConfig,
                                 description="where the embedding runs: here (local) or a Ray actor pool (kind: ray); "
                                 "never changes a figure")

    @model_validator(mode="after")
    def _known_metrics(self) -> MonitorConfig:
        unknown = set(self.min_n) - set(DEFAULT_MIN_N)
        if unknown:
            raise ValueError(f"unknown metric(s) in min_n: {sorted(unknown)}; known: {sorted(DEFAULT_MIN_N)}")
        names = gate_figure_names()
        for g in self.gates:
            if g.figure not in names:
                raise ValueError(f"gate figure '{g.figure}' is not a figure of the report; use one of: "
                                 f"{', '.join(sorted(names))}")
        return self

    def min_n_for(self, metric: str) -> int:
        return {**DEFAULT_MIN_N, **self.min_n}[metric]

