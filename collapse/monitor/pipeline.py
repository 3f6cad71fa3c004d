"""The irregularity and collapse monitor: does the synthetic data keep the real distribution?

`run_monitor(real, synthetic, config, out_dir)` writes report.json (every figure) and report.html,
and returns the report dict. Every embedding figure sits beside a same-distribution baseline: the
real corpus is split in two (A, B) and the comparison is real A vs synthetic at the same n as
real A vs real B, so sample-size bias shows and "close" has a meaning. A metric without enough data
says so ({"status": "not_enough_data", "min_n", "n"}) instead of printing a number.
"""

from __future__ import annotations

import logging
import math
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from semisynth.atomic import write_json, write_jsonl
from semisynth.collapse.monitor import irregularity as irr
from semisynth.collapse.monitor import metrics as M
from semisynth.collapse.monitor.embeddings import Embedder, check_embeddings, check_same_dims
from semisynth.config import CommandConfig
from semisynth.errors import UserError
from semisynth.records import Record

log = logging.getLogger(__name__)

# Figures of the subsampled metrics, named "<metric>.<key>" (the keys their metric function returns).
SUBSAMPLED_FIGURES = {"prdc": ("precision", "recall", "density", "coverage"), "mauve": ("mauve",)}
EMBEDDING_FIGURES = ("frechet", "mmd", "vendi", "prdc", "mauve", "memorisation", "tail_coverage")
TEXT_DIVERSITY_FIGURES = ("distinct_1", "distinct_2", "self_bleu")
LANGUAGE_FIGURES = ("other_language_rate", "code_switching_rate")


# How `alpha` is shared between the corpus-level tests, so that real vs real flags anything with
# probability <= alpha (Bonferroni across the four, Holm within the features).
ALPHA_SHARES = {"features": 0.5, "smoothing_index": 0.25, "c2st_embedding": 0.125, "c2st_ngram": 0.125}


def gate_figure_names() -> frozenset[str]:
    """Every figure a gate may name, known before the run (a typo should not cost a whole run)."""
    return frozenset({"irregularity.smoothing_index",
                      *(f"irregularity.{f}.ratio" for f in (*irr.FEATURES, *LANGUAGE_FIGURES)),
                      *EMBEDDING_FIGURES, *TEXT_DIVERSITY_FIGURES,
                      *(f"{m}.{k}" for m, ks in SUBSAMPLED_FIGURES.items() for k in ks)})
DEFAULT_MIN_N = {"frechet": 50, "mmd": 10, "vendi": 2, "prdc": 20, "mauve": 50, "self_bleu": 10,
                 "distinct_n": 1, "memorisation": 1, "tail_coverage": 50, "irregularity": 1}


