"""The Ray runner: the same shards, markers and bytes as `LocalRunner`, on an actor pool.

The only module that imports Ray. Each actor (`StageWorker`) builds one stage from the picklable
`StageSpec` (so one engine per actor, opened in the worker, never shipped) and runs whole shards.
The driver keeps the project's own markers as the truth: it sends shards out, takes results back in
any order, and commits them strictly in shard order through `LocalRunner.run` (dedup, token
budget, atomic writes), so a Ray run's directory is byte-identical to a local one.

Why plain actors, not Ray Data, for stages: a shard is the resume unit and must come back whole,
keyed by its index, exactly once. With our own dispatch loop a dead actor (kill -9, an engine that
died) is restarted by Ray (`max_restarts=-1`) and the shard is retried a bounded number of times,
a stuck one is killed by a per-shard watchdog, and a shard that exhausts its attempts lands as the
stage's own `backend_error` rejects: no hang, no loss, no duplicate. Ray Data's `map_batches` would
re-batch rows across blocks, needs `preserve_order` for order, and fails the whole dataset when a
batch keeps failing. Embedding (pure, no ledger) does use Ray Data: `embed_texts` below.
"""

from __future__ import annotations

import heapq
import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError, RayTaskError

from semisynth.errors import UserError
from semisynth.runner import LocalRunner, RunnerConfig, ShardResult, StageSpec

log = logging.getLogger(__name__)

# What every worker needs whatever the cluster's defaults: vLLM's engine in the actor's own process
# (its multiprocess mode would fork a second engine process per actor), offline hub.
WORKER_ENV = {"VLLM_ENABLE_V1_MULTIPROCESSING": "0", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
              "TOKENIZERS_PARALLELISM": "false"}


def _describe(e: BaseException) -> dict[str, str]:
    if isinstance(e, UserError):
        return {"where": e.where, "what": e.what, "fix": e.fix}
    return {"what": f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}"}


class StageWorker:
    """One actor = one stage = one engine. A build failure is kept and reported by `ready()`
    (a constructor that raises would leave Ray with a dead actor and a long traceback)."""

    def __init__(self, spec: StageSpec):
        self.error: dict[str, str] | None = None
        self.stage = None
        try:
            self.stage = spec.build()
        except BaseException as e:  # reported to the driver as one line
            self.error = _describe(e)

    def ready(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "node": ray.get_runtime_context().get_node_id(), "error": self.error}

    def run(self, items: Sequence[Any]) -> ShardResult:
        if self.stage is None:
            raise RuntimeError(f"stage did not start in this worker: {self.error}")
        return self.stage(items)


def connect(config: RunnerConfig) -> bool:
    """Join (or start) Ray as `config.address` says; True when this call started the connection."""
    if ray.is_initialized():
        return False
    env = {**WORKER_ENV, **config.env_vars}
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING,
                              "runtime_env": {**config.runtime_env,
                                              "env_vars": {**config.runtime_env.get("env_vars", {}), **env}}}
    if config.address is None:  # a private local Ray sized to the pool
        kwargs["num_cpus"] = max(1, int(round(config.workers * config.cpus_per_worker)))
        kwargs["num_gpus"] = int(round(config.workers * config.gpus_per_worker))
        kwargs["object_store_memory"] = 256 << 20  # shards are small; RAY_TMPDIR moves Ray's temp dir
    else:
        kwargs["address"] = config.address
    try:
        ray.init(**kwargs)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise UserError(f"runner.address {config.address!r}", f"cannot connect to Ray ({str(e).splitlines()[0]})",
                        "start the cluster (`ray start --head`), or give 'auto', 'ray://HOST:10001' or no address "
                        "for a local Ray") from None
    return True


class RayRunner(LocalRunner):
    """`runner: {kind: ray}`: an actor pool of `workers` stages; the driver commits in shard order."""

    def __init__(self, run_dir: str | Path, shard_size: int = 64, token_budget: int | None = None,
                 progress: bool | None = None, desc: str = "generate", *, config: RunnerConfig | None = None):
        super().__init__(run_dir, shard_size, token_budget, progress, desc)
        self.config = config or RunnerConfig(kind="ray")
        self.actors: list[Any] = []
        self.workers_info: list[dict[str, Any]] = []
        self._owns_ray = False

    def start(self, spec: StageSpec) -> None:
        """Start the pool and wait until every worker has its engine (or say in one line why not)."""
        if self.actors:
            return
        self.spec = spec
        cfg = self.config
        self._owns_ray = connect(cfg)
        have = ray.cluster_resources()
        need_cpu, need_gpu = cfg.workers * cfg.cpus_per_worker, cfg.workers * cfg.gpus_per_worker
        if need_cpu > have.get("CPU", 0) + 1e-9 or need_gpu > have.get("GPU", 0) + 1e-9:
            self.close()
            raise UserError("runner", f"{cfg.workers} workers x {cfg.cpus_per_worker} CPU / {cfg.gpus_per_worker} GPU "
                            f"need {need_cpu:g} CPU / {need_gpu:g} GPU, the cluster has {have.get('CPU', 0):g} / "
                            f"{have.get('GPU', 0):g}", "lower runner.workers or the per-worker resources, or add nodes")
        actor_cls = ray.remote(StageWorker).options(
            num_cpus=cfg.cpus_per_worker, num_gpus=cfg.gpus_per_worker, max_restarts=-1, max_task_retries=0,
            runtime_env={"env_vars": {**WORKER_ENV, **cfg.env_vars}})
        self.actors = [actor_cls.remote(spec) for _ in range(cfg.workers)]
        try:
            self.workers_info = ray.get([a.ready.remote() for a in self.actors], timeout=cfg.start_timeout_s)
        except GetTimeoutError:
            self.close()
            raise UserError("runner", f"Ray workers not ready after {cfg.start_timeout_s:g} s",
                            "raise runner.start_timeout_s, or check the cluster (`ray status`)") from None
        except RayError as e:
            self.close()
            raise UserError("runner", f"a Ray worker died while starting ({type(e).__name__})",
                            "check the worker logs under the Ray temp dir (session_latest/logs)") from None
        for info in self.workers_info:
            if info["error"]:
                err = info["error"]
                self.close()
                if "where" in err:
                    raise UserError(err["where"], f"{err['what']} (in a Ray worker)", err["fix"])
                raise UserError(f"backend {spec.describe()}", f"engine could not start in a Ray worker ({err['what']})",
                                "check backend.model exists on every node and fits the worker's memory/GPU")

    def worker_pids(self) -> list[int]:
        return [int(w["pid"]) for w in self.workers_info]

    def _source(self, pending: Mapping[int, Sequence[Any]]) -> _RayShards:
        if not self.actors or self.spec is None:
            raise RuntimeError("RayRunner not started: call start(spec) first")
        return _RayShards(self, dict(pending))

    def close(self) -> None:
        for a in self.actors:
            try:
                ray.kill(a, no_restart=True)
            except Exception:  # already gone
                pass
        self.actors = []
        if self._owns_ray and ray.is_initialized():
            ray.shutdown()
        self._owns_ray = False


