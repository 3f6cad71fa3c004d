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
import sys
import time
import uuid
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError, RayTaskError

from semisynth.errors import UserError
from semisynth.runner import LocalRunner, RunnerConfig, ShardResult, StageSpec, check_ray_target, engine_label

log = logging.getLogger(__name__)

# What every worker needs whatever the cluster's defaults: vLLM's engine in the actor's own process
# (its multiprocess mode would fork a second engine process per actor), offline hub.
WORKER_ENV = {"VLLM_ENABLE_V1_MULTIPROCESSING": "0", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
              "TOKENIZERS_PARALLELISM": "false"}


def worker_env(config: RunnerConfig) -> dict[str, str]:
    """The stage actors' environment: WORKER_ENV, OpenMP threads = the actor's CPUs, then the user's env_vars.

    OMP_NUM_THREADS must be in the process environment at exec time. Ray sets it to the actor's CPUs only
    from Python, after start-up; an OpenMP runtime in LD_PRELOAD (vLLM's CPU platform puts torch's libgomp
    there in the driver's environment when it is imported, and vLLM's CPU guide tells users to preload
    libiomp/libgomp) has read the environment before that, so torch ran with one thread per core of the
    node in every actor: 2 actors x 2 threads on 2 cores spin-waiting on each other (issue 13: 0.21x)."""
    return {**WORKER_ENV, "OMP_NUM_THREADS": str(max(1, int(config.cpus_per_worker))), **config.env_vars}


def _describe(e: BaseException) -> dict[str, str]:
    if isinstance(e, UserError):
        return {"where": e.where, "what": e.what, "fix": e.fix}
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip() and "errors.pydantic.dev" not in ln]
    return {"what": f"{type(e).__name__}: {' / '.join(lines[:3])[:300]}"}


def node_label() -> str:
    """This node as a one-line message names it: IP and the start of Ray's node id."""
    return f"Ray node {ray.util.get_node_ip_address()} ({ray.get_runtime_context().get_node_id()[:8]})"


class StageWorker:
    """One actor = one stage = one engine. The constructor only reads the spec, checks the paths it needs
    and resolves the engine (device, dtype, engine arguments) as this node sees it: cheap, so the driver
    compares every worker's resolution before any engine starts (`describe`). `ready()` builds the stage.
    A failure is kept and reported (a constructor that raises would leave Ray with a dead actor and a long
    traceback)."""

    def __init__(self, holder_name: str, namespace: str):
        self.error: dict[str, str] | None = None
        self.stage = None
        self.spec: StageSpec | None = None
        self.engine: dict[str, Any] | None = None
        try:  # a restart reads the spec again from the holder (nothing of it in the constructor's arguments)
            self.spec = ray.get(ray.get_actor(holder_name, namespace=namespace).get.remote())
            self.spec.check_paths(node_label())
            self.engine = self.spec.engine()
        except BaseException as e:  # reported to the driver as one line
            self.error = _describe(e)

    def describe(self) -> dict[str, Any]:
        torch = sys.modules.get("torch")  # reported when the stage uses it (the bench prints it)
        return {"pid": os.getpid(), "node": ray.get_runtime_context().get_node_id(), "label": node_label(),
                "error": self.error, "engine": self.engine,
                "torch_threads": torch.get_num_threads() if torch is not None else None}

    def ready(self) -> dict[str, Any]:
        if self.stage is None and self.error is None and self.spec is not None:
            try:
                self.stage = self.spec.build()
            except BaseException as e:
                self.error = _describe(e)
        return self.describe()

    def run(self, items: Sequence[Any]) -> ShardResult:
        if self.stage is None:
            raise RuntimeError(f"stage did not start in this worker: {self.error}")
        return self.stage(items)


class SpecHolder:
    """Keeps the run's spec for the workers (and their restarts): a spec passed as a constructor argument
    would sit in the object store, which Ray warns about for restartable actors."""

    def __init__(self, spec: StageSpec):
        self.spec = spec

    def get(self) -> StageSpec:
        return self.spec


