"""Runners: drive a stage over shards of work items, resumably. Stages never know how they are run.

A stage is a plain callable `stage(items) -> ShardResult`, built from a picklable `StageSpec`
(backend spec + stage options) wherever the work runs: in this process (`LocalRunner`) or inside
each worker (`semisynth.ray_runner.RayRunner`, the only module that imports Ray). A live engine
never travels; a spec does.

Both runners cut the items into the same fixed shards (same config, same shards) and share one
driver-side commit: shards are committed strictly in shard order, whatever order their results
arrive in. Per shard: skip it when its completion marker exists, else take its result, drop exact
duplicates of earlier records (first in shard order wins), write records/ and rejects/ atomically,
then the marker. Dedup and the token budget therefore see the same sequence on one core or a
cluster, and a Ray run's directory is byte-identical to a local run's. kill -9 at any point loses
at most the shards not yet committed, which the rerun redoes identically.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from semisynth.atomic import write_json, write_jsonl
from semisynth.backends import BackendSpec, Completion, GenerationRequest, error_completion, open_backend
from semisynth.config import ConfigRefusal
from semisynth.engine_log import terminal
from semisynth.errors import UserError
from semisynth.hashing import content_hash
from semisynth.records import Record, Reject

T = TypeVar("T")


@dataclass
class ShardResult:
    records: list[Record]
    rejects: list[Reject]
    stats: dict[str, int] = field(default_factory=dict)  # prompt_tokens, completion_tokens, ...
    engine: dict[str, Any] | None = None  # the engine as the worker that made the shard resolved it


Stage = Callable[[Sequence[Any]], ShardResult]


class _FailedBackend:
    """Answers every request with an error: turns a shard no worker could finish into the stage's own
    `backend_error` rejects (same ids, parents and reasons as an engine error would give)."""

    def __init__(self, model_name: str, reason: str):
        self._name, self._reason = model_name, reason

    @property
    def model_name(self) -> str:
        return self._name

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        return [error_completion(self._reason) for _ in requests]

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class StageSpec:
    """What a worker needs to build a stage: picklable (no live engine), built where the work runs.

    `factory(backend, **options)` must return the stage; `factory` must be importable at module level
    (it is pickled by reference). `backend` is opened by `build()` in the worker.
    """

    factory: Callable[..., Stage]
    backend: BackendSpec | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    paths: tuple[str, ...] = ()  # absolute paths every worker must read (a model folder): checked at its start
    resolves: BackendSpec | None = None  # a backend the stage opens itself (collapse: per generation)

    def engine(self) -> dict[str, Any] | None:
        """The engine as it resolves in this process (device, dtype, engine arguments): where a worker runs,
        what that worker's shards are made with. None without a backend."""
        spec = self.backend if self.backend is not None else self.resolves
        if spec is None:
            return None
        from semisynth.backends import describe_engine

        return describe_engine(spec)

    def check_paths(self, where: str = "this machine") -> None:
        """Every path of `paths` readable here, else one line naming `where` and the path."""
        import os

        for p in self.paths:
            if not os.access(p, os.R_OK):
                raise UserError(p, f"is not readable on {where} (a path the driver sees but this worker does not)",
                                "put it on a filesystem every node mounts at the same path, or use a packaged "
                                "model / runtime_env that brings it to every node")

    def build(self) -> BuiltStage:
        self.check_paths()
        backend = open_backend(self.backend) if self.backend is not None else None
        try:
            stage = self.factory(backend, **self.options) if backend is not None else self.factory(**self.options)
            warm_up = getattr(stage, "warm_up", None)  # one-time loads belong with the engine's start, not a shard
            if warm_up is not None:
                warm_up()
        except BaseException:
            if backend is not None:
                backend.close()
            raise
        return BuiltStage(stage, backend)

    def fail(self, items: Sequence[Any], reason: str) -> ShardResult:
        """The result of a shard that no worker could finish: every item a `backend_error` reject."""
        if self.backend is None:
            raise RuntimeError(f"shard failed and the stage has no backend to fail over: {reason}")
        return self.factory(_FailedBackend(self.backend.model, reason), **self.options)(items)

    def describe(self) -> str:
        b = self.backend
        return f"{getattr(self.factory, '__name__', self.factory)}" + (f" on {b.kind}:{b.model}" if b else "")


