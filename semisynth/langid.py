"""Language identification: py3langid first, langdetect as a second opinion where py3langid is unsure.

Why two detectors: langdetect runs at ~300 texts/s (too slow to cover a corpus) and is randomised by
default; py3langid (a numpy naive Bayes that ships its model) runs at thousands of texts/s and, on the
chatterbot-corpus (28 languages, held-out half), labels more texts correctly than langdetect (bench/langid.py).
So py3langid gives the label; when its normalised probability is under FAST_ACCEPT and the text is long
enough to matter, langdetect (seeded, order-independent) is asked too and the confidence becomes the mean
of both detectors' probabilities for that label: agreement keeps it high, disagreement pulls it below the
presence threshold. Both are deterministic: same text, same answer, in any order.

A label is a *guess*; a language counts as present only when `is_present` holds (at least MIN_CHARS
characters once URLs and @handles are removed, and confidence >= MIN_CONFIDENCE). Short tweets in
English would otherwise come out as af/cy/et and be flagged as low-resource languages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

UNDETERMINED = "und"
FAST_ACCEPT = 0.9  # py3langid probability at which langdetect is not consulted (tuned on chatterbot's other half)
MIN_CHARS = 25  # below this neither detector is reliable (langdetect: ~95% accurate above 25 chars)
MIN_CONFIDENCE = 0.8
_NOISE = re.compile(r"https?://\S+|www\.\S+|<[A-Z_]+>")  # URLs and PII placeholders (<HANDLE>, <URL>)
_TAG = re.compile(r"[@#](\w)")
_HANDLE = re.compile(r"[@#]\w+")


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    lang: str  # ISO 639 code, "und" when there is nothing to go on
    confidence: float  # 0..1
    method: str  # "py3langid" | "py3langid+langdetect" | "none"
    chars: int  # characters of language the guess rests on (URLs, @handles and #hashtags not counted)

    @property
    def present(self) -> bool:
        """Whether this text counts as being in `lang` (defaults; see `is_present`)."""
        return is_present(self)


def is_present(guess: LanguageGuess, min_chars: int = MIN_CHARS, min_confidence: float = MIN_CONFIDENCE) -> bool:
    return guess.lang != UNDETERMINED and guess.chars >= min_chars and guess.confidence >= min_confidence


def clean_for_langid(text: str) -> str:
    """The text the detectors see: URLs and PII placeholders removed, @/# dropped from handles and hashtags
    (their words help: on 3,000 real airline tweets py3langid says "en" for 99.9% this way, 99.3% with the
    handles removed)."""
    return " ".join(_TAG.sub(r"\1", _NOISE.sub(" ", text)).split())


def language_chars(text: str) -> int:
    """Characters of language in a text: without URLs, placeholders, @handles and #hashtags."""
    return len(" ".join(_HANDLE.sub(" ", _NOISE.sub(" ", text)).split()))


@lru_cache(maxsize=1)
def _fast():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@lru_cache(maxsize=1)
def _factory():
    from langdetect import detector_factory

    detector_factory.DetectorFactory.seed = 0
    detector_factory.init_factory()
    return detector_factory._factory


def langdetect_probabilities(text: str) -> dict[str, float]:
    """langdetect's probabilities by language (zh-cn/zh-tw folded into zh); {} when it finds nothing."""
    if not any(ch.isalpha() for ch in text):
        return {}
    from langdetect.lang_detect_exception import LangDetectException

    detector = _factory().create()
    detector.seed = 0  # per-detector seed: independent of call order
    detector.append(text)
    try:
        langs = detector.get_probabilities()
    except LangDetectException:
        return {}
    out: dict[str, float] = {}
    for x in langs:
        code = x.lang.split("-")[0]
        out[code] = out.get(code, 0.0) + float(x.prob)
    return out


def py3langid_language(text: str) -> tuple[str, float]:
    """py3langid's best language and its probability, alone (the fast half of `identify`)."""
    lang, p = _fast().classify(text)
    return lang, float(p)


def langdetect_language(text: str) -> tuple[str, float]:
    """langdetect alone (the detector before py3langid; kept for comparison in bench/langid.py)."""
    probs = langdetect_probabilities(text)
    if not probs:
        return UNDETERMINED, 0.0
    lang = max(probs, key=lambda k: (probs[k], k))
    return lang, probs[lang]


def identify(text: str, fast_accept: float = FAST_ACCEPT, min_chars: int = MIN_CHARS) -> LanguageGuess:
    """The language of one text: py3langid, checked by langdetect when unsure and long enough."""
    clean = clean_for_langid(text)
    chars = language_chars(text)
    if not any(ch.isalpha() for ch in clean):
        return LanguageGuess(UNDETERMINED, 0.0, "none", chars)
    lang, p = _fast().classify(clean)
    p = float(p)
    if lang == "zxx":  # py3langid's "no linguistic content"
        return LanguageGuess(UNDETERMINED, 0.0, "py3langid", chars)
    if p >= fast_accept or chars < min_chars:
        return LanguageGuess(lang, p, "py3langid", chars)
    second = langdetect_probabilities(clean).get(lang, 0.0)
    return LanguageGuess(lang, (p + second) / 2, "py3langid+langdetect", chars)


def identify_many(texts: Iterable[str], fast_accept: float = FAST_ACCEPT,
                  min_chars: int = MIN_CHARS) -> list[LanguageGuess]:
    return [identify(t, fast_accept, min_chars) for t in texts]


def detect_language(text: str) -> tuple[str, float]:
    """(ISO code, confidence). Texts with no letters give ("und", 0.0). Same text, same answer."""
    g = identify(text)
    return g.lang, g.confidence