class Gate(BaseModel):
    """A CI threshold on one figure of the report (see `figures` in report.json for names).

    Either an absolute bound (min / max) or a bound relative to the same-distribution baseline
    (max_baseline_ratio: value <= ratio x baseline; min_baseline_ratio: value >= ratio x baseline).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    figure: str = Field(description="a key of report.json `figures`, e.g. irregularity.typo_rate.ratio, frechet")
    min: float | None = None
    max: float | None = None
    max_baseline_ratio: float | None = Field(None, gt=0)
    min_baseline_ratio: float | None = Field(None, gt=0)
    on_missing: Literal["skip", "fail"] = Field("skip", description="when the figure has not enough data")

    @model_validator(mode="after")
    def _one_bound(self) -> Gate:
        if all(v is None for v in (self.min, self.max, self.max_baseline_ratio, self.min_baseline_ratio)):
            raise ValueError("a gate needs min, max, max_baseline_ratio or min_baseline_ratio")
        return self


DEFAULT_GATES = (
    Gate(figure="irregularity.typo_rate.ratio", min=0.7),
    Gate(figure="frechet", max_baseline_ratio=2.0),
    Gate(figure="irregularity.smoothing_index", max=0.5),
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


# --- helpers -----------------------------------------------------------------------------------------


def not_enough(min_n: int, n: int) -> dict[str, Any]:
    return {"status": "not_enough_data", "min_n": int(min_n), "n": int(n)}


def _paired(fn: Callable[[np.ndarray, np.ndarray], float], A: np.ndarray, S: np.ndarray,
            B: np.ndarray, min_n: int, lower_is_better: bool = True) -> dict[str, Any]:
    n = min(len(A), len(S), len(B))
    if n < min_n:
        return not_enough(min_n, n)
    value, base = float(fn(A, S)), float(fn(A, B))
    return {"status": "ok", "value": value, "baseline": base, "n_real": len(A), "n_synthetic": len(S),
            "ratio_to_baseline": value / base if base else None, "lower_is_better": lower_is_better}


def _mmd2(cfg: MonitorConfig, bandwidth: float) -> Callable[[np.ndarray, np.ndarray], float]:
    """MMD^2 at a fixed bandwidth, so a figure and its baseline are measured with the same kernel."""
    return lambda x, y: M.mmd_rbf(x, y, bandwidth=bandwidth, n_features=cfg.mmd_rff_features,
                                  exact_max_n=cfg.mmd_exact_max_n, seed=cfg.seed)["mmd2"]


def _single(fn: Callable[[Any], float], S: Any, B: Any, min_n: int, **extra: Any) -> dict[str, Any]:
    n = min(len(S), len(B))
    if n < min_n:
        return not_enough(min_n, n)
    value, base = float(fn(S)), float(fn(B))
    if not (math.isfinite(value) and math.isfinite(base)):
        return not_enough(min_n, 0)
    return {"status": "ok", "value": value, "baseline": base, "n": len(S),
            "ratio_to_baseline": value / base if base else None, **extra}


def _subsampled(fn: Callable[[np.ndarray, np.ndarray], dict[str, float]], A: np.ndarray, S: np.ndarray,
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


def _cap(X: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if len(X) <= n:
        return X, np.arange(len(X))
    idx = np.sort(rng.choice(len(X), n, replace=False))
    return X[idx], idx


def _norm_text(t: str) -> str:
    return " ".join(t.lower().split())


# --- languages -------------------------------------------------------------------------------------


def _detector_tagged(r: Record) -> bool:
    """A language tag written by a detector (seed loader, generation checks) rather than given by the user."""
    return "language_confidence" in r.meta or r.lineage.generator is not None


def record_languages(records: Sequence[Record], cfg: MonitorConfig, rng: np.random.Generator
                     ) -> tuple[list[str], np.ndarray, dict[str, Any]]:
    """Per-record language, every record: a tag the user gave is kept; any other record is identified here
    (semisynth.langid) and its language counts only when present (>= language_min_chars characters and
    confidence >= language_min_confidence), else "und". Confidence is NaN for given tags."""
    from semisynth.langid import identify_many, is_present

    langs = [r.language or "und" for r in records]
    conf = np.full(len(records), np.nan)
    todo = [i for i, r in enumerate(records) if langs[i] == "und" or _detector_tagged(r)]
    cap = cfg.language_max_texts
    chosen = todo if cap is None or len(todo) <= cap else sorted(rng.choice(todo, cap, replace=False).tolist())
    skipped = set(todo) - set(chosen)
    for i in skipped:
        langs[i] = "und"
    guesses = identify_many([records[i].content for i in chosen], min_chars=cfg.language_min_chars)
    present = 0
    for i, g in zip(chosen, guesses, strict=True):
        ok = is_present(g, cfg.language_min_chars, cfg.language_min_confidence)
        present += ok
        langs[i], conf[i] = (g.lang, g.confidence) if ok else ("und", np.nan)
    return langs, conf, {"given": len(records) - len(todo), "identified": len(chosen), "present": present,
                         "below_threshold": len(chosen) - present, "not_identified": len(skipped),
                         "methods": dict(Counter(g.method for g in guesses))}


def _code_switching(texts: Sequence[str], idx: Sequence[int], cfg: MonitorConfig, min_words: int = 8) -> np.ndarray:
    """1 where both halves of a text have a present language and the two differ (0 otherwise)."""
    from semisynth.langid import identify, is_present

    out = np.zeros(len(idx))
    for j, i in enumerate(idx):
        words = texts[i].split()
        if len(words) < min_words:
            continue
        half = len(words) // 2
        g1 = identify(" ".join(words[:half]), min_chars=cfg.language_min_chars)
        g2 = identify(" ".join(words[half:]), min_chars=cfg.language_min_chars)
        out[j] = float(g1.lang != g2.lang and all(is_present(g, cfg.language_min_chars, cfg.language_min_confidence)
                                                  for g in (g1, g2)))
    return out


def _rate_compare(r: np.ndarray, s: np.ndarray, cfg: MonitorConfig, rng: np.random.Generator,
                  help_: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"real_rate": float(r.mean()) if len(r) else None,
                             "synthetic_rate": float(s.mean()) if len(s) else None, "help": help_,
                             "n_real": len(r), "n_synthetic": len(s), "real_events": float(r.sum())}
    if len(r) == 0 or len(s) == 0 or r.sum() < cfg.min_events:
        entry.update(not_enough(cfg.min_events, int(r.sum())), verdict=None, ratio=None, ci=None)
        return entry
    # Same rule as the irregularity features (irr.ratio_verdicts), each language figure its own family.
    from scipy.stats import norm

    s_b = np.array([s[rng.integers(0, len(s), len(s))].sum() for _ in range(cfg.n_boot)])
    r_b = np.array([r[rng.integers(0, len(r), len(r))].sum() for _ in range(cfg.n_boot)])
    boot = irr.log_ratio(s_b, len(s), r_b, len(r))
    L = float(irr.log_ratio(np.array(s.sum()), len(s), np.array(r.sum()), len(r)))
    se = float(np.std(boot, ddof=1))
    ratio = float(s.mean() / r.mean())
    z = float(norm.ppf(0.5 + cfg.ci / 2))
    lo, hi = min(math.exp(L - z * se), ratio), max(math.exp(L + z * se), ratio)
    res = irr.ratio_verdicts([L], [se], lower=cfg.smoothed_below, upper=cfg.exaggerated_above, alpha=cfg.alpha,
                             power=cfg.power, n_real=len(r), n_synthetic=len(s))["features"][0]
    entry.update(status="ok", ratio=ratio, ci=[lo, hi], **res)
    return entry


def language_profile(real: Sequence[Record], synthetic: Sequence[Record], real_langs: list[str],
                     syn_langs: list[str], cfg: MonitorConfig, rng: np.random.Generator) -> dict[str, Any]:
    """Language mix (share outside the real majority language, over records with a present language) and
    code-switching, on every record (or language_max_texts per corpus)."""
    known_r = [i for i, lang in enumerate(real_langs) if lang != "und"]
    known_s = [i for i, lang in enumerate(syn_langs) if lang != "und"]
    majority = Counter(real_langs[i] for i in known_r).most_common(1)
    major = majority[0][0] if majority else None
    mix_r = np.array([real_langs[i] != major for i in known_r], dtype=float)
    mix_s = np.array([syn_langs[i] != major for i in known_s], dtype=float)
    cap = cfg.language_max_texts
    rt = [r.content for r in real]
    st = [r.content for r in synthetic]

    def pick(n: int) -> list[int]:
        return list(range(n)) if cap is None or n <= cap else sorted(rng.choice(n, cap, replace=False).tolist())

    ri, si = pick(len(real)), pick(len(synthetic))
    return {
        "majority_language": major,
        "note": f"language id (py3langid, langdetect where unsure) on "
                f"{'every record' if cap is None else f'<= {cap} records per corpus'}; "
                f"a language counts in texts of >= {cfg.language_min_chars} characters at confidence >= "
                f"{cfg.language_min_confidence}; code-switching on {len(ri)} real and {len(si)} synthetic texts",
        "features": {
            "other_language_rate": _rate_compare(mix_r, mix_s, cfg, rng, "texts not in the real majority language"),
            "code_switching_rate": _rate_compare(_code_switching(rt, ri, cfg), _code_switching(st, si, cfg), cfg, rng,
                                                 "texts whose halves are in different languages"),
        },
    }


def low_resource_languages(real_langs: list[str], real_conf: np.ndarray, syn_langs: list[str],
                           cfg: MonitorConfig) -> dict[str, Any]:
    """Languages whose synthetic records must go to human review: configured, or few seeds / low confidence."""
    seeds = Counter(lang for lang in real_langs if lang != "und")
    syn = Counter(lang for lang in syn_langs if lang != "und")
    out: dict[str, Any] = {}
    for lang in sorted(set(seeds) | set(syn)):
        confs = [c for c, lg in zip(real_conf, real_langs, strict=True) if lg == lang and np.isfinite(c)]
        mean_conf = float(np.mean(confs)) if confs else None
        reasons = []
        if cfg.low_resource_languages is not None:
            if lang in cfg.low_resource_languages:
                reasons.append("configured")
        else:
            if seeds[lang] < cfg.low_resource_min_seeds:
                reasons.append(f"{seeds[lang]} real seeds < {cfg.low_resource_min_seeds}")
            if mean_conf is not None and mean_conf < cfg.low_resource_min_confidence:
                reasons.append(f"detector confidence {mean_conf:.2f} < {cfg.low_resource_min_confidence}")
        if reasons:
            out[lang] = {"real_seeds": seeds[lang], "synthetic_records": syn[lang],
                         "mean_detector_confidence": mean_conf, "reasons": reasons}
    return {"languages": out, "rule": "configured list" if cfg.low_resource_languages is not None else
            f"< {cfg.low_resource_min_seeds} seeds or detector confidence < {cfg.low_resource_min_confidence}",
            "policy": "their synthetic records always go to human review"}


# --- figures and gates ---------------------------------------------------------------------------


def flat_figures(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Gate-able figures by name: {"value", "baseline"} or {"status": "not_enough_data", ...}."""
    out: dict[str, dict[str, Any]] = {}
    ir = report["irregularity"]
    # An index over no judged feature is 0 by construction, not a measurement: a gate on it is skipped.
    judged = ir.get("n_judged", 1)
    out["irregularity.smoothing_index"] = ({"value": ir["smoothing_index"], "baseline": ir.get("baseline_smoothing_index")}
                                           if ir.get("smoothing_index") is not None and judged
                                           else not_enough(1, judged or 0))
    for name, f in {**ir["features"], **report["language"]["features"]}.items():
        out[f"irregularity.{name}.ratio"] = ({"value": f["ratio"], "baseline": f.get("baseline_ratio")}
                                              if f.get("status") == "ok" else not_enough(f.get("min_n", 0), f.get("n", 0)))
    for name, m in report["embedding"].items():
        if m.get("status") != "ok":  # a gate on a sub-figure is then skipped (or failed), not unknown
            out[name] = m
            out.update({f"{name}.{k}": m for k in SUBSAMPLED_FIGURES.get(name, ())})
            continue
        if "value" in m:
            out[name] = {"value": m["value"], "baseline": m.get("baseline")}
        for k, v in m.items():
            if isinstance(v, dict) and "value" in v and isinstance(v["value"], dict):
                out[f"{name}.{k}"] = {"value": v["value"]["mean"], "baseline": v["baseline"]["mean"]}
    for name, m in report["text_diversity"].items():
        out[name] = ({"value": m["value"], "baseline": m["baseline"]} if m.get("status") == "ok" else m)
    return out


