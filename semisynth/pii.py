"""PII masking for seeds, applied before any text reaches a prompt.

Placeholders keep the *shape* of the conversation ("mail me at <EMAIL>") so a paraphraser can
keep the register without ever seeing the value. Counts per kind go into the run manifest.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

# Order matters: URLs before e-mails/handles (a URL may contain '@'), cards before phones.
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("URL", re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)),
    ("EMAIL", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")),
    ("CARD", re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")),
    ("PHONE", re.compile(r"(?<![\w+])(?<!\d[\s.-])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?|\d{2,4}[\s.-])\d{3,4}[\s.-]?\d{3,4}(?![\w]|[\s.-]\d)")),
    ("HANDLE", re.compile(r"(?<![\w@])@[A-Za-z0-9_]{1,30}\b")),
]


# What the masker writes: a record may use these like the seeds do (any other <TOKEN> is the model's invention).
PLACEHOLDERS = frozenset(f"<{kind}>" for kind, _ in _PATTERNS)


def _luhn_ok(digits: str) -> bool:
    total, alt = 0, False
    for ch in reversed(digits):
        d = int(ch)
        if alt:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
        alt = not alt
    return total % 10 == 0


@dataclass(frozen=True, slots=True)
class MaskResult:
    text: str
    counts: dict[str, int]


def mask_pii(text: str, kinds: frozenset[str] | None = None) -> MaskResult:
    """Replace e-mails, phones, card numbers (Luhn-checked), URLs and @handles with <KIND> placeholders."""
    counts: Counter[str] = Counter()
    for kind, pattern in _PATTERNS:
        if kinds is not None and kind not in kinds:
            continue

        def repl(m: re.Match[str], kind: str = kind) -> str:
            if kind == "CARD" and not _luhn_ok(re.sub(r"\D", "", m.group(0))):
                return m.group(0)
            counts[kind] += 1
            return f"<{kind}>"

        text = pattern.sub(repl, text)
    return MaskResult(text, dict(counts))
