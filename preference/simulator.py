"""SIMULATED raters, for tests and demos only: not a source of training labels.

Each simulated rater is a real Argilla user who reads their own pending queue through the API and
submits answers; with probability `noise` the answer is a random wrong one. Because the truth is
known, agreement math, gold scoring and escalation can be checked end to end.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from semisynth.preference.client import Connection
from semisynth.preference.curation import IRREGULARITIES, REVIEW_DECISIONS, Item, pull


def answer_space(it: Item, labels: list[str] | None = None) -> list[Any]:
    if it.kind == "preference":
        return [f"best:{n}" for n in it.response_names] + ["tie", "both_bad"]
    if it.kind == "review":
        return list(REVIEW_DECISIONS)
    return list(labels or [])


def to_values(it: Item, answer: Any, confidence: int, rng: random.Random) -> dict[str, Any]:
    """A category (the judgment) back to the response values a rater would submit in the UI."""
    if it.kind == "preference":
        vals: dict[str, Any] = {"confidence": confidence, "rationale": "simulated rater"}
        if answer in ("tie", "both_bad"):
            vals["verdict"] = answer
        else:
            best = str(answer).split(":", 1)[1]
            rest = [n for n in it.response_names if n != best]
            rng.shuffle(rest)
            vals["verdict"] = "ranked"
            vals["ranking"] = [{"value": n, "rank": i + 1} for i, n in enumerate([best, *rest])]
        return vals
    if it.kind == "moderation":
        return {"labels": sorted(answer), "confidence": confidence}
    return {"decision": answer, "irregularities_preserved": rng.choice(IRREGULARITIES), "confidence": confidence,
            "edited": "fixed text" if answer == "edit" else None}


@dataclass
class SimulatedRater:
    name: str
    noise: float = 0.1  # probability of a wrong answer
    confidence: int = 4  # confidence given on correct answers (wrong ones get 2)


class RaterSimulator:
    """Drives several simulated raters through their real queues (SIMULATION, see module docstring)."""

    def __init__(self, conn: Connection, dataset: str, raters: list[SimulatedRater], truth: Mapping[str, Any],
                 labels: list[str] | None = None, seed: int = 0):
        self.conn, self.dataset, self.raters, self.truth = conn, dataset, raters, truth
        self.labels, self.rng = labels, random.Random(seed)
        self.keys = conn.ensure_users([r.name for r in raters])

    def _answer(self, it: Item, r: SimulatedRater) -> tuple[Any, bool]:
        true = it.gold if it.gold is not None else self.truth[it.id]
        if self.rng.random() >= r.noise:
            return true, True
        if it.kind == "moderation":  # flip one label in or out
            lab = self.rng.choice(self.labels or ["safe"])
            s = set(true)
            s.symmetric_difference_update({lab})
            return sorted(s), False
        wrong = [a for a in answer_space(it) if a != true]
        return self.rng.choice(wrong), False

    def run(self, max_per_rater: int | None = None) -> dict[str, int]:
        """Each rater answers their pending queue; returns submissions per rater."""
        pulled = pull(self.conn, self.dataset)
        done: dict[str, int] = {}
        for r in self.raters:
            ds_id = pulled.datasets.get(r.name)  # the rater's own copy: their queue and nothing else
            queue = self.conn.annotator_queue(ds_id, self.keys[r.name], "pending") if ds_id else []
            n = 0
            for rec in queue[:max_per_rater]:
                it = pulled.items[rec["external_id"]]
                answer, correct = self._answer(it, r)
                vals = to_values(it, answer, r.confidence if correct else 2, self.rng)
                self.conn.submit(rec["id"], self.keys[r.name], vals)
                n += 1
            done[r.name] = n
        return done
