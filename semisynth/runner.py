"""Runners: drive a stage over shards of work items, resumably. Stages never know how they are run.

A stage is a plain callable `stage(items) -> ShardResult`. The local runner cuts the items into
fixed shards (same config, same shards) and, per shard: skips it when its completion marker
exists, else runs the stage and writes records/ and rejects/ atomically, then the marker. kill -9
at any point loses at most the shard in flight, which the rerun redoes identically.
A Ray runner can drop in with the same `run(items, stage)` signature (shards as Ray tasks).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from semisynth.atomic import write_json, write_jsonl
from semisynth.errors import UserError
from semisynth.hashing import content_hash
from semisynth.records import Record, Reject

T = TypeVar("T")


@dataclass
class ShardResult:
    records: list[Record]
    rejects: list[Reject]
    stats: dict[str, int] = field(default_factory=dict)  # prompt_tokens, completion_tokens, ...


Stage = Callable[[Sequence[Any]], ShardResult]


@dataclass
class RunProgress:
    shards_total: int
    shards_done: int = 0
    records: int = 0
    rejects: int = 0
    stats: dict[str, int] = field(default_factory=dict)
    stopped_reason: str | None = None  # "token_budget" when a budget stopped the run early
    wall_s: float = 0.0

    @property
    def complete(self) -> bool:
        return self.shards_done == self.shards_total


def _add(into: dict[str, int], stats: dict[str, int]) -> None:
    for k, v in stats.items():
        into[k] = into.get(k, 0) + int(v)


def shard_name(i: int) -> str:
    return f"shard-{i:05d}"


class LocalRunner(Generic[T]):
    """Sequential shards in this process (vLLM batches inside a shard use all cores already)."""

    def __init__(self, run_dir: str | Path, shard_size: int = 64, token_budget: int | None = None,
                 progress: bool | None = None, desc: str = "generate"):
        self.run_dir = Path(run_dir)
        self.shard_size = shard_size
        self.token_budget = token_budget
        self.progress = progress
        self.desc = desc

    def _shards(self, items: Sequence[T]) -> Iterator[tuple[int, Sequence[T]]]:
        for start in range(0, len(items), self.shard_size):
            yield start // self.shard_size, items[start:start + self.shard_size]

    def run(self, items: Sequence[T], stage: Stage, item_key: Callable[[T], str]) -> RunProgress:
        from tqdm import tqdm

        for sub in ("records", "rejects", "done"):
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True)
        total = (len(items) + self.shard_size - 1) // self.shard_size
        prog = RunProgress(shards_total=total)
        seen: set[str] = set()
        started = time.perf_counter()
        new_tokens = 0
        bar = tqdm(total=len(items), desc=self.desc, unit="task", disable=self.progress is False,
                   dynamic_ncols=True, leave=True)
        try:
            for idx, batch in self._shards(items):
                name = shard_name(idx)
                marker = self.run_dir / "done" / f"{name}.json"
                keys_hash = content_hash([item_key(x) for x in batch])
                if marker.exists():
                    done = json.loads(marker.read_text(encoding="utf-8"))
                    if done.get("tasks_hash") != keys_hash:
                        raise UserError(str(self.run_dir), f"{name} was made by a different config or input",
                                        "use a new --out directory, or rerun with the original config")
                    for row in _read_ids(self.run_dir / "records" / f"{name}.jsonl"):
                        seen.add(row)
                    _add(prog.stats, done.get("stats", {}))
                    prog.records += done["records"]
                    prog.rejects += done["rejects"]
                    prog.shards_done += 1
                    bar.update(len(batch))
                    continue
                used = prog.stats.get("prompt_tokens", 0) + prog.stats.get("completion_tokens", 0)
                if self.token_budget is not None and used >= self.token_budget:
                    prog.stopped_reason = "token_budget"
                    break
                result = stage(batch)
                records, rejects = [], list(result.rejects)
                for rec in result.records:  # exact duplicates across shards: the first one wins
                    if rec.id in seen:
                        rejects.append(Reject(rec.id, rec.parents, "duplicate", detail="same text as an earlier record",
                                              text=rec.content, task_id=rec.lineage.task_id))
                    else:
                        seen.add(rec.id)
                        records.append(rec)
                write_jsonl(self.run_dir / "records" / f"{name}.jsonl", (r.to_dict() for r in records))
                write_jsonl(self.run_dir / "rejects" / f"{name}.jsonl", (r.to_dict() for r in rejects))
                write_json(marker, {"tasks_hash": keys_hash, "tasks": len(batch), "records": len(records),
                                    "rejects": len(rejects), "stats": result.stats})
                _add(prog.stats, result.stats)
                prog.records += len(records)
                prog.rejects += len(rejects)
                prog.shards_done += 1
                new_tokens += result.stats.get("completion_tokens", 0)
                elapsed = time.perf_counter() - started
                bar.set_postfix_str(f"{new_tokens / max(elapsed, 1e-9):.0f} tok/s", refresh=False)
                bar.update(len(batch))
        finally:
            bar.close()
        prog.wall_s = time.perf_counter() - started
        return prog


def _jsonl_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def _read_ids(path: Path) -> Iterator[str]:
    if path.exists():
        for row in _jsonl_rows(path):
            yield row["id"]


def read_run_rows(run_dir: str | Path, kind: str) -> Iterator[dict[str, Any]]:
    """All rows of records/ or rejects/ of a run, shard by shard."""
    for shard in sorted(Path(run_dir, kind).glob("shard-*.jsonl")):
        yield from _jsonl_rows(shard)


@dataclass
class RunTally:
    """What a run directory holds, read in one pass over records/ and rejects/."""

    task_counts: Counter[str]  # task id -> appearances in records/ + rejects/
    by_origin: Counter[str]
    by_reason: Counter[str]

    def accounting(self, expected_task_ids: Sequence[str]) -> dict[str, Any]:
        """The run invariant: every task appears exactly once in records/ or rejects/."""
        expected = set(expected_task_ids)
        missing = [t for t in expected if t not in self.task_counts]
        duplicated = [t for t, c in self.task_counts.items() if c > 1]
        unexpected = [t for t in self.task_counts if t not in expected]
        return {"tasks": len(expected), "accounted": len(expected) - len(missing), "missing": len(missing),
                "duplicated": len(duplicated), "unexpected": len(unexpected),
                "holds": not missing and not duplicated and not unexpected}


def tally_run(run_dir: str | Path) -> RunTally:
    tally = RunTally(Counter(), Counter(), Counter())
    for row in read_run_rows(run_dir, "records"):
        tally.by_origin[row["origin"]] += 1
        if (tid := row.get("lineage", {}).get("task_id")) is not None:
            tally.task_counts[tid] += 1
    for row in read_run_rows(run_dir, "rejects"):
        tally.by_reason[row["reason"]] += 1
        if (tid := row.get("task_id")) is not None:
            tally.task_counts[tid] += 1
    return tally

