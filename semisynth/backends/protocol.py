"""The backend protocol every stage codes against, the request and completion types it carries, and the
helpers the implementations share (rendering a chat, cutting at stop strings, one completion per request)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from semisynth.errors import UserError

ChatTurn = dict[str, str]  # {"role": ..., "content": ...}


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """Explicit sampling: every field lands in record lineage."""

    max_tokens: int = 128
    temperature: float = 0.8
    top_p: float = 0.95
    seed: int | None = None  # per-request seed: the same request gives the same text
    stop: tuple[str, ...] = ()
    # phrases the answer may not contain: decoding forbids the token that would complete one (vLLM's
    # `bad_words`); how a paraphrase is kept from copying its seed's wording (generation: avoid_seed_ngrams)
    avoid: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        d = {"max_tokens": self.max_tokens, "temperature": self.temperature, "top_p": self.top_p,
             "seed": self.seed, "stop": list(self.stop)}
        if self.avoid:
            d["avoid"] = list(self.avoid)
        return d


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    finish_reason: Literal["stop", "length", "error"]
    prompt_tokens: int
    completion_tokens: int
    error: str | None = None  # set when the backend gave up on this request (finish_reason="error")


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """A chat prompt (list of turns) or a raw text prompt, with its sampling params."""

    params: SamplingParams
    messages: tuple[ChatTurn, ...] | None = None
    prompt: str | None = None
    meta: dict = field(default_factory=dict, compare=False)


def one_per_request(results: list[Completion | None]) -> list[Completion]:
    """The protocol's promise: one completion per request, in order; a gap is a bug, never a silent drop."""
    missing = [i for i, r in enumerate(results) if r is None]
    if missing:
        raise RuntimeError(f"backend left requests {missing[:5]} without a completion")
    return results  # type: ignore[return-value]


@runtime_checkable
class Backend(Protocol):
    """generate(requests) -> one Completion per request, same order. Never drops a request:
    a failed one comes back with finish_reason="error" and the reason, so callers can ledger it."""

    @property
    def model_name(self) -> str: ...

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]: ...

    def close(self) -> None: ...


# -- helpers every implementation shares --------------------------------------------------------------
def error_completion(reason: str, prompt_tokens: int = 0) -> Completion:
    """A request the backend gave up on: kept in place (never dropped) so the caller can ledger it."""
    return Completion(text="", finish_reason="error", prompt_tokens=prompt_tokens, completion_tokens=0, error=reason)


def resolve_model_dir(model: str | os.PathLike) -> Path:
    """A Hugging Face folder (has config.json), or a packaged model name converted on first use."""
    p = Path(model).expanduser()
    if (p / "config.json").is_file():
        return p
    from semisynth.models import PACKAGED_MODELS, prepare_packaged_model

    if str(model) in PACKAGED_MODELS:
        return prepare_packaged_model(str(model))
    raise UserError(
        f"model path {model}",
        "not found / not a Hugging Face model folder (no config.json)",
        "run `semisynth model prepare` or `semisynth model tiny DIR`, or give a folder with config.json",
    )


def continues_answer(request: GenerationRequest) -> bool:
    """A chat request ending in an assistant turn: the model continues that turn (an answer prefill)."""
    return bool(request.messages) and request.messages[-1].get("role") == "assistant"


def render_with(tokenizer: Any, request: GenerationRequest) -> str:
    """The prompt string a local engine is given: the chat template applied, or the raw prompt."""
    if request.messages is not None:
        prefill = continues_answer(request)
        return tokenizer.apply_chat_template(
            [dict(m) for m in request.messages], add_generation_prompt=not prefill,
            continue_final_message=prefill, tokenize=False
        )
    if request.prompt is not None:
        return request.prompt
    raise ValueError("request has neither messages nor prompt")


def avoided_token_ids(tokenizer: Any, phrases: Sequence[str]) -> list[list[int]]:
    """Each avoided phrase as token ids, read as vLLM reads `bad_words` (its SamplingParams.update_from_tokenizer):
    the phrase as written, plus with a leading space when that starts with another token and is as long."""
    out: list[list[int]] = []
    for phrase in phrases:
        bare = tokenizer.encode(phrase.lstrip(), add_special_tokens=False)
        spaced = tokenizer.encode(" " + phrase.lstrip(), add_special_tokens=False)
        out += [bare] if bare else []
        if bare and spaced and spaced[0] != bare[0] and len(spaced) == len(bare):
            out.append(spaced)
    return out


def forbidden_next(avoided: Sequence[Sequence[int]], past: Sequence[int]) -> set[int]:
    """Tokens that would complete an avoided phrase after the generated tokens `past`."""
    out = set()
    for ids in avoided:
        k = len(ids) - 1
        if k <= len(past) and list(past[len(past) - k:]) == list(ids[:k]):
            out.add(ids[-1])
    return out


def apply_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut at the earliest stop string (excluded, as vLLM and OpenAI do)."""
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)
