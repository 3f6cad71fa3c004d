"""The config seam: one spec per backend kind (a discriminated union on `kind`), so an option of another
kind is a config error, as everywhere else."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    field_validator,
    model_validator,
)

from semisynth.urls import url_problem


class _SpecBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(..., description="HF model folder, a packaged model name, or the served name (http)")


class VLLMSpec(_SpecBase):
    """vLLM in-process. Options left unset (null) take the device's default (resolve_engine_args)."""

    kind: Literal["vllm"] = "vllm"
    seed: int = Field(0, description="engine seed (requests carry their own seeds)")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto: cuda when a GPU is visible and the installed vLLM is not the CPU build, else cpu")
    max_model_len: int | None = Field(None, ge=16, description="context length (cpu: 512; cuda: the model's)")
    dtype: str | None = Field(None, description="weights dtype (cpu: bfloat16 where the CPU has AVX512-BF16/AMX, else float32; cuda: auto, the model's)")
    kv_cache_memory_bytes: int | None = Field(
        None, ge=1 << 20, description="KV cache size in bytes (cpu: 2 GiB; cuda: from gpu_memory_utilization)")
    gpu_memory_utilization: float | None = Field(None, gt=0, le=1, description="cuda: share of GPU memory (0.9)")
    enforce_eager: bool | None = Field(None, description="no graph capture (cpu: true; cuda: false, CUDA graphs)")
    enable_chunked_prefill: bool | None = Field(
        None, description="cpu: false (per-request seeds crash it); cuda: vLLM's default")
    enable_prefix_caching: bool | None = Field(None, description="cpu: vLLM's default; cuda: true")
    engine_kwargs: dict[str, Any] = Field(default_factory=dict, description="extra vllm.LLM arguments, applied last")

    @model_validator(mode="after")
    def _consistent(self) -> VLLMSpec:
        twice = sorted(k for k in self.engine_kwargs
                       if (k in type(self).model_fields and k in self.model_fields_set) or k in ("model", "seed", "device"))
        if twice:
            raise ValueError(f"{', '.join(twice)} given both as a backend field and in engine_kwargs; keep the field")
        if self.device == "cpu" and self.gpu_memory_utilization is not None:
            raise ValueError("gpu_memory_utilization applies to device cuda, not cpu; remove it or set device: auto")
        return self


class HTTPSpec(_SpecBase):
    """Any OpenAI-compatible server. The server owns the engine, so no engine options here."""

    kind: Literal["http"] = "http"
    base_url: str = Field(..., description="server URL, e.g. http://127.0.0.1:8000")
    max_concurrency: int = Field(8, ge=1, description="requests in flight")
    timeout_s: float = Field(60, gt=0, description="per-request timeout")
    max_retries: int = Field(4, ge=0, description="retries on connect errors, 5xx, 429")
    backoff_s: float = Field(0.5, ge=0, description="first backoff, doubled each retry (+ jitter)")

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, v: str) -> str:
        problem = url_problem(v)  # else "unreachable" after every retry, naming a malformed URL as a dead server
        if problem:
            from semisynth.config import ConfigRefusal  # (config imports this package)

            raise ConfigRefusal(f"{v!r:.80} {problem}", "give the server's URL, e.g. http://127.0.0.1:8000/v1")
        return v


class TransformersSpec(_SpecBase):
    """transformers generate, for machines without vLLM."""

    kind: Literal["transformers"] = "transformers"
    seed: int = Field(0, description="engine seed (requests carry their own seeds)")
    batch_size: int = Field(16, ge=1, description="prompts per generate call")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "cpu", description="auto: cuda when torch sees a GPU, else cpu; an impossible cuda fails before loading")


_SPECS: dict[str, type[_SpecBase]] = {"vllm": VLLMSpec, "http": HTTPSpec, "transformers": TransformersSpec}


def _spec_tag(value: Any) -> str | None:
    """The union member for a raw mapping or a built spec; kind defaults to vllm, as it always has."""
    kind = value.get("kind", "vllm") if isinstance(value, dict) else getattr(value, "kind", None)
    cls = _SPECS.get(kind) if isinstance(kind, str) else None
    return cls.__name__ if cls is not None else None


# What configs embed to pick a backend: one model per kind, so an option of another kind is an error.
# Tags are the class names: config.py's error rendering drops them from field paths.
BackendSpec = Annotated[
    Annotated[VLLMSpec, Tag("VLLMSpec")] | Annotated[HTTPSpec, Tag("HTTPSpec")]
    | Annotated[TransformersSpec, Tag("TransformersSpec")],
    Discriminator(_spec_tag, custom_error_type="invalid_backend_kind",
                  custom_error_message="kind must be one of: vllm, http, transformers",
                  custom_error_context={"expected": "vllm, http, transformers"}),
]
_SPEC_ADAPTER: TypeAdapter[Any] = TypeAdapter(BackendSpec)


def backend_spec(**fields: Any) -> VLLMSpec | HTTPSpec | TransformersSpec:
    """Build the spec for `kind` (vllm when absent) from keyword fields, validated like a config."""
    return _SPEC_ADAPTER.validate_python(fields)