class BuiltStage:
    """A stage plus the backend it owns; `close()` frees the engine."""

    def __init__(self, stage: Stage, backend: Any | None):
        self.stage, self.backend = stage, backend

    def __call__(self, items: Sequence[Any]) -> ShardResult:
        return self.stage(items)

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()
            self.backend = None


class RunnerConfig(BaseModel):
    """How a command's shards are run: here (local) or on a Ray cluster. Never changes what is made."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["local", "ray"] = Field("local", description="local: this process; ray: an actor pool on Ray")
    address: str | None = Field(
        None, description="ray: None starts a local Ray with workers x cpus_per_worker CPUs; 'auto' joins the "
        "cluster on this machine; 'ray://HOST:10001' a remote cluster through Ray Client")
    workers: int = Field(2, ge=1, le=10_000, description="ray: actors, each holding one engine")
    cpus_per_worker: float = Field(1.0, gt=0, description="ray: CPUs reserved per actor (also its torch threads)")
    gpus_per_worker: float = Field(0.0, ge=0, description="ray: GPUs per actor (1 for a vLLM GPU engine)")
    max_attempts: int = Field(3, ge=1, le=100, description="ray: tries per shard (worker death, timeout) "
                              "before its tasks land as backend_error rejects")
    shard_timeout_s: float = Field(1800.0, gt=0, description="ray: watchdog per shard attempt; a stuck worker "
                                   "is killed, restarted and the shard retried")
    start_timeout_s: float = Field(900.0, gt=0, description="ray: how long workers may take to start engines")
    connect_timeout_s: float = Field(5.0, gt=0, le=600, description="ray: how long runner.address may take to "
                                     "answer (a TCP connect, before Ray is started) before the run is refused")
    allow_mixed_engines: bool = Field(False, description="run even when workers resolve different engines "
                                      "(device, dtype, engine arguments; e.g. bf16 on one node, fp32 on another), "
                                      "or resolve another engine than the shards a resumed run already holds; "
                                      "false: refused at start. Each shard's marker names its engine either way")
    env_vars: dict[str, str] = Field(default_factory=dict, description="ray: extra environment for the workers")
    runtime_env: dict[str, Any] = Field(default_factory=dict, description="ray: runtime_env for the job (e.g. "
                                        "working_dir, pip) when the cluster lacks semisynth")


    @field_validator("address")
    @classmethod
    def _address(cls, v: str | None) -> str | None:
        if v is not None:
            ray_endpoint(v)  # a malformed address is refused at config load, not after a connect attempt
        return v

    @model_validator(mode="after")
    def _address_needs_ray(self) -> RunnerConfig:
        if self.address is not None and self.kind == "local":  # it would be ignored without a word
            raise ConfigRefusal(f"address {self.address!r} is set but kind is local (shards run here, not there)",
                                "add --runner ray (runner.kind: ray) to run on that cluster, or remove the address",
                                "address")
        return self


_ADDRESS_FIX = "give 'auto' (the cluster on this machine), 'ray://HOST:10001' (Ray Client), 'HOST:6379' or no address"


def ray_endpoint(address: str) -> tuple[str, int] | None:
    """(host, port) that `address` makes Ray connect to; None for 'auto' / 'local' (found on this machine).
    A malformed address is a ConfigRefusal (Ray itself prints several warnings, then waits ~30 s)."""
    if address in ("auto", "local"):
        return None
    rest, default_port = (address[len("ray://"):], 10001) if address.startswith("ray://") else (address, None)
    if "://" in rest or not rest or any(c.isspace() for c in rest) or "/" in rest:
        raise ConfigRefusal(f"{address!r:.80} is not a Ray address", _ADDRESS_FIX)
    host, sep, port_text = rest.rpartition(":") if ":" in rest else (rest, "", "")
    host = host.strip("[]")  # [::1]:10001
    if not host:
        raise ConfigRefusal(f"{address!r:.80} has no host", _ADDRESS_FIX)
    if not sep:
        if default_port is None:
            raise ConfigRefusal(f"{address!r:.80} has no port", _ADDRESS_FIX)
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigRefusal(f"{address!r:.80}: port {port_text!r} is not a number from 1 to 65535", _ADDRESS_FIX)
    return host, int(port_text)


def local_gpu_count() -> int:
    """GPUs this process can use (CUDA_VISIBLE_DEVICES respected); 0 without a CUDA build of torch."""
    try:
        import torch
    except ImportError:
        return 0
    try:
        return int(torch.cuda.device_count())
    except Exception:  # a broken driver: no usable GPU
        return 0


def check_ray_target(config: RunnerConfig) -> None:
    """Before any work or any write: a Ray runner whose cluster cannot be reached, or a private Ray asked for
    GPUs this machine does not have, is one line now (not Ray's own warnings after a ~30 s wait, not a Ray
    told it has GPUs that runs every engine on the CPU)."""
    if config.kind != "ray":
        return
    if config.address is None:
        need = config.workers * config.gpus_per_worker
        if need > 0:
            have = local_gpu_count()
            if need > have + 1e-9:
                raise UserError("runner.gpus_per_worker", f"{config.workers} worker(s) x {config.gpus_per_worker:g} GPU "
                                f"need {need:g} GPU(s) and this machine has {have} (a private local Ray runs here)",
                                "set runner.gpus_per_worker to 0 for engines on the CPU, lower runner.workers, or give "
                                "runner.address (--ray-address) of a cluster with GPUs")
        return
    endpoint = ray_endpoint(config.address)
    if endpoint is None:
        return
    from semisynth.ray_probe import probe

    problem = probe(config.address, *endpoint, config.connect_timeout_s)
    if problem:
        raise UserError(f"runner.address {config.address!r}", problem,
                        "start the cluster (`ray start --head`) or fix --ray-address; on a slow network raise "
                        "runner.connect_timeout_s")


class Runner(Protocol):
    """start(spec) builds the stage(s) (an engine that cannot start fails here, before anything is
    written); run(items, item_key) runs and commits the shards; close() frees engines/workers."""

    def start(self, spec: StageSpec) -> None: ...

    def run(self, items: Sequence[Any], stage: Stage | StageSpec | None = None,
            item_key: Callable[[Any], str] = ...) -> RunProgress: ...

    def close(self) -> None: ...


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


class ShardSource(Protocol):
    """Where the driver takes shard results from; asked strictly in shard order."""

    def result(self, idx: int) -> ShardResult: ...

    def cancel(self) -> None: ...


class _InlineSource:
    def __init__(self, stage: Stage, batches: Mapping[int, Sequence[Any]], engine: dict[str, Any] | None = None):
        self.stage, self.batches, self.engine = stage, batches, engine

    def result(self, idx: int) -> ShardResult:
        res = self.stage(self.batches[idx])
        if isinstance(res, ShardResult) and self.engine is not None:
            res.engine = self.engine
        return res

    def cancel(self) -> None:
        pass


class LocalRunner(Generic[T]):
    """Sequential shards in this process (vLLM batches inside a shard use all cores already)."""

    def __init__(self, run_dir: str | Path, shard_size: int = 64, token_budget: int | None = None,
                 progress: bool | None = None, desc: str = "generate"):
        self.run_dir = Path(run_dir)
        self.shard_size = shard_size
        self.token_budget = token_budget
        self.progress = progress
        self.desc = desc
        self._built: BuiltStage | None = None
        self.spec: StageSpec | None = None
        self.allow_mixed_engines = False  # runner.allow_mixed_engines: a resume may add shards of another engine

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self, spec: StageSpec) -> None:
        """Build the stage here (the engine starts now: a bad model fails before anything is written)."""
        self.spec = spec
        if self._built is None:
            self._built = spec.build()
            self._engine = spec.engine()

    _engine: dict[str, Any] | None = None

    def engines(self) -> list[dict[str, Any]]:
        """The engines this runner's stages resolved (one locally; one per distinct worker resolution on Ray)."""
        return [self._engine] if self._engine is not None else []

    def _check_resumed_engines(self, done: Mapping[int, Mapping[str, Any]]) -> None:
        """A resumed run whose committed shards were made with another engine than this runner's stages resolve
        now (the driver's device said nothing of a Ray worker's; a node without bf16; a GPU pool after a CPU
        one) would mix them silently: refused before any shard is sent, unless allow_mixed_engines."""
        made: dict[str, dict[str, Any]] = {}
        for marker in done.values():
            if marker.get("engine") is not None:
                made.setdefault(content_hash(marker["engine"], 12), marker["engine"])
        now = {content_hash(e, 12): e for e in self.engines()}
        if not made or not now or set(now) <= set(made):
            return
        raise UserError(str(self.run_dir), f"holds {len(done)} shard(s) made with "
                        f"{'; '.join(engine_label(e) for e in made.values())} and this run resolves "
                        f"{'; '.join(engine_label(e) for k, e in now.items() if k not in made)}",
                        "resume where the engine resolves the same (pin backend.dtype / backend.device), use a new "
                        "--out, or set runner.allow_mixed_engines: true (each shard's marker names its engine)")

    def close(self) -> None:
        if self._built is not None:
            self._built.close()
            self._built = None

    def __enter__(self) -> LocalRunner[T]:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _source(self, pending: Mapping[int, Sequence[T]]) -> ShardSource:
        if self._built is None:
            raise RuntimeError("runner not started: call start(spec) or pass a stage to run()")
        return _InlineSource(self._built, pending, self._engine)

    def results(self, batches: Sequence[Sequence[Any]]) -> Iterator[Any]:
        """The stage's result for each batch, yielded in batch order whatever order they are computed in;
        nothing is written: for callers whose commit is their own (collapse chains). Stop iterating to
        cancel what is still in flight."""
        source = self._source(dict(enumerate(batches)))
        try:
            for idx in range(len(batches)):
                yield source.result(idx)
        finally:
            source.cancel()

    # -- the shared driver-side commit -------------------------------------------------------------
    def _shards(self, items: Sequence[T]) -> Iterator[tuple[int, Sequence[T]]]:
        for start in range(0, len(items), self.shard_size):
            yield start // self.shard_size, items[start:start + self.shard_size]

    def run(self, items: Sequence[T], stage: Stage | StageSpec | None = None,
            item_key: Callable[[T], str] = str) -> RunProgress:
        """Run the shards that have no marker yet and commit them in shard order."""
        from tqdm import tqdm

        if isinstance(stage, StageSpec):
            self.start(stage)
        elif stage is not None:
            self._built = BuiltStage(stage, None)  # a ready stage (in-process callers and tests)
        for sub in ("records", "rejects", "done"):
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True)
            for stale in (self.run_dir / sub).glob(".*.tmp"):  # a writer killed mid-write (kill -9) left it;
                stale.unlink(missing_ok=True)  # its shard has no marker, so this run writes it again
        shards = [(idx, batch, content_hash([item_key(x) for x in batch])) for idx, batch in self._shards(items)]
        done: dict[int, dict[str, Any]] = {}
        for idx, _, keys_hash in shards:  # every marker checked before any work is sent out
            marker = self.run_dir / "done" / f"{shard_name(idx)}.json"
            if marker.exists():
                done[idx] = json.loads(marker.read_text(encoding="utf-8"))
                if done[idx].get("tasks_hash") != keys_hash:
                    raise UserError(str(self.run_dir), f"{shard_name(idx)} was made by a different config or input",
                                    "use a new --out directory, or rerun with the original config")
        if len(done) < len(shards) and not self.allow_mixed_engines:
            self._check_resumed_engines(done)
        prog = RunProgress(shards_total=len(shards))
        seen: set[str] = set()
        started = time.perf_counter()
        new_tokens = 0
        bar = tqdm(total=len(items), desc=self.desc, unit="task", disable=self.progress is False,
                   dynamic_ncols=True, leave=True, file=terminal())  # the terminal, also while fd 2 is a log
        source = self._source({idx: batch for idx, batch, _ in shards if idx not in done})
        try:
            for idx, batch, keys_hash in shards:
                name = shard_name(idx)
                if idx in done:
                    seen.update(_read_ids(self.run_dir / "records" / f"{name}.jsonl"))
                    _add(prog.stats, done[idx].get("stats", {}))
                    prog.records += done[idx]["records"]
                    prog.rejects += done[idx]["rejects"]
                    prog.shards_done += 1
                    bar.update(len(batch))
                    continue
                used = prog.stats.get("prompt_tokens", 0) + prog.stats.get("completion_tokens", 0)
                if self.token_budget is not None and used >= self.token_budget:
                    prog.stopped_reason = "token_budget"
                    break
                result = source.result(idx)
                records, rejects = [], list(result.rejects)
                for rec in result.records:  # exact duplicates across shards: the first in shard order wins
                    if rec.id in seen:
                        rejects.append(Reject(rec.id, rec.parents, "duplicate", detail="same text as an earlier record",
                                              text=rec.content, task_id=rec.lineage.task_id))
                    else:
                        seen.add(rec.id)
                        records.append(rec)
                write_jsonl(self.run_dir / "records" / f"{name}.jsonl", (r.to_dict() for r in records))
                write_jsonl(self.run_dir / "rejects" / f"{name}.jsonl", (r.to_dict() for r in rejects))
                marker = {"tasks_hash": keys_hash, "tasks": len(batch), "records": len(records),
                          "rejects": len(rejects), "stats": result.stats}
                if result.engine is not None:  # how this shard was made, as its worker resolved it
                    marker["engine"] = result.engine
                write_json(self.run_dir / "done" / f"{name}.json", marker)
                _add(prog.stats, result.stats)
                prog.records += len(records)
                prog.rejects += len(rejects)
                prog.shards_done += 1
                new_tokens += result.stats.get("completion_tokens", 0)
                elapsed = time.perf_counter() - started
                bar.set_postfix_str(f"{new_tokens / max(elapsed, 1e-9):.0f} tok/s", refresh=False)
                bar.update(len(batch))
        finally:
            source.cancel()
            bar.close()
        prog.wall_s = time.perf_counter() - started
        return prog


