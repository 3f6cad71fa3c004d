"""Text-generation backends behind one small protocol.

Shared by every stage (generation, collapse experiments, preference candidates), so it lives in
the core. Implementations: vLLM in-process (default), an OpenAI-compatible HTTP client, and
transformers for machines without vLLM. Heavy imports happen inside the implementation that needs them.

Rooms: `protocol` (the protocol, request/completion types, shared helpers), `specs` (one config model
per kind), `device` (device detection and the engine arguments each device gets), one module per
implementation, and `factory` (spec -> live backend, what a manifest records).
"""

from semisynth.backends.device import (
    CPU_ENGINE_DEFAULTS,
    GPU_ENGINE_DEFAULTS,
    Device,
    cuda_visible,
    detect_device,
    resolve_engine_args,
    spec_device,
    vllm_build,
)
from semisynth.backends.factory import describe_engine, open_backend
from semisynth.backends.http_backend import OpenAIHTTPBackend
from semisynth.backends.protocol import (
    Backend,
    ChatTurn,
    Completion,
    GenerationRequest,
    SamplingParams,
    apply_stop,
    continues_answer,
    error_completion,
    one_per_request,
    render_with,
    resolve_model_dir,
)
from semisynth.backends.specs import BackendSpec, HTTPSpec, TransformersSpec, VLLMSpec, backend_spec
from semisynth.backends.transformers_backend import TransformersBackend
from semisynth.backends.vllm_backend import VLLMBackend

__all__ = [
    "CPU_ENGINE_DEFAULTS", "GPU_ENGINE_DEFAULTS", "Backend", "BackendSpec", "ChatTurn", "Completion", "Device",
    "GenerationRequest", "HTTPSpec", "OpenAIHTTPBackend", "SamplingParams", "TransformersBackend", "TransformersSpec",
    "VLLMBackend", "VLLMSpec", "apply_stop", "backend_spec", "continues_answer", "cuda_visible", "describe_engine",
    "detect_device", "error_completion", "one_per_request", "open_backend", "render_with", "resolve_engine_args",
    "resolve_model_dir", "spec_device", "vllm_build",
]
