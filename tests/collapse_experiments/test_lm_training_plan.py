"""How the causal LM families train per device: CPU as before (float32, one step per batch); GPU in bf16 with
gradient accumulation. The GPU plan is tested as the settings it produces; accumulation is run on CPU."""

from __future__ import annotations

import pytest

from semisynth.collapse.experiments.families.causal_lm import _encode, backward_batch, train_plan


def test_cpu_trains_as_before_and_gpu_in_bf16_with_accumulation():
    assert train_plan("cpu", 16) == {"device": "cpu", "bf16": False, "grad_accum_steps": 1, "micro_batch_size": 16}
    assert train_plan("cuda", 16) == {"device": "cuda", "bf16": True, "grad_accum_steps": 4, "micro_batch_size": 4}
    assert train_plan("cuda", 16, 2)["micro_batch_size"] == 8
    assert train_plan("cuda", 3, 8) == {"device": "cuda", "bf16": True, "grad_accum_steps": 3, "micro_batch_size": 1}


@pytest.mark.slow
def test_accumulated_micro_batches_give_the_whole_batch_gradient(tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tok.pad_token = tok.pad_token or tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    # uneven lengths: micro-batches hold different numbers of tokens, so a plain mean of means would be wrong
    texts = ["my flight was delayed", "lost bag", "the seat was broken and nobody came to help at all",
             "refund please", "why was my booking cancelled twice", "ok", "gate changed again", "thanks a lot"]

    def grads(micro: int) -> list:
        model.zero_grad()
        parts = [_encode(tok, texts[k: k + micro], 32) for k in range(0, len(texts), micro)]
        backward_batch(model, parts, "cpu", bf16=False)
        return [p.grad.clone() for p in model.parameters() if p.grad is not None]

    whole, accumulated = grads(8), grads(3)
    assert len(whole) == len(accumulated) > 0
    for a, b in zip(whole, accumulated, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
