"""categorical: ML fit of category frequencies (Seddik et al. 2024); "real" = draws from a Zipf p0."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from semisynth.collapse.experiments.closed_forms import zipf_distribution
from semisynth.collapse.experiments.families.protocol import SimulatedRealPool, fit_id, synthetic_record
from semisynth.hashing import content_hash, seed_from
from semisynth.records import Lineage, Origin, Record


@dataclass
class CategoricalModel:
    model_id: str
    probs: np.ndarray
    p0: np.ndarray

    def sample(self, n: int, seed: int) -> list[Record]:
        draws = np.random.default_rng(seed).choice(len(self.probs), size=n, p=self.probs)
        return [synthetic_record(f"c{int(c)}", self.model_id, "categorical", i, seed) for i, c in enumerate(draws)]

    def evaluate(self, heldout: Sequence[Record]) -> dict[str, float]:
        tail = np.argsort(self.p0)[: len(self.p0) // 2]  # the rarer half of p0
        return {
            "sq_distance": float(np.sum((self.probs - self.p0) ** 2)),
            "support_size": float(np.count_nonzero(self.probs)),
            "tail_coverage": float(np.count_nonzero(self.probs[tail]) / len(tail)),
            "tail_mass": float(self.probs[tail].sum()),
        }



class CategoricalFamily(SimulatedRealPool):
    """Records are category labels "c<j>"; the fit is the empirical frequency (the MLE)."""

    name = "categorical"
    is_text = False

    def __init__(self, categories: int = 50, zipf_exponent: float = 1.1, pool_size: int = 20000,
                 heldout_size: int = 1000):
        self.p0 = zipf_distribution(categories, zipf_exponent)
        self.pool_size, self.heldout_size = pool_size, heldout_size

    def _make_pool(self) -> tuple[list[Record], list[Record]]:
        rng = np.random.default_rng(seed_from("categorical-real", len(self.p0)))
        draws = rng.choice(len(self.p0), size=self.pool_size + self.heldout_size, p=self.p0)
        recs = [Record(id=content_hash(["real", "categorical", i, int(c)]), origin=Origin.REAL, text=f"c{int(c)}",
                       lineage=Lineage(source=f"categorical-p0:draw{i}")) for i, c in enumerate(draws)]
        return recs[: self.pool_size], recs[self.pool_size:]

    def fit(self, records: Sequence[Record], seed: int, workdir: Path | None = None) -> CategoricalModel:
        counts = np.zeros(len(self.p0))
        for r in records:
            counts[int(r.content[1:])] += 1
        return CategoricalModel(fit_id(self.name, records, 0), counts / counts.sum(), self.p0)

