"""gaussian: ML mean/variance; "real" = draws from N(0, 1). Its variance collapse has a closed form."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from semisynth.collapse.experiments.families.protocol import SimulatedRealPool, fit_id, synthetic_record
from semisynth.hashing import content_hash, seed_from
from semisynth.records import Lineage, Origin, Record


@dataclass
class GaussianModel:
    model_id: str
    mean: float
    var: float

    def sample(self, n: int, seed: int) -> list[Record]:
        x = np.random.default_rng(seed).normal(self.mean, math.sqrt(self.var), size=n)
        return [synthetic_record(repr(float(v)), self.model_id, "gaussian", i, seed) for i, v in enumerate(x)]

    def evaluate(self, heldout: Sequence[Record]) -> dict[str, float]:
        x = np.array([float(r.content) for r in heldout])
        var = max(self.var, 1e-300)
        nll = 0.5 * math.log(2 * math.pi * var) + float(np.mean((x - self.mean) ** 2)) / (2 * var)
        return {"variance": self.var, "mean_shift_sq": self.mean**2, "heldout_nll": nll}


class GaussianFamily(SimulatedRealPool):
    """Records hold a float as text (repr round-trips exactly); the fit is the MLE (biased variance)."""

    name = "gaussian"
    is_text = False

    def __init__(self, pool_size: int = 20000, heldout_size: int = 1000):
        self.pool_size, self.heldout_size = pool_size, heldout_size

    def _make_pool(self) -> tuple[list[Record], list[Record]]:
        x = np.random.default_rng(seed_from("gaussian-real")).standard_normal(self.pool_size + self.heldout_size)
        recs = [Record(id=content_hash(["real", "gaussian", i]), origin=Origin.REAL, text=repr(float(v)),
                       lineage=Lineage(source=f"gaussian-N(0,1):draw{i}")) for i, v in enumerate(x)]
        return recs[: self.pool_size], recs[self.pool_size:]

    def fit(self, records: Sequence[Record], seed: int, workdir: Path | None = None) -> GaussianModel:
        x = np.array([float(r.content) for r in records])
        return GaussianModel(fit_id(self.name, records, 0), float(x.mean()), float(x.var()))