def evaluate_gates(gates: Sequence[Gate], figures: dict[str, dict[str, Any]]) -> dict[str, Any]:
    failed, passed, skipped = [], [], []
    for g in gates:
        fig = figures.get(g.figure)
        desc = g.model_dump(exclude_none=True)
        if fig is None:
            raise UserError(f"monitor config: gate '{g.figure}'", "no such figure in the report",
                            f"use one of: {', '.join(sorted(figures))}")
        value, base = fig.get("value"), fig.get("baseline")
        if value is None or fig.get("status") == "not_enough_data":
            entry = {**desc, "reason": f"not enough data ({fig})"}
            (failed if g.on_missing == "fail" else skipped).append(entry)
            continue
        problems = []
        if g.min is not None and value < g.min:
            problems.append(f"{value:.4g} < min {g.min}")
        if g.max is not None and value > g.max:
            problems.append(f"{value:.4g} > max {g.max}")
        for attr, cmp in (("max_baseline_ratio", lambda v, t: v > t), ("min_baseline_ratio", lambda v, t: v < t)):
            ratio = getattr(g, attr)
            if ratio is None:
                continue
            if base is None:
                problems.append("no baseline")
            elif cmp(value, ratio * base):
                problems.append(f"{value:.4g} vs {ratio} x baseline {base:.4g}")
        (failed if problems else passed).append({**desc, "value": value, "baseline": base,
                                                 **({"reason": "; ".join(problems)} if problems else {})})
    evaluated = len(failed) + len(passed)
    # "passed" needs a gate that was actually evaluated: skipped gates (not enough data) prove nothing.
    status = "failed" if failed else "passed" if passed else "not_evaluated"
    return {"passed": status == "passed", "status": status, "evaluated": evaluated, "failed": failed, "ok": passed,
            "skipped": skipped,
            **({"reason": f"no gate could be evaluated: all {len(skipped)} skipped for lack of data"
                if skipped else "no gates configured"} if status == "not_evaluated" else {})}


