"""transformers `generate`, for machines without vLLM; each request samples from its own seeded generator."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Literal

from semisynth.backends.device import detect_device
from semisynth.backends.protocol import (
    Completion,
    GenerationRequest,
    SamplingParams,
    apply_stop,
    avoided_token_ids,
    error_completion,
    forbidden_next,
    one_per_request,
    render_with,
    resolve_model_dir,
)


class _PerRowSampler:
    """A logits processor that samples each row with its own torch.Generator and forces that token.

    Combined with greedy decoding in `generate`, a request's text depends only on its own seed,
    not on the batch it happened to share (HF's sampler draws from one global RNG for the batch).
    """

    def __init__(self, params: Sequence[SamplingParams], seeds: Sequence[int],
                 avoided: Sequence[list[list[int]]] | None = None):
        import torch

        self.params = list(params)
        self.gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
        self.avoided = list(avoided) if avoided is not None else [[] for _ in self.params]
        self.start: int | None = None  # the prompt width: what follows it is the answer so far

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        if self.start is None:
            self.start = input_ids.shape[1]
        chosen = torch.empty(scores.shape[0], dtype=torch.long)
        for i, p in enumerate(self.params):
            logits = scores[i].float()
            if self.avoided[i]:  # SamplingParams.avoid, as vLLM's bad_words: no token completes a phrase
                blocked = forbidden_next(self.avoided[i], input_ids[i, self.start:].tolist())
                if blocked:
                    logits = logits.clone()
                    logits[sorted(blocked)] = float("-inf")
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

    def __init__(self, model_dir: str | os.PathLike, *, seed: int = 0, batch_size: int = 16,
                 device: Literal["auto", "cpu", "cuda"] = "cpu"):
        self._model_dir = resolve_model_dir(model_dir)  # a bad path fails before the slow import
        self.device = detect_device(device, engine="transformers")  # an impossible device: before it too
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self._name = str(model_dir)
        self.seed = seed
        self.batch_size = max(1, int(batch_size))
        self.tokenizer = AutoTokenizer.from_pretrained(self._model_dir)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(self._model_dir, dtype=torch.float32).to(self.device).eval()
        gen_eos = self.model.generation_config.eos_token_id
        eos = gen_eos if gen_eos is not None else self.tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos])
        self.max_len = int(getattr(self.model.config, "max_position_embeddings", 2048) or 2048)

    @property
    def model_name(self) -> str:
        return self._name

    def render(self, request: GenerationRequest) -> str:
        return render_with(self.tokenizer, request)

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
        return one_per_request(results)

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
                logits_processor=LogitsProcessorList([_PerRowSampler(
                    [r.params for r in reqs], seeds,
                    [avoided_token_ids(self.tokenizer, r.params.avoid) for r in reqs])]),
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
            text, hit = apply_stop(text, r.params.stop)
            if hit:
                reason = "stop"
                gen = self.tokenizer(text, add_special_tokens=False)["input_ids"]  # approximate count
            comps.append(Completion(text, reason, len(prompt_ids), len(gen)))
        return comps

    def close(self) -> None:
        import gc

        self.__dict__.pop("model", None)
        gc.collect()