def engine_label(engine: dict[str, Any] | None) -> str:
    """An engine in a message: kind, device, dtype and a short hash of everything it resolved."""
    if engine is None:
        return "no engine"
    sample = engine.get("sample") or {}  # a collapse generation: training device + sampling engine
    args = engine.get("engine_args") or sample.get("engine_args") or {}
    device = engine.get("device") or sample.get("device")
    short = ", ".join(f"{k}={args[k]}" for k in ("dtype",) if k in args)
    return f"{engine.get('kind') or sample.get('kind', '?')} on {device}" + (f" ({short})" if short else "") + \
        f" [engine {content_hash(engine, 8)}]"


def make_runner(config: RunnerConfig | None, run_dir: str | Path, shard_size: int = 64,
                token_budget: int | None = None, progress: bool | None = None, desc: str = "generate") -> LocalRunner:
    """The runner a command's `runner:` config asks for (Ray is imported only when asked for)."""
    config = config or RunnerConfig()
    if config.kind == "ray":
        check_ray_target(config)
        from semisynth.ray_runner import RayRunner

        runner: LocalRunner = RayRunner(run_dir, shard_size, token_budget, progress, desc, config=config)
    else:
        runner = LocalRunner(run_dir, shard_size, token_budget, progress, desc)
    runner.allow_mixed_engines = config.allow_mixed_engines
    return runner


def shard_engines(run_dir: str | Path, driver_engine: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a manifest says about engines, from the shards' markers: `engine` (the one every shard was made
    with; the driver's resolution when no marker names one, e.g. a run from before markers named it),
    `shard_engines` (each distinct engine and its shards) and `engines_agree`."""
    groups: dict[str, dict[str, Any]] = {}
    for marker in sorted(Path(run_dir, "done").glob("shard-*.json")):
        eng = json.loads(marker.read_text(encoding="utf-8")).get("engine")
        if eng is None:
            continue
        g = groups.setdefault(content_hash(eng, 12), {"engine": eng, "shards": []})
        g["shards"].append(marker.stem)
    listed = list(groups.values())
    one = listed[0]["engine"] if len(listed) == 1 else (driver_engine if not listed else None)
    return {"engine": one if one is not None else "mixed: see shard_engines", "shard_engines": listed,
            "engines_agree": len(listed) <= 1}


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