def connect(config: RunnerConfig) -> bool:
    """Join (or start) Ray as `config.address` says; True when this call started the connection."""
    if ray.is_initialized():
        return False
    check_ray_target(config)  # an unreachable address or GPUs this machine lacks: one line, before Ray starts
    env = {**WORKER_ENV, **config.env_vars}
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR,
                              "runtime_env": {**config.runtime_env,
                                              "env_vars": {**config.runtime_env.get("env_vars", {}), **env}}}
    if config.address is None:  # a private local Ray sized to the pool
        kwargs["num_cpus"] = max(1, int(round(config.workers * config.cpus_per_worker)))
        kwargs["num_gpus"] = int(round(config.workers * config.gpus_per_worker))
        kwargs["object_store_memory"] = 256 << 20  # shards are small; RAY_TMPDIR moves Ray's temp dir
    else:
        kwargs["address"] = config.address
    logging.getLogger("ray").setLevel(logging.ERROR)  # the CLI's stderr is ours: one line per error
    try:
        with warnings.catch_warnings():  # Ray Client warns (warnings.warn) before raising on a timeout
            warnings.simplefilter("ignore")
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
        self._holder: Any = None
        self._nodes_at_start = 0
        self.allow_mixed_engines = self.config.allow_mixed_engines

    def start(self, spec: StageSpec) -> None:
        """Start the pool and wait until every worker has its engine (or say in one line why not)."""
        if self.actors:
            return
        spec = portable_spec(spec)
        self.spec = spec
        cfg = self.config
        self._owns_ray = connect(cfg)
        have = ray.cluster_resources()
        need_cpu, need_gpu = cfg.workers * cfg.cpus_per_worker, cfg.workers * cfg.gpus_per_worker
        short = need_cpu > have.get("CPU", 0) + 1e-9 or need_gpu > have.get("GPU", 0) + 1e-9
        sizes = (f"{cfg.workers} workers x {cfg.cpus_per_worker:g} CPU / {cfg.gpus_per_worker:g} GPU need "
                 f"{need_cpu:g} CPU / {need_gpu:g} GPU, the cluster has {have.get('CPU', 0):g} / {have.get('GPU', 0):g}")
        if short and self._owns_ray and cfg.address is None:  # the private Ray this call started never grows
            self.close()
            raise UserError("runner", sizes, "lower runner.workers or the per-worker resources, or add nodes")
        try:
            nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
        except Exception:  # no node table (an old Ray Client): the per-node check is skipped
            nodes = []
        big_cpu, big_gpu = (max((r.get(k, 0) for r in nodes), default=0) for k in ("CPU", "GPU"))
        if nodes and (cfg.cpus_per_worker > big_cpu + 1e-9 or cfg.gpus_per_worker > big_gpu + 1e-9):
            # no node of this size exists now: only an autoscaler with a larger node type can help, and Ray
            # cannot tell us whether one is configured, so this waits (start_timeout_s) and says why
            short = True
            sizes += (f"; no node offers one worker's {cfg.cpus_per_worker:g} CPU / {cfg.gpus_per_worker:g} GPU "
                      f"(the largest has {big_cpu:g} / {big_gpu:g}): only an autoscaler that adds such a node "
                      f"can start it")
        if short:  # a cluster may grow (an autoscaler, nodes still joining): the actors wait for it
            log.warning("%s now: waiting up to %g s (runner.start_timeout_s) for nodes to join", sizes,
                        cfg.start_timeout_s)
        self._nodes_at_start = len(nodes)
        actor_cls = ray.remote(StageWorker).options(
            num_cpus=cfg.cpus_per_worker, num_gpus=cfg.gpus_per_worker, max_restarts=-1, max_task_retries=0,
            runtime_env={"env_vars": worker_env(cfg)})
        name, namespace = f"semisynth-spec-{uuid.uuid4().hex}", ray.get_runtime_context().namespace
        self._holder = ray.remote(SpecHolder).options(num_cpus=0, name=name, namespace=namespace).remote(spec)
        self.actors = [actor_cls.remote(name, namespace) for _ in range(cfg.workers)]
        deadline = time.monotonic() + cfg.start_timeout_s
        self.workers_info = self._gather("describe", deadline, sizes if short else None)  # no engine started yet
        self._check_engines()
        self.workers_info = self._gather("ready", deadline, sizes if short else None)

    def _gather(self, method: str, deadline: float, sizes: str | None) -> list[dict[str, Any]]:
        """Every actor's `method()` (describe or ready) by the deadline; a failure is one line."""
        try:
            infos = ray.get([getattr(a, method).remote() for a in self.actors],
                            timeout=max(1.0, deadline - time.monotonic()))
        except GetTimeoutError:
            joined = _alive_nodes() - self._nodes_at_start
            self.close()
            why = (f" ({sizes}, and {'no node joined' if joined <= 0 else f'{joined} node(s) joined, not enough'})"
                   if sizes and method == "describe" else "")
            raise UserError("runner", f"Ray workers not ready after {self.config.start_timeout_s:g} s{why}",
                            "lower runner.workers / runner.cpus_per_worker / runner.gpus_per_worker to what the "
                            "cluster's nodes offer, raise runner.start_timeout_s, or check the cluster (`ray status`)"
                            if sizes else "raise runner.start_timeout_s, or check the cluster (`ray status`)") from None
        except RayError as e:
            self.close()
            raise UserError("runner", f"a Ray worker died while starting ({type(e).__name__})",
                            "check the worker logs under the Ray temp dir (session_latest/logs)") from None
        for info in infos:
            if info["error"]:
                err = info["error"]
                self.close()
                if "where" in err:
                    raise UserError(err["where"], f"{err['what']} (in a Ray worker)", err["fix"])
                raise UserError(f"backend {self.spec.describe()}", f"engine could not start in a Ray worker on "
                                f"{info['label']} ({err['what']})",
                                "check backend.model exists on every node and fits the worker's memory/GPU")
        return infos

    def _check_engines(self) -> None:
        """Workers that resolve different engines (bf16 on one node, fp32 on another; a GPU node beside a CPU
        node) would mix them in one run: refused at start, before any engine starts, unless allowed."""
        by: dict[str, list[str]] = {}
        for info in self.workers_info:
            by.setdefault(engine_label(info["engine"]), []).append(info["label"])
        if len(by) > 1 and not self.config.allow_mixed_engines:
            self.close()
            raise UserError("runner", "Ray workers resolve different engines: " + "; ".join(
                f"{label} on {', '.join(sorted(set(nodes)))}" for label, nodes in sorted(by.items())),
                "pin them in the backend (e.g. backend.dtype: float32, backend.device: cpu) so every node "
                "resolves the same, or set runner.allow_mixed_engines: true (each shard's marker names its engine)")
        if len(by) > 1:
            log.warning("Ray workers resolve different engines (allowed): %s", "; ".join(sorted(by)))

    def engines(self) -> list[dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        for info in self.workers_info:
            if info.get("engine") is not None:
                seen.setdefault(engine_label(info["engine"]), info["engine"])
        return list(seen.values())

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
        if self._holder is not None:
            try:
                ray.kill(self._holder)
            except Exception:
                pass
        self._holder = None
        if self._owns_ray and ray.is_initialized():
            ray.shutdown()
        self._owns_ray = False


def _alive_nodes() -> int:
    try:
        return sum(1 for n in ray.nodes() if n.get("Alive"))
    except Exception:  # the connection is going away: the message says no node joined
        return 0


def portable_spec(spec: StageSpec) -> StageSpec:
    """The spec as it must travel: a backend model that is a folder on the driver becomes its absolute path
    (a relative one would resolve in the worker's session directory) and a path every worker checks at
    start; a packaged or hub name is left to each node."""
    import dataclasses

    b = spec.backend
    if b is None or b.kind == "http" or not Path(b.model).expanduser().exists():
        return spec
    model = str(Path(b.model).expanduser().absolute())
    return dataclasses.replace(spec, backend=b.model_copy(update={"model": model}),
                               paths=tuple(dict.fromkeys((*spec.paths, model))))


class _RayShards:
    """Dispatch loop: one shard in flight per actor, results kept by shard index until committed.

    At most `2 x workers` shards are dispatched or held ahead of the commit (bounded memory), except
    the shard the commit waits for, which is always sent. A failed attempt (actor died, stage raised,
    watchdog) requeues the shard; after `max_attempts` the shard becomes `spec.fail(...)`:
    backend_error rejects for every task, with the last reason. The failed actor gets no work until
    Ray has restarted it and its new engine says ready (`start_timeout_s`); an actor whose engine
    cannot come back leaves the pool, and a run without workers stops with one line (rerun resumes)."""

    def __init__(self, runner: RayRunner, pending: dict[int, Sequence[Any]]):
        self.runner, self.cfg, self.spec = runner, runner.config, runner.spec
        self.batches = pending
        self.queue = list(pending)
        heapq.heapify(self.queue)
        self.results: dict[int, ShardResult] = {}
        self.inflight: dict[Any, tuple[int, int, float]] = {}  # ref -> (shard, actor index, sent at)
        self.starting: dict[Any, tuple[int, float]] = {}  # ready() ref -> (actor index, restart began)
        self.idle = list(range(len(runner.actors)))
        self.lost: dict[int, str] = {}  # actor index -> why it left the pool
        self.attempts: dict[int, int] = {}
        self.window = 2 * len(runner.actors)
        self.engine_of = {a: info.get("engine") for a, info in enumerate(runner.workers_info)}
        self.pool_engine = runner.workers_info[0].get("engine") if runner.workers_info else None

    def _fill(self, needed: int) -> None:
        while self.idle and self.queue:
            head = self.queue[0]
            if head != needed and len(self.inflight) + len(self.results) >= self.window:
                return
            idx = heapq.heappop(self.queue)
            a = self.idle.pop(0)
            ref = self.runner.actors[a].run.remote(self.batches[idx])
            self.inflight[ref] = (idx, a, time.monotonic())

    def _await_restart(self, a: int, since: float) -> None:
        self.starting[self.runner.actors[a].ready.remote()] = (a, since)

    def _failed(self, idx: int, a: int, reason: str, kill: bool) -> None:
        """Requeue the shard (or give up on it after max_attempts); the actor rejoins once restarted."""
        if kill:  # the process is alive but its stage is not trusted: a fresh process, a fresh engine
            try:
                ray.kill(self.runner.actors[a], no_restart=False)
            except Exception:  # already dead and restarting
                pass
        self._await_restart(a, time.monotonic())
        n = self.attempts[idx] = self.attempts.get(idx, 0) + 1
        log.warning("shard %d attempt %d failed: %s", idx, n, reason)
        if n < self.cfg.max_attempts:
            heapq.heappush(self.queue, idx)
        else:
            self.results[idx] = self.spec.fail(self.batches[idx], f"worker failed {n} times; last: {reason}")

    def _lose(self, a: int, why: str) -> None:
        log.warning("Ray worker %d leaves the pool: %s", a, why)
        self.lost[a] = why
        try:
            ray.kill(self.runner.actors[a], no_restart=True)
        except Exception:
            pass

    def _collect(self, ref: Any) -> None:
        if ref in self.starting:
            a, since = self.starting.pop(ref)
            try:
                info = ray.get(ref)
            except RayError as e:  # still restarting: ask again, within start_timeout_s
                if time.monotonic() - since < self.cfg.start_timeout_s:
                    time.sleep(0.2)
                    self._await_restart(a, since)
                else:
                    self._lose(a, f"not back after {self.cfg.start_timeout_s:g} s ({type(e).__name__})")
                return
            if info["error"]:
                self._lose(a, f"engine did not restart: {info['error'].get('what')}")
            elif (not self.cfg.allow_mixed_engines and self.pool_engine is not None
                  and info["engine"] != self.pool_engine):  # restarted on a node that resolves differently
                self._lose(a, f"restarted on {info['label']}, which resolves another engine "
                              f"({engine_label(info['engine'])})")
            else:
                self.engine_of[a] = info["engine"]
                self.idle.append(a)
            return
        shard, a, _ = self.inflight.pop(ref)
        try:
            res = ray.get(ref)
            if isinstance(res, ShardResult):
                res.engine = self.engine_of.get(a)
            self.results[shard] = res
            self.idle.append(a)
        except RayActorError as e:  # the process died (kill -9, OOM, a crashed engine): Ray restarts it
            self._failed(shard, a, f"worker died ({type(e).__name__})", kill=False)
        except RayTaskError as e:
            cause = e.cause if e.cause is not None else e
            last = (str(cause).strip().splitlines() or [""])[-1][:200]
            self._failed(shard, a, f"stage raised {type(cause).__name__}: {last}", kill=True)
        except RayError as e:  # object lost with its node, etc.
            self._failed(shard, a, type(e).__name__, kill=True)

    def result(self, idx: int) -> ShardResult:
        while idx not in self.results:
            self._fill(idx)
            if not self.inflight and not self.starting and not self.idle:
                raise UserError("runner", f"every Ray worker was lost ({'; '.join(sorted(set(self.lost.values())))})",
                                "fix the cluster or the backend, then rerun the same command: committed shards are kept")
            now = time.monotonic()
            deadline = min((t + self.cfg.shard_timeout_s for _, _, t in self.inflight.values()), default=now + 1)
            ready, _ = ray.wait([*self.inflight, *self.starting], num_returns=1,
                                timeout=max(0.05, min(1.0, deadline - now)))
            for ref in ready:
                self._collect(ref)
            now = time.monotonic()
            for ref, (shard, a, sent) in list(self.inflight.items()):
                if now - sent > self.cfg.shard_timeout_s:  # watchdog: a stuck engine never hangs the run
                    del self.inflight[ref]
                    self._failed(shard, a, f"no result after {self.cfg.shard_timeout_s:g} s (watchdog)", kill=True)
        return self.results.pop(idx)

    def cancel(self) -> None:
        """The commit stopped (budget, error): drop what is in flight; nothing uncommitted is kept."""
        for ref in self.inflight:
            try:
                ray.cancel(ref)
            except Exception:
                pass
        self.inflight.clear()
        self.starting.clear()
        self.results.clear()


# --- embedding: Ray Data over an actor pool, equal to the local Embedder bit for bit ----------------------
def plan_embedding_batches(texts: Sequence[str], model: str, batch_size: int) -> list[list[int]]:
    """The batches the local encode would run, as index lists: sentence-transformers sorts all texts by
    length (longest first) and cuts batch_size slices; the e5 path cuts slices in input order. Sending
    exactly these batches to the workers is what makes the vectors equal bit for bit (padding, and so
    the arithmetic, depends on which texts share a batch)."""
    import numpy as np

    order = (np.argsort([-len(t) for t in texts]) if model == "all-MiniLM-L6-v2"
             else np.arange(len(texts)))
    return [order[i:i + batch_size].tolist() for i in range(0, len(order), batch_size)]


class _EncodeBatches:
    """A Ray Data actor: one embedding model, one pre-planned batch per row."""

    def __init__(self, model: str, batch_size: int, device: str, threads: int):
        import torch

        from semisynth.collapse.monitor.embeddings import Embedder

        torch.set_num_threads(threads)  # float sums follow the thread count: fixed, not whatever the node has
        self.embedder = Embedder(model, batch_size, cache_dir=None, device=device)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        out = []
        for texts in batch["texts"]:
            vecs = self.embedder._encode_raw([str(t) for t in texts])
            out.append(np.ascontiguousarray(vecs, dtype=np.float32).tobytes())
        return {"k": batch["k"], "emb": np.array(out, dtype=object)}


def embed_texts(texts: Sequence[str], model: str = "all-MiniLM-L6-v2", batch_size: int = 64,
                config: RunnerConfig | None = None, device: str = "cpu") -> Any:
    """(n, d) float32 rows in input order, computed by `map_batches` on an actor pool of `workers`
    models; the same bits as `Embedder(model, batch_size).encode(texts)` without a cache, run with
    torch at `cpus_per_worker` threads (a different thread count changes float sums by ~1e-7)."""
    import numpy as np
    import ray.data

    config = config or RunnerConfig(kind="ray")
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    owns = connect(config)
    try:
        plan = plan_embedding_batches(texts, model, batch_size)
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        rows = [{"k": k, "texts": [texts[i] for i in idx]} for k, idx in enumerate(plan)]
        ds = ray.data.from_items(rows, override_num_blocks=min(len(rows), 4 * config.workers)).map_batches(
            _EncodeBatches, fn_constructor_kwargs={"model": model, "batch_size": batch_size, "device": device,
                                                   "threads": max(1, int(config.cpus_per_worker))},
            batch_size=1, batch_format="numpy", concurrency=config.workers, num_cpus=config.cpus_per_worker,
            num_gpus=config.gpus_per_worker or None)
        got = {int(r["k"]): r["emb"] for r in ds.iter_rows()}  # keyed by batch, never by arrival order
        if sorted(got) != list(range(len(plan))):
            raise RuntimeError(f"embedding lost batches: {len(got)} of {len(plan)} came back")
        dim = len(got[0]) // 4 // len(plan[0])
        out = np.empty((len(texts), dim), dtype=np.float32)
        for k, idx in enumerate(plan):
            out[idx] = np.frombuffer(got[k], dtype=np.float32).reshape(len(idx), dim)
        return out
    finally:
        if owns:
            ray.shutdown()


def ray_embedder(model: str = "all-MiniLM-L6-v2", batch_size: int = 64, cache_dir: str | os.PathLike | None = None,
                 config: RunnerConfig | None = None, device: str = "cpu") -> Any:
    """The monitor's `Embedder` (same content-hash cache, read and written by the driver) whose new
    texts are encoded on Ray by `embed_texts`. Without a running Ray it starts one private Ray at its
    first encode and keeps it for the next (the monitor encodes real, then synthetic texts) until
    `close()`."""
    from semisynth.collapse.monitor.embeddings import Embedder

    cfg = config or RunnerConfig(kind="ray")

    class RayEmbedder(Embedder):
        owns_ray = False  # True while this embedder holds the Ray it started

        def _encode_raw(self, texts: list[str]) -> Any:
            if not ray.is_initialized():
                self.owns_ray = connect(cfg)
            return embed_texts(texts, self.model_name, self.batch_size, cfg, self.device)

        def close(self) -> None:
            if self.owns_ray and ray.is_initialized():
                ray.shutdown()
            self.owns_ray = False

    return RayEmbedder(model, batch_size, cache_dir=cache_dir, device=device)
