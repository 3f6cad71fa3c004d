"""What the experiment loop knows about a family: fit records into a model, sample records, score held-out data."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from semisynth.hashing import content_hash
from semisynth.records import Lineage, Origin, Record


class FittedModel(Protocol):
    model_id: str

    def sample(self, n: int, seed: int) -> list[Record]: ...

    def evaluate(self, heldout: Sequence[Record]) -> dict[str, float]: ...


class ModelFamily(Protocol):
    name: str
    is_text: bool

    def real_pool(self) -> tuple[list[Record], list[Record]]:
        """(training pool, held-out set) of real records; generation 0 and mix draw from the pool."""
        ...

    def fit(self, records: Sequence[Record], seed: int, workdir: Path | None = None) -> FittedModel: ...


def synthetic_record(text: str, model_id: str, family: str, index: int, seed: int,
                     sampling: dict[str, Any] | None = None) -> Record:
    """A model sample as a record. The id also hashes the model and the draw index: a model emitting the
    same text twice gives two records (every sample is accounted for), and reruns give the same ids."""
    return Record(
        id=content_hash([Origin.SYNTHETIC.value, text, model_id, index]),
        origin=Origin.SYNTHETIC,
        text=text,
        lineage=Lineage(generator=f"collapse/{family}", model=model_id, seed=seed, sampling=sampling or {}),
    )


def fit_id(family: str, records: Sequence[Record], seed: int, extra: Any = None) -> str:
    """A model's id: what it was fit on (sorted ids) and how: identical fits share an id."""
    return content_hash([family, sorted(r.id for r in records), seed, extra])



class SimulatedRealPool:
    """Toy families draw their "real" data once from the true distribution: (train pool, held-out)."""

    _pool: tuple[list[Record], list[Record]] | None = None

    def real_pool(self) -> tuple[list[Record], list[Record]]:
        if self._pool is None:
            self._pool = self._make_pool()
        return self._pool

    def _make_pool(self) -> tuple[list[Record], list[Record]]:
        raise NotImplementedError

