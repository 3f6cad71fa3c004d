"""From a spec to a live backend, and what a run manifest records about it."""

from __future__ import annotations

from typing import Any

from semisynth.backends import device as devices
from semisynth.backends.http_backend import OpenAIHTTPBackend
from semisynth.backends.protocol import Backend
from semisynth.backends.specs import HTTPSpec, TransformersSpec, VLLMSpec
from semisynth.backends.transformers_backend import TransformersBackend
from semisynth.backends.vllm_backend import VLLMBackend


def describe_engine(spec: VLLMSpec | HTTPSpec | TransformersSpec) -> dict[str, Any]:
    """What a run manifest records about the engine: the device it runs on (resolved), and for vLLM the
    resolved engine arguments."""
    if isinstance(spec, VLLMSpec):
        device = devices.detect_device(spec.device)
        return {"kind": "vllm", "device": device, "vllm_build": devices.vllm_build(),
                "engine_args": devices.resolve_engine_args(spec, device)}
    if isinstance(spec, TransformersSpec):
        return {**spec.model_dump(mode="json", exclude={"model"}), "device": devices.spec_device(spec)}
    return spec.model_dump(mode="json", exclude={"model"})


def open_backend(spec: VLLMSpec | HTTPSpec | TransformersSpec) -> Backend:
    """The one place that turns a config into a live backend (engines start here)."""
    if isinstance(spec, HTTPSpec):
        return OpenAIHTTPBackend(
            spec.base_url, spec.model, max_concurrency=spec.max_concurrency, timeout_s=spec.timeout_s,
            max_retries=spec.max_retries, backoff_s=spec.backoff_s,
        )
    if isinstance(spec, TransformersSpec):
        return TransformersBackend(spec.model, seed=spec.seed, batch_size=spec.batch_size, device=spec.device)
    return VLLMBackend(spec.model, spec=spec)
