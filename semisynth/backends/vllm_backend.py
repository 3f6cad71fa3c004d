"""vLLM in-process: the default backend. `vllm` is imported only when an engine starts."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from semisynth.backends.device import detect_device, resolve_engine_args
from semisynth.backends.protocol import (
    Completion,
    GenerationRequest,
    SamplingParams,
    error_completion,
    one_per_request,
    render_with,
    resolve_model_dir,
)
from semisynth.backends.specs import VLLMSpec

log = logging.getLogger(__name__)


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
        # no "Loading safetensors" bar of vLLM's own: the commands show one progress line (or none with --quiet)
        self.llm = LLM(model=str(self._model_dir), **{"use_tqdm_on_load": False, **self.engine_args})
        # None on a GPU means the model's own context: read what the engine settled on.
        self.max_model_len = int(self.llm.llm_engine.vllm_config.model_config.max_model_len)
        self.start_seconds = time.perf_counter() - t0
        self.tokenizer = self.llm.get_tokenizer()
        self.prefix_caching = bool(self.llm.llm_engine.vllm_config.cache_config.enable_prefix_caching)
        self._in_session = False  # inside cache_session(): generate() keeps the cache between calls
        self.cached_prompt_tokens = 0  # prompt tokens served from the prefix cache (benchmarks report it)

    @property
    def model_name(self) -> str:
        return self._name

    def render(self, request: GenerationRequest) -> str:
        """The exact prompt string handed to vLLM (chat template applied), for benchmarks and debugging."""
        return render_with(self.tokenizer, request)

    @staticmethod
    def sampling_params(p: SamplingParams) -> Any:
        from vllm import SamplingParams as VSamplingParams

        return VSamplingParams(
            max_tokens=p.max_tokens, temperature=p.temperature, top_p=p.top_p, seed=p.seed, stop=list(p.stop) or None,
            bad_words=list(p.avoid) or None,
        )

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` alone (no special tokens): what length-aware max_tokens is measured in."""
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    @contextmanager
    def cache_session(self) -> Iterator[None]:
        """Several `generate` calls that share one prefix cache, emptied once on entry: the later rounds of a
        batch (redraws of the same prompts, a conversation's next turn after its earlier ones) reuse the
        blocks the first round computed. The calls' outputs still depend on the session's requests alone."""
        if self.prefix_caching:
            self.llm.reset_prefix_cache()
        self._in_session = True
        try:
            yield
        finally:
            self._in_session = False

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
            if self.prefix_caching and not self._in_session:
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
        return one_per_request(results)

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