class _RayShards:
    """Dispatch loop: one shard in flight per actor, results kept by shard index until committed.

    At most `2 x workers` shards are dispatched or held ahead of the commit (bounded memory), except
    the shard the commit waits for, which is always sent. A failed attempt (actor died, stage raised,
    watchdog) restarts that actor's engine and requeues the shard; after `max_attempts` the shard
    becomes `spec.fail(...)`: backend_error rejects for every task, with the last reason."""

    def __init__(self, runner: RayRunner, pending: dict[int, Sequence[Any]]):
        self.runner, self.cfg, self.spec = runner, runner.config, runner.spec
        self.batches = pending
        self.queue = list(pending)
        heapq.heapify(self.queue)
        self.results: dict[int, ShardResult] = {}
        self.inflight: dict[Any, tuple[int, int, float]] = {}  # ref -> (shard, actor index, sent at)
        self.idle = list(range(len(runner.actors)))
        self.attempts: dict[int, int] = {}
        self.window = 2 * len(runner.actors)
        self.failures: list[str] = []

    def _fill(self, needed: int) -> None:
        while self.idle and self.queue:
            head = self.queue[0]
            if head != needed and len(self.inflight) + len(self.results) >= self.window:
                return
            idx = heapq.heappop(self.queue)
            a = self.idle.pop(0)
            ref = self.runner.actors[a].run.remote(self.batches[idx])
            self.inflight[ref] = (idx, a, time.monotonic())

    def _failed(self, idx: int, a: int, reason: str) -> None:
        """Restart the actor (a fresh engine) and retry the shard, or give up on it after max_attempts."""
        try:
            ray.kill(self.runner.actors[a], no_restart=False)
        except Exception:  # already dead and restarting
            pass
        self.idle.append(a)
        n = self.attempts[idx] = self.attempts.get(idx, 0) + 1
        self.failures.append(f"shard {idx} attempt {n}: {reason}")
        log.warning("shard %d attempt %d failed: %s", idx, n, reason)
        if n < self.cfg.max_attempts:
            heapq.heappush(self.queue, idx)
        else:
            self.results[idx] = self.spec.fail(self.batches[idx], f"worker failed {n} times; last: {reason}")

    def result(self, idx: int) -> ShardResult:
        while idx not in self.results:
            self._fill(idx)
            now = time.monotonic()
            deadline = min((t + self.cfg.shard_timeout_s for _, _, t in self.inflight.values()), default=now + 1)
            ready, _ = ray.wait(list(self.inflight), num_returns=1, timeout=max(0.05, min(1.0, deadline - now)))
            for ref in ready:
                shard, a, _ = self.inflight.pop(ref)
                try:
                    self.results[shard] = ray.get(ref)
                    self.idle.append(a)
                except RayActorError as e:
                    self._failed(shard, a, f"worker died ({type(e).__name__})")
                except RayTaskError as e:
                    self._failed(shard, a, f"stage raised {type(e.cause).__name__ if e.cause else 'an error'}: "
                                 f"{str(e.cause or e).strip().splitlines()[-1][:200]}")
                except RayError as e:  # object lost with its node, etc.
                    self._failed(shard, a, f"{type(e).__name__}")
            now = time.monotonic()
            for ref, (shard, a, sent) in list(self.inflight.items()):
                if now - sent > self.cfg.shard_timeout_s:  # watchdog: a stuck engine never hangs the run
                    del self.inflight[ref]  # the actor is killed (and restarted) by _failed
                    self._failed(shard, a, f"no result after {self.cfg.shard_timeout_s:g} s (watchdog)")
        return self.results.pop(idx)

    def cancel(self) -> None:
        """The commit stopped (budget, error): drop what is in flight; nothing uncommitted is kept."""
        for ref in self.inflight:
            try:
                ray.cancel(ref)
            except Exception:
                pass
        self.inflight.clear()
        self.results.clear()
