"""A real causal LM through the same loop: trained with transformers on CPU, sampled through vLLM."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from semisynth.collapse.experiments.chains import run_experiment
from semisynth.collapse.experiments.config import ExperimentConfig


@pytest.mark.slow
def test_tiny_lm_two_generations_train_sample_and_score(tmp_path):
    cfg = ExperimentConfig(out=str(tmp_path / "lm"), family="tiny_lm", mode="replace", generations=1, seeds=[0],
                           sample_size=48, heldout_size=40, metric_sample=30, lm_epochs=1, lm_max_new_tokens=24,
                           progress=False)
    res = run_experiment(cfg)
    ppl = [r["value"] for r in sorted(res.rows, key=lambda r: r["generation"]) if r["metric"] == "heldout_ppl"]
    assert len(ppl) == 2 and all(math.isfinite(p) and p > 1 for p in ppl)
    gen1 = Path(cfg.out) / "runs" / "replace" / "seed0" / "gen001"
    samples = [json.loads(line) for line in (gen1 / "samples.jsonl").open()]
    assert len(samples) == 48 and all(s["origin"] == "synthetic" and s["text"] for s in samples)
    assert samples[0]["lineage"]["sampling"]["backend"] == "vllm"
    assert (gen1 / "model" / "TRAINED").exists()
    # resuming reuses the trained generations
    again = run_experiment(cfg)
    assert again.timings == [] and again.rows == res.rows
