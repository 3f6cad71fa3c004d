"""Text-generation backends behind one small protocol.

Shared by every stage (generation, collapse experiments, preference candidates), so it lives in
the core. Implementations: vLLM in-process (default), an OpenAI-compatible HTTP client, and
transformers for machines without vLLM. Heavy imports happen inside the implementation that needs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

ChatTurn = dict[str, str]  # {"role": ..., "content": ...}


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """Explicit sampling: every field lands in record lineage."""

    max_tokens: int = 128
    temperature: float = 0.8
    top_p: float = 0.95
    seed: int | None = None  # per-request seed: the same request gives the same text
    stop: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"max_tokens": self.max_tokens, "temperature": self.temperature, "top_p": self.top_p,
                "seed": self.seed, "stop": list(self.stop)}


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


@runtime_checkable
class Backend(Protocol):
    """generate(requests) -> one Completion per request, same order. Never drops a request:
    a failed one comes back with finish_reason="error" and the reason, so callers can ledger it."""

    @property
    def model_name(self) -> str: ...

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]: ...

    def close(self) -> None: ...
