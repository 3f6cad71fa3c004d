"""Languages of the two corpora: language mix, code-switching, and the low-resource languages whose synthetic
records always go to human review."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from semisynth.collapse.monitor import irregularity as irr
from semisynth.collapse.monitor.comparisons import not_enough
from semisynth.collapse.monitor.config import ALPHA_SHARES, LANGUAGE_FIGURES, MonitorConfig
from semisynth.collapse.monitor.irregularity.rate_ratio import count_scale_power
from semisynth.records import Record


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


def _rate_compare(r: np.ndarray, s: np.ndarray, cfg: MonitorConfig, help_: str,
                  synthetic_groups: np.ndarray | None) -> dict[str, Any]:
    """Share of texts with the property, synthetic over real, judged like an irregularity feature (count-aware SE,
    variants of one seed as one cluster, judged only with enough expected events), at this figure's share of alpha."""
    entry: dict[str, Any] = {"real_rate": float(r.mean()) if len(r) else None,
                             "synthetic_rate": float(s.mean()) if len(s) else None, "help": help_,
                             "n_real": len(r), "n_synthetic": len(s), "real_events": float(r.sum())}
    if len(r) == 0 or len(s) == 0 or r.sum() < cfg.min_events:
        entry.update(not_enough(cfg.min_events, int(r.sum())), verdict=None, ratio=None, ci=None)
        return entry
    from scipy.stats import norm

    rr = irr.rate_ratio((r[:, None], np.ones((len(r), 1))), (s[:, None], np.ones((len(s), 1))),
                        lower=cfg.smoothed_below, synthetic_groups=synthetic_groups)
    eff = max(float(rr.effective_expected_events[0]), float(rr.synthetic_events[0]) / rr.design_effect)
    entry["expected_synthetic_events"] = float(rr.expected_synthetic_events[0])
    if eff < cfg.min_expected:
        entry.update(not_enough(int(cfg.min_expected), int(eff)), verdict=None, ratio=None, ci=None,
                     why=f"{eff:.1f} effective synthetic events expected (< {cfg.min_expected:g})")
        return entry
    L, se = float(rr.log_ratio[0]), float(rr.se[0])
    z = float(norm.ppf(0.5 + cfg.ci / 2))
    alpha = cfg.alpha * ALPHA_SHARES["languages"] / len(LANGUAGE_FIGURES)  # Bonferroni over the two figures
    v = irr.ratio_verdicts([L], [se], lower=cfg.smoothed_below, upper=cfg.exaggerated_above, alpha=alpha,
                           power=cfg.power, n_real=len(r), n_synthetic=len(s))
    res = {**v["features"][0], **count_scale_power(rr, 0, v["settings"], cfg.power)}
    entry.update(status="ok", ratio=math.exp(L), raw_ratio=float(s.mean() / r.mean()),
                 ci=[math.exp(L - z * se), math.exp(L + z * se)], alpha=alpha, **res)
    return entry


def language_profile(real: Sequence[Record], synthetic: Sequence[Record], real_langs: list[str],
                     syn_langs: list[str], cfg: MonitorConfig, rng: np.random.Generator,
                     synthetic_groups: np.ndarray | None = None) -> dict[str, Any]:
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
            "other_language_rate": _rate_compare(mix_r, mix_s, cfg, "texts not in the real majority language",
                                                 None if synthetic_groups is None else synthetic_groups[known_s]),
            "code_switching_rate": _rate_compare(_code_switching(rt, ri, cfg), _code_switching(st, si, cfg), cfg,
                                                 "texts whose halves are in different languages",
                                                 None if synthetic_groups is None else synthetic_groups[si]),
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

