"""Is a transferred text its seed again? For a short seed, putting back its own handles, casing and "!!" can
rebuild it byte for byte: the output checks passed the model's words, and the transfer undid the rewrite.

The same copy rules as the output checks (generation/checks.py: `copy_of_seed`, `near_copy_of_seed`) on the
same normalised text, as one pure function, so the stage can judge the final text and the transfer can step
back from a copy it made."""

from __future__ import annotations

from ..checks import CheckConfig, seed_copy

# the output checks' own defaults, so the two never disagree on what a copy is
_CHECKS = CheckConfig()
NEAR_COPY_SIMILARITY = _CHECKS.near_copy_similarity
VERBATIM_MIN_CHARS = _CHECKS.verbatim_min_chars
VERBATIM_MIN_SHARE = _CHECKS.verbatim_min_share


def rebuilds_seed(text: str, seed_text: str, similarity: float = NEAR_COPY_SIMILARITY,
                  verbatim_min_chars: int = VERBATIM_MIN_CHARS, verbatim_min_share: float = VERBATIM_MIN_SHARE,
                  ) -> str | None:
    """Why `text` reads as `seed_text` again (a detail for a reject), or None when it does not: the output
    checks' copy rules (generation.checks.seed_copy) at these thresholds."""
    copied = seed_copy(text, seed_text, similarity, verbatim_min_chars, verbatim_min_share)
    if copied is None:
        return None
    return copied[1] or "the seed itself"
