"""The stage's vocabulary: the kinds of irregularity it transfers, which generators get it, and the text
patterns more than one room reads."""

from __future__ import annotations

import re

KINDS = ("handle", "hashtag", "url", "slang", "lowercase_i", "missing_apostrophe", "lowercase_sentence_start",
         "allcaps", "elongation", "typo", "repeated_punct", "emoticon", "emoji")
ENGLISH_ONLY = frozenset({"slang", "lowercase_i", "missing_apostrophe", "typo"})
# Generators that get the stage by default; the clean paraphrase never does.
TRANSFER_GENERATORS = ("paraphrase:keep_irregularities", "seeded_synthetic", "pure_synthetic")

INNER_CAP = re.compile(r"\b[A-Za-z]+[A-Z][A-Za-z]*\b")  # PHL, iPhone, McDonald, LUV
CONTRACTION = re.compile(r"(?<![\w@#])([A-Za-z]+)(['’])([A-Za-z]+)(?![\w'’])")
LEAD = re.compile(r"^(?:\s*(?:@\w+|<HANDLE>)[ \t]*)+")
VOWELS = "aeiou"
