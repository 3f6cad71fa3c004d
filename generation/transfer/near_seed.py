"""Is a transferred text its seed again? For a short seed, putting back its own handles, casing and "!!" can
rebuild it byte for byte: the output checks passed the model's words, and the transfer undid the rewrite.

The same copy rules as the output checks (generation/checks.py: `copy_of_seed`, `near_copy_of_seed`) on the
same normalised text, as one pure function, so the stage can judge the final text and the transfer can step
back from a copy it made."""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from ..checks import CheckConfig

# the output checks' own defaults, so the two never disagree on what a copy is
_CHECKS = CheckConfig()
NEAR_COPY_SIMILARITY = _CHECKS.near_copy_similarity
VERBATIM_MIN_CHARS = _CHECKS.verbatim_min_chars
VERBATIM_MIN_SHARE = _CHECKS.verbatim_min_share

_WS = re.compile(r"\s+")


def _norm(s: str) -> str:
    return _WS.sub(" ", s.lower()).strip()


def rebuilds_seed(text: str, seed_text: str, similarity: float = NEAR_COPY_SIMILARITY,
                  verbatim_min_chars: int = VERBATIM_MIN_CHARS, verbatim_min_share: float = VERBATIM_MIN_SHARE,
                  ) -> str | None:
    """Why `text` reads as `seed_text` again (a detail for a reject), or None when it does not: the same text
    once lowercased and whitespace-collapsed, a SequenceMatcher ratio at or above `similarity`, or the seed
    verbatim making up at least `verbatim_min_share` of the text."""
    nt, ns = _norm(text), _norm(seed_text)
    if nt == ns:
        return "the seed itself"
    sim = SequenceMatcher(None, nt, ns, autojunk=False).ratio()
    if sim >= similarity:
        return f"similarity {sim:.3f} to the seed"
    if len(ns) >= verbatim_min_chars and ns in nt and len(ns) >= verbatim_min_share * len(nt):
        return f"contains the seed verbatim ({len(ns) / len(nt):.0%} of the text)"
    return None
