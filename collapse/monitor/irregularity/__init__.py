"""Irregularity profile: how much of real text's mess (typos, casing, slang, emoji...) a corpus keeps.

Paraphrasers and generators "clean up" text; a model trained on the cleaned text then never sees
the irregular input its users write. Each feature is counted per text with compiled regexes run once
over the whole corpus joined into one string (match offsets -> text ids with searchsorted) plus set
lookups on a flat token list, so profiling runs at tens of thousands of texts per second.

Public API (reused by the collapse experiments), from the modules: features (per-text counts), typos
(the typo lexicon and edit classes), kinds (the shape of typos and casing), comparison (corpus_profile) and
verdicts (the four-way rule):
  FEATURES                     feature names, in column order
  profile_counts(texts)        -> (counts, denominators), each (n, F) float64
  profile_texts(texts)         -> (n, F) per-text rates (count / denominator; NaN where undefined)
  rates(counts, denoms)        -> the same rates from counts already computed
  corpus_profile(real, synth)  -> per-feature real rate, synthetic rate, ratio + interval, four-way verdict
                                  (Holm across features), kind features, the smoothing index with its
                                  interval and same-n null, and the power statement
  ratio_verdicts(...)          -> smoothed / exaggerated / preserved / inconclusive for a family of ratios
  kind_counts(texts)           -> per-text events of each kind feature (typo edit type, position, band, casing)
"""


from semisynth.collapse.monitor.irregularity.comparison import corpus_profile
from semisynth.collapse.monitor.irregularity.features import (
    FEATURE_SPECS,
    FEATURES,
    SLANG,
    Feature,
    irregularity_score,
    length_tail_bounds,
    length_words,
    profile_counts,
    profile_texts,
    rates,
)
from semisynth.collapse.monitor.irregularity.kinds import (
    KIND_FEATURES,
    KIND_HELP,
    jensen_shannon,
    kind_counts,
    kind_test,
)
from semisynth.collapse.monitor.irregularity.rate_ratio import RateRatio, rate_ratio
from semisynth.collapse.monitor.irregularity.typos import (
    classify_edit,
    keyboard_adjacent,
    keyboard_noise,
    typo_dictionary,
    typo_event,
    typo_fixes,
)
from semisynth.collapse.monitor.irregularity.verdicts import (
    PSEUDO_COUNT,
    VERDICTS,
    holm,
    log_ratio,
    ratio_verdicts,
)

__all__ = [
    "FEATURES", "FEATURE_SPECS", "Feature", "SLANG", "profile_counts", "profile_texts", "rates", "irregularity_score",
    "length_tail_bounds", "length_words", "corpus_profile", "VERDICTS", "PSEUDO_COUNT", "log_ratio", "holm",
    "ratio_verdicts", "rate_ratio", "RateRatio", "KIND_FEATURES", "KIND_HELP", "kind_counts", "kind_test", "jensen_shannon", "typo_event",
    "typo_fixes", "typo_dictionary", "classify_edit", "keyboard_adjacent", "keyboard_noise",
]