# --- the run ---------------------------------------------------------------------------------------


def _embed(records: Sequence[Record], given: np.ndarray | None, embedder: Embedder | None, where: str) -> np.ndarray:
    if given is not None:
        return check_embeddings(given, len(records), where)
    assert embedder is not None
    return check_embeddings(embedder.encode([r.content for r in records]), len(records), where)


def _group_metrics(idx: np.ndarray, real_idx: np.ndarray, syn_counts: tuple[np.ndarray, np.ndarray],
                   real_counts: tuple[np.ndarray, np.ndarray], R: np.ndarray, S: np.ndarray,
                   cfg: MonitorConfig, rng: np.random.Generator, real_kinds: dict[str, np.ndarray] | None = None,
                   syn_kinds: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Irregularity and Frechet/MMD of one slice of the synthetic data against its real reference."""
    n = len(idx)
    if n < cfg.breakdown_min_n or len(real_idx) < cfg.breakdown_min_n:
        return not_enough(cfg.breakdown_min_n, min(n, len(real_idx)))
    kinds = {} if real_kinds is None or syn_kinds is None else {
        "real_kinds": {k: v[real_idx] for k, v in real_kinds.items()},
        "synthetic_kinds": {k: v[idx] for k, v in syn_kinds.items()}}
    prof = irr.corpus_profile([], [], n_boot=100, ci=cfg.ci, seed=cfg.seed, smoothed_below=cfg.smoothed_below,
                              exaggerated_above=cfg.exaggerated_above, min_events=cfg.min_events,
                              alpha=cfg.alpha * ALPHA_SHARES["features"],
                              index_alpha=cfg.alpha * ALPHA_SHARES["smoothing_index"],
                              power=cfg.power, n_perm=min(cfg.n_perm, 1000),
                              real_counts=(real_counts[0][real_idx], real_counts[1][real_idx]),
                              synthetic_counts=(syn_counts[0][idx], syn_counts[1][idx]), **kinds)
    si = prof["smoothing_index_test"]
    out: dict[str, Any] = {"status": "ok", "n_synthetic": n, "n_real_reference": len(real_idx),
                           "smoothing_index": prof["smoothing_index"], "smoothing_index_ci": si.get("ci"),
                           "smoothing_index_verdict": si.get("verdict"), "verdicts": prof["counts"],
                           "ci_level": cfg.ci,
                           "features": {k: {"ratio": v["ratio"], "ci": v["ci"], "verdict": v["verdict"],
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
    out["frechet"] = _paired(M.frechet_distance, A, s, b, cfg.min_n_for("frechet"))
    out["mmd"] = _paired(_mmd2(cfg, M.median_bandwidth(A, B, seed=cfg.seed)), A, s, b, cfg.min_n_for("mmd"))
    return out


def _two_sample(R: np.ndarray, S: np.ndarray, real_texts: Sequence[str], syn_texts: Sequence[str], a_idx: np.ndarray,
                b_idx: np.ndarray, syn_ids: Sequence[str], cfg: MonitorConfig) -> dict[str, Any]:
    """Classifier two-sample test, real vs synthetic, on embeddings and on character n-grams, each beside the
    same test on real A vs real B (which should sit at AUC 0.5)."""
    from semisynth.collapse.monitor.two_sample import c2st

    kw = dict(folds=cfg.c2st_folds, seed=cfg.seed, max_n=cfg.c2st_max_n)
    out: dict[str, Any] = {"method": "Lopez-Paz & Oquab 2017: cross-validated AUC of a classifier telling synthetic "
                                     f"from real; both sides subsampled to <= {cfg.c2st_max_n} records (seeded)"}
    a_t, b_t = [real_texts[i] for i in a_idx], [real_texts[i] for i in b_idx]
    for feats, real, syn, ra, rb in (("embedding", R, S, R[a_idx], R[b_idx]), ("ngram", real_texts, syn_texts, a_t, b_t)):
        a = cfg.alpha * ALPHA_SHARES[f"c2st_{feats}"]
        res = c2st(real, syn, features=feats, synthetic_ids=syn_ids, alpha=a, **kw)
        base = c2st(ra, rb, features=feats, top_k=0, alpha=a, **kw)
        res["baseline"] = {k: base.get(k) for k in ("status", "auc", "ci", "p_value", "verdict", "n_per_side")}
        out[feats] = res
    return out


def run_monitor(real_records: Sequence[Record], synthetic_records: Sequence[Record], config: MonitorConfig | None,
                out_dir: str | os.PathLike | None, real_embeddings: np.ndarray | None = None,
                synthetic_embeddings: np.ndarray | None = None,
                inputs: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Compare the corpora, write report.json / report.html (and review_sample.jsonl) to out_dir.

    `inputs` says where each corpus came from ({"real"|"synthetic": {"path", "text_field", "default_origin"}});
    it goes into the report's fingerprint so `semisynth mix` can re-read the same data the same way."""
    cfg = config or MonitorConfig()
    if not real_records:
        raise UserError("real corpus", "no records", "give a real corpus with at least one record")
    if not synthetic_records:
        raise UserError("synthetic corpus", "no records", "give a synthetic corpus with at least one record")
    rng = np.random.default_rng(cfg.seed)
    real_texts = [r.content for r in real_records]
    syn_texts = [r.content for r in synthetic_records]

    embedder = None
    if real_embeddings is None or synthetic_embeddings is None:
        cache = os.path.expanduser(cfg.cache_dir) if cfg.cache_dir else None
        embedder = Embedder(cfg.embedder, cfg.batch_size, cache)
    R = _embed(real_records, real_embeddings, embedder, "real embeddings")
    S = _embed(synthetic_records, synthetic_embeddings, embedder, "synthetic embeddings")
    check_same_dims(R, S)

    # Real split A | B; B and the synthetic evaluation sample have the same n.
    n_r, n_s = len(R), len(S)
    perm = rng.permutation(n_r)
    half = n_r // 2
    n_eval = min(n_r - half, n_s)
    a_idx, b_idx = perm[:half], perm[half:half + n_eval]
    s_idx = np.sort(rng.choice(n_s, n_eval, replace=False)) if n_eval else np.arange(0)
    A, B, Se = R[a_idx], R[b_idx], S[s_idx]

    # Irregularity: rates on all texts; baseline ratio = real A vs real B.
    real_counts = irr.profile_counts(real_texts, cfg.vocab_lang)
    bounds = irr.length_tail_bounds(irr.length_words(real_counts[0]))
    syn_counts = irr.profile_counts(syn_texts, cfg.vocab_lang, length_bounds=bounds)
    real_kinds = irr.kind_counts(real_texts, cfg.vocab_lang)
    syn_kinds = irr.kind_counts(syn_texts, cfg.vocab_lang)
    kw = dict(n_boot=cfg.n_boot, ci=cfg.ci, seed=cfg.seed, smoothed_below=cfg.smoothed_below,
              exaggerated_above=cfg.exaggerated_above, min_events=cfg.min_events, power=cfg.power,
              alpha=cfg.alpha * ALPHA_SHARES["features"], index_alpha=cfg.alpha * ALPHA_SHARES["smoothing_index"],
              n_perm=cfg.n_perm)
    profile = irr.corpus_profile([], [], real_counts=real_counts, synthetic_counts=syn_counts, real_kinds=real_kinds,
                                 synthetic_kinds=syn_kinds, **kw)
    base_profile = irr.corpus_profile([], [], real_counts=(real_counts[0][a_idx], real_counts[1][a_idx]),
                                      synthetic_counts=(real_counts[0][b_idx], real_counts[1][b_idx]),
                                      real_kinds={k: v[a_idx] for k, v in real_kinds.items()},
                                      synthetic_kinds={k: v[b_idx] for k, v in real_kinds.items()}, **kw) \
        if len(a_idx) and len(b_idx) else {"smoothing_index": None, "features": {}, "kinds": {}}
    profile["baseline_smoothing_index"] = base_profile.get("smoothing_index")
    for name, f in profile["features"].items():
        bf = base_profile.get("features", {}).get(name, {})
        f["baseline_ratio"] = bf.get("ratio")
        f["baseline_verdict"] = bf.get("verdict")
    for name, f in profile["kinds"].items():
        f["baseline_verdict"] = base_profile.get("kinds", {}).get(name, {}).get("verdict")

    real_langs, real_conf, real_lang_src = record_languages(real_records, cfg, rng)
    syn_langs, _, syn_lang_src = record_languages(synthetic_records, cfg, rng)
    lang_prof = language_profile(real_records, synthetic_records, real_langs, syn_langs, cfg, rng)
    lang_prof["sources"] = {"real": real_lang_src, "synthetic": syn_lang_src}

    # Embedding metrics beside the baseline.
    mn = cfg.min_n_for
    bw = M.median_bandwidth(A, B if len(B) else A, seed=cfg.seed) if len(A) > 1 else 1.0
    emb: dict[str, Any] = {
        "frechet": _paired(M.frechet_distance, A, Se, B, mn("frechet")),
        "mmd": _paired(_mmd2(cfg, bw), A, Se, B, mn("mmd")),
        "vendi": _single(M.vendi_score, Se, B, mn("vendi"), higher_is_more_diverse=True),
        "prdc": _subsampled(lambda x, y: M.prdc(x, y, cfg.prdc_k), A, Se, B, cfg.subsample_n, cfg.subsample_repeats,
                            cfg.seed, max(mn("prdc"), cfg.prdc_k + 2)),
        "mauve": _subsampled(lambda x, y: {"mauve": M.mauve(x, y, seed=cfg.seed)["mauve"]}, A, Se, B,
                             cfg.subsample_n, cfg.subsample_repeats, cfg.seed, mn("mauve")),
    }
    if emb["mmd"]["status"] == "ok":
        emb["mmd"]["bandwidth"] = bw
        emb["mmd"]["method"] = M.mmd_method(len(A), len(Se), cfg.mmd_exact_max_n)

    # Memorisation: nearest real neighbour of each synthetic record (capped), baseline B -> A.
    Sm, sm_idx = _cap(S, cfg.nn_max_synthetic, rng)
    Rm, rm_idx = _cap(R, cfg.nn_max_real, rng)
    mem_entry: dict[str, Any]
    nn_cos = np.zeros(0)
    nn_real = np.zeros(0, dtype=np.int64)
    if len(Sm) >= mn("memorisation") and len(B) >= mn("memorisation") and len(A):
        mem = M.memorisation_rate(Rm, Sm, cfg.memorisation_threshold)
        nn_cos, nn_real = mem["nn_cosine"], rm_idx[mem["nn_index"]]
        base_mem = M.memorisation_rate(A[: cfg.nn_max_real], B[: cfg.nn_max_synthetic], cfg.memorisation_threshold)
        real_set = {_norm_text(t) for t in real_texts}
        a_set = {_norm_text(real_texts[i]) for i in a_idx}
        exact = float(np.mean([_norm_text(syn_texts[i]) in real_set for i in sm_idx]))
        exact_base = float(np.mean([_norm_text(real_texts[i]) in a_set for i in b_idx]))
        mem_entry = {"status": "ok", "value": mem["rate"], "baseline": base_mem["rate"],
                     "threshold_cosine": cfg.memorisation_threshold, "mean_nn_cosine": mem["mean_nn_cosine"],
                     "exact_copy_rate": exact, "exact_copy_baseline": exact_base,
                     "n_synthetic_checked": len(Sm), "n_real_searched": len(Rm)}
    else:
        mem_entry = not_enough(mn("memorisation"), min(len(Sm), len(B)))
    emb["memorisation"] = mem_entry
    if min(len(A), len(Se), len(B)) >= mn("tail_coverage"):
        tc = M.tail_coverage(A, Se, cfg.tail_clusters, cfg.tail_mass, cfg.seed)
        tcb = M.tail_coverage(A, B, cfg.tail_clusters, cfg.tail_mass, cfg.seed)
        emb["tail_coverage"] = {"status": "ok", "value": tc["coverage"], "baseline": tcb["coverage"],
                                **{k: v for k, v in tc.items() if k != "coverage"},
                                "baseline_tail_mass_ratio": tcb["tail_mass_ratio"]}
    else:
        emb["tail_coverage"] = not_enough(mn("tail_coverage"), min(len(A), len(Se), len(B)))

    st = [syn_texts[i] for i in s_idx]
    bt = [real_texts[i] for i in b_idx]
    text_div = {
        "distinct_1": _single(lambda t: M.distinct_n(t, 1), st, bt, mn("distinct_n")),
        "distinct_2": _single(lambda t: M.distinct_n(t, 2), st, bt, mn("distinct_n")),
        "self_bleu": _single(lambda t: M.self_bleu(t, seed=cfg.seed), st, bt, mn("self_bleu"),
                             note="higher = less diverse; on <= 1000 texts"),
    }

    two_sample = (_two_sample(R, S, real_texts, syn_texts, a_idx, perm[half:], [r.id for r in synthetic_records], cfg)
                  if cfg.c2st else {"status": "off"})

    # Breakdowns: by origin, language, taxonomy leaf (real reference: the slice's parents, else all real).
    real_pos = {r.id: i for i, r in enumerate(real_records)}
    all_real = np.arange(n_r)

    def reference(idx: np.ndarray) -> np.ndarray:
        parents = sorted({real_pos[p] for i in idx for p in synthetic_records[i].parents if p in real_pos})
        return np.asarray(parents) if len(parents) >= cfg.breakdown_min_n else all_real

    breakdown: dict[str, dict[str, Any]] = {"origin": {}, "language": {}, "taxonomy_leaf": {}, "generator": {},
                                            "style": {}}
    groups: dict[str, dict[str, list[int]]] = {k: defaultdict(list) for k in breakdown}
    for i, r in enumerate(synthetic_records):
        groups["origin"][r.origin.value].append(i)
        groups["language"][syn_langs[i]].append(i)
        if r.lineage.taxonomy_leaf:
            groups["taxonomy_leaf"][r.lineage.taxonomy_leaf].append(i)
        if r.lineage.generator:
            groups["generator"][r.lineage.generator].append(i)
        if r.lineage.style:
            groups["style"][r.lineage.style].append(i)
    real_by_lang: dict[str, list[int]] = defaultdict(list)
    for i, lang in enumerate(real_langs):
        real_by_lang[lang].append(i)
    for kind, g in groups.items():
        for key, members in sorted(g.items()):
            idx = np.asarray(members)
            ref = np.asarray(real_by_lang.get(key, [])) if kind == "language" else reference(idx)
            breakdown[kind][key] = _group_metrics(idx, ref, syn_counts, real_counts, R, S, cfg, rng, real_kinds,
                                                  syn_kinds)

    low = low_resource_languages(real_langs, real_conf, syn_langs, cfg)

    report: dict[str, Any] = {
        "n_real": n_r, "n_synthetic": n_s,
        "embedder": "precomputed" if embedder is None else cfg.embedder,
        "baseline": {"method": "real split in two halves; metrics compare real A with synthetic at the same n as "
                               "real A with real B", "n_real_a": len(A), "n_eval": int(n_eval)},
        "irregularity": profile, "language": lang_prof, "embedding": emb, "text_diversity": text_div,
        "two_sample": two_sample, "breakdown": breakdown, "low_resource": low,
        "config": cfg.model_dump(mode="json"),
    }
    from semisynth.collapse.monitor.fingerprint import monitor_fingerprint

    report["fingerprint"] = monitor_fingerprint(real_records, synthetic_records, report["config"], inputs)
    report["figures"] = flat_figures(report)
    report["gates"] = evaluate_gates(cfg.gates, report["figures"])
    report["verdict"] = headline(report)

    # Worst examples: near-copies, most smoothed against their parent, farthest from any real text.
    syn_score = irr.irregularity_score(irr.rates(*syn_counts))
    real_score = irr.irregularity_score(irr.rates(*real_counts))
    report["examples"] = worst_examples(synthetic_records, real_records, sm_idx, nn_cos, nn_real, syn_score,
                                        real_score, real_pos, cfg.worst_examples)

    if cfg.review_sample is not None:
        from semisynth.collapse.monitor.review_sample import select_review_sample

        review = select_review_sample(synthetic_records, S, syn_langs, syn_score, low["languages"], cfg)
        report["review_sample"] = review["summary"]
    else:
        review = None

    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        if review is not None:
            write_jsonl(out / "review_sample.jsonl", review["rows"])
            report["review_sample"]["path"] = str(out / "review_sample.jsonl")
        write_json(out / "report.json", report)
        if cfg.html:
            from semisynth.collapse.monitor.report_html import write_report_html

            write_report_html(out / "report.html", report, A=A, S=Se, real_words=irr.length_words(real_counts[0]),
                              syn_words=irr.length_words(syn_counts[0]))
    return report


def headline(report: dict[str, Any]) -> dict[str, Any]:
    """The verdicts a reader sees first."""
    ir = report["irregularity"]

    def having(verdict: str) -> list[str]:
        return [k for k, f in ir["features"].items() if f.get("verdict") == verdict]

    smoothed, exaggerated = having("smoothed"), having("exaggerated")
    si = ir.get("smoothing_index_test") or {}
    c2 = {k: {"auc": m.get("auc"), "ci": m.get("ci"), "verdict": m.get("verdict"),
              "baseline_auc": (m.get("baseline") or {}).get("auc")}
          for k, m in (report.get("two_sample") or {}).items() if isinstance(m, dict) and m.get("status") == "ok"}
    far = [k for k, m in report["embedding"].items() if m.get("status") == "ok" and m.get("lower_is_better")
           and m.get("ratio_to_baseline") is not None and m["ratio_to_baseline"] > 2]
    return {"smoothing_index": ir.get("smoothing_index"), "baseline_smoothing_index": ir.get("baseline_smoothing_index"),
            "smoothing_index_ci": si.get("ci"), "smoothing_index_verdict": si.get("verdict"),
            "smoothing_index_p": si.get("p_value"), "smoothing_index_null": (si.get("baseline") or {}).get("interval"),
            "smoothed_features": smoothed, "exaggerated_features": exaggerated,
            "preserved_features": having("preserved"), "inconclusive_features": having("inconclusive"),
            "kind_different_features": [k for k, f in (ir.get("kinds") or {}).items() if f.get("verdict") == "different"],
            "classifier_two_sample": c2, "alpha": report["config"].get("alpha"),
            "alpha_shares": dict(ALPHA_SHARES),
            "metrics_over_2x_baseline": far, "gates_passed": report["gates"]["passed"]}


def worst_examples(syn: Sequence[Record], real: Sequence[Record], sm_idx: np.ndarray, nn_cos: np.ndarray,
                   nn_real: np.ndarray, syn_score: np.ndarray, real_score: np.ndarray, real_pos: dict[str, int],
                   k: int) -> dict[str, list[dict[str, Any]]]:
    def clip(t: str) -> str:
        return t if len(t) <= 400 else t[:400] + "..."

    out: dict[str, list[dict[str, Any]]] = {"near_copies": [], "most_smoothed": [], "farthest_from_real": []}
    if k == 0:
        return out
    if len(nn_cos):
        for j in np.argsort(-nn_cos, kind="stable")[:k]:
            out["near_copies"].append({"id": syn[sm_idx[j]].id, "text": clip(syn[sm_idx[j]].content),
                                       "nearest_real": clip(real[nn_real[j]].content), "cosine": float(nn_cos[j])})
        for j in np.argsort(nn_cos, kind="stable")[:k]:
            out["farthest_from_real"].append({"id": syn[sm_idx[j]].id, "text": clip(syn[sm_idx[j]].content),
                                              "nearest_real": clip(real[nn_real[j]].content), "cosine": float(nn_cos[j])})
    drops = []
    for i, r in enumerate(syn):
        ps = [real_pos[p] for p in r.parents if p in real_pos]
        if ps:
            drops.append((float(real_score[ps[0]] - syn_score[i]), i, ps[0]))
    drops.sort(key=lambda t: -t[0])
    for d, i, p in drops[:k]:
        if d <= 0:
            break
        out["most_smoothed"].append({"id": syn[i].id, "text": clip(syn[i].content), "parent": clip(real[p].content),
                                     "irregularity_drop": d})
    return out
