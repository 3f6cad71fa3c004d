"""Shared small experiments: one n-gram run over all three modes, reused by several tests."""

from __future__ import annotations

import pytest

from semisynth.collapse.experiments.chains import run_experiment
from semisynth.collapse.experiments.config import ExperimentConfig


@pytest.fixture(scope="session")
def ngram_run(tmp_path_factory):
    cfg = ExperimentConfig(out=str(tmp_path_factory.mktemp("ngram") / "run"), family="ngram",
                           mode=["replace", "accumulate", "mix"], real_fraction=[0.2], generations=3,
                           seeds=[0, 1, 2], sample_size=400, metric_sample=200, progress=False)
    return cfg, run_experiment(cfg)
