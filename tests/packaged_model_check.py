"""The one question a converted packaged model must answer: a correct conversion (weights, rope layout, tokenizer,
chat template, the join of a split GGUF) says "Paris"; a broken one babbles."""

from __future__ import annotations

from pathlib import Path


def assert_vllm_answers_sensibly(model_dir: Path, max_tokens: int) -> None:
    from semisynth.backends import GenerationRequest, SamplingParams, VLLMBackend

    # float32, the numerics the conversion is checked in: in bfloat16 (the CPU default where the CPU has it) the
    # greedy answer to this one question tips to another first token for SmolLM2 (9 of 10 such questions agree)
    backend = VLLMBackend(model_dir, dtype="float32")
    try:
        greedy = SamplingParams(max_tokens=max_tokens, temperature=0.0, seed=0)
        out = backend.generate([
            GenerationRequest(greedy, messages=({"role": "user", "content": "What is the capital of France?"},)),
            GenerationRequest(SamplingParams(max_tokens=5, seed=1), prompt="The weather today is"),
        ])
    finally:
        backend.close()
    assert "Paris" in out[0].text, out[0]
    assert out[1].finish_reason == "length" and out[1].completion_tokens == 5
