"""Language identification with langdetect, made deterministic (its default is randomised)."""

from __future__ import annotations

from functools import lru_cache

UNDETERMINED = "und"


@lru_cache(maxsize=1)
def _factory():
    from langdetect import detector_factory

    detector_factory.DetectorFactory.seed = 0
    detector_factory.init_factory()
    return detector_factory._factory


def detect_language(text: str) -> tuple[str, float]:
    """(ISO code, probability). Texts with no letters give ("und", 0.0). Same text, same answer."""
    if not any(ch.isalpha() for ch in text):
        return UNDETERMINED, 0.0
    from langdetect.lang_detect_exception import LangDetectException

    detector = _factory().create()
    detector.seed = 0  # per-detector seed: independent of call order
    detector.append(text)
    try:
        langs = detector.get_probabilities()
    except LangDetectException:
        return UNDETERMINED, 0.0
    if not langs:
        return UNDETERMINED, 0.0
    best = langs[0]
    lang = best.lang.split("-")[0]
    return lang, float(best.prob)
