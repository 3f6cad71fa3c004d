"""Iterative-collapse experiments: train on data, generate, train the next model on what it generated.

Modes (what generation g >= 1 trains on; generation 0 trains on n real records):
  replace     the n samples of generation g-1 (Shumailov et al. 2024)
  accumulate  every earlier generation's data plus the n new samples (Gerstgrasser et al. 2024)
  mix         round(f n) fresh real records plus n - round(f n) samples of generation g-1 (Seddik et al. 2024)

Run directory:
  experiment.json                       the config (a rerun with a different experiment is refused)
  runs/<condition>/seed<s>/gen<gg>/     data.jsonl (records new to the training set at g), samples.jsonl
                                        (n draws from model g: what g+1 trains on), model.json (the ids the
                                        model was fit on: lineage back to generation 0), metrics.json, DONE
  results.csv                           tidy: generation, mode, real_fraction, seed, metric, value
  report.html                           curves, mean and spread over seeds

Each generation is written file by file atomically and closed by a DONE marker; a rerun skips done
generations and continues from the last one. Generations run through the runner protocol (semisynth/runner.py):
each (condition, seed, generation) is a `ChainStep` for `ChainStage`, one generation of every unfinished chain
per round, here or on Ray (`runner:`); only the driver writes these files, in chain order. Every (condition, seed, generation) draws from its own RNG
seeded by semisynth.hashing.seed_from, so reruns and resumed runs give identical records.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from pathlib import Path
from typing import Any

import numpy as np

from semisynth.atomic import atomic_open, write_json, write_jsonl
from semisynth.errors import UserError
from semisynth.hashing import content_hash, seed_from
from semisynth.io import read_records
from semisynth.records import Origin, Record

from .config import IDENTITY_FIELDS, Condition, ExperimentConfig, conditions
from .families.categorical import CategoricalFamily
from .families.causal_lm import CausalLMFamily
from .families.gaussian import GaussianFamily
from .families.ngram import NGramFamily
from .families.protocol import FittedModel, ModelFamily
from .results import collect_results, write_report, write_results_csv
from .text_metrics import TextMetrics, make_embedder, pool_tail

log = logging.getLogger(__name__)


def build_family(cfg: ExperimentConfig, out: Path) -> ModelFamily:
    if cfg.family == "categorical":
        return CategoricalFamily(cfg.categories, cfg.zipf_exponent, heldout_size=cfg.heldout_size)
    if cfg.family == "gaussian":
        return GaussianFamily(heldout_size=cfg.heldout_size)
    if cfg.family == "ngram":
        return NGramFamily(cfg.ngram_order, cfg.ngram_discount, cfg.real_data, cfg.heldout_size,
                           floor=cfg.ngram_floor)
    return CausalLMFamily(cfg.base_model if cfg.family == "hf_lm" else None, cfg.real_data, cfg.heldout_size,
                          epochs=cfg.lm_epochs, lr=cfg.lm_lr, max_new_tokens=cfg.lm_max_new_tokens,
                          temperature=cfg.lm_temperature, backend=cfg.backend, workspace=out)


# -- the runner -------------------------------------------------------------------------------------
def _tag_records(records: Iterable[Record], run_id: str, task: str, meta: dict[str, Any]) -> list[Record]:
    out = []
    for r in records:
        lineage = r.lineage
        if r.origin != Origin.REAL:
            lineage = dc_replace(lineage, run_id=run_id, task_id=task)
        out.append(r.evolve(lineage=lineage, meta={**dict(r.meta), **meta}))
    return out


def _gen_dir(out: Path, cond: Condition, seed: int, g: int) -> Path:
    return out / "runs" / cond.tag / f"seed{seed}" / f"gen{g:03d}"


def _check_experiment(out: Path, cfg: ExperimentConfig, write: bool = True) -> str:
    """The experiment id; refuses to mix two different experiments in one folder (`write=False`: check only)."""
    ident = {k: getattr(cfg, k) for k in IDENTITY_FIELDS}
    run_id = content_hash(ident, 12)
    path = out / "experiment.json"
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            raise UserError(str(path), "unreadable experiment.json", "delete the run folder or use a new --out") from None
        diff = [k for k in IDENTITY_FIELDS if old.get("identity", {}).get(k) != ident[k]]
        if diff:
            raise UserError(str(out), f"holds a different experiment (differs in {', '.join(diff)})",
                            "use a new --out, or the same settings to resume")
    elif out.is_dir() and any(out.iterdir()):
        raise UserError(str(out), "exists and is not a collapse experiment folder (no experiment.json)",
                        "use a new --out folder")
    if write:
        write_json(path, {"run_id": run_id, "identity": ident, "config": cfg.model_dump(exclude={"runner"})})
    return run_id


class _Progress:
    def __init__(self, total: int, enabled: bool):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="gen", file=sys.stderr, desc="collapse")

    def step(self, label: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(label, refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@dataclass(frozen=True)
class ChainStep:
    """One work item: generation `g` of the chain (cond, seed), with what it needs of the earlier generations
    (read from their committed files, so a step runs the same in this process or in a Ray worker)."""

    cond: Condition
    seed: int
    g: int
    gen0: list[Record]  # the chain's generation-0 data: the text metrics' reference ([] for g == 0)
    earlier: list[Record]  # accumulate: every earlier generation's data in order ([] otherwise)
    prev_samples: list[Record]  # generation g-1's samples ([] for g == 0)

    @property
    def task(self) -> str:
        return f"{self.cond.tag}/seed{self.seed}/gen{self.g}"


@dataclass
class StepOutput:
    """What a step made; the driver writes it (data.jsonl, samples.jsonl, model.json, metrics.json, DONE)."""

    data: list[Record]
    samples: list[Record]
    model: dict[str, Any]
    metrics: dict[str, float]
    timing: dict[str, float]
    model_id: str
    files: dict[str, bytes] = field(default_factory=dict)  # a Ray worker's fit artefacts, for the driver to write


def sampling_spec(cfg: ExperimentConfig) -> Any:
    """The backend a causal-LM family samples with (each generation's own weights; the model named here only
    stands for them): what a worker resolves it to (device, dtype) is that generation's provenance."""
    if cfg.family not in ("tiny_lm", "hf_lm"):
        return None
    from semisynth.backends import backend_spec

    return backend_spec(kind=cfg.backend, model="each generation's weights", seed=0)


def train_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class ChainStage:
    """A runner stage (built from a picklable StageSpec where the work runs): fits, samples and scores one
    chain generation per item. Writes nothing of the results.

    `family`: the family the driver built (its real text read, its tiny base built, on the driver's disk).
    `portable` (Ray): the stage reads and writes nothing of the driver's disk, which a worker on another node
    does not see: the family arrives whole (its real pool and base model as data), a fit trains in this
    node's scratch folder and its files (the causal LM's weights) come back in `StepOutput.files` for the
    driver to write, and the embedding cache is off (the driver's cache is the driver's). Local: the fit
    keeps its artefacts in the generation's folder as it always has (resume reuses trained weights)."""

    def __init__(self, cfg: ExperimentConfig, out: str, run_id: str, family: ModelFamily | None = None,
                 portable: bool = False):
        self.cfg, self.out, self.run_id, self.portable = cfg, Path(out), run_id, portable
        self.family = family if family is not None else build_family(cfg, self.out)
        cache = None if portable else self.out / "embeddings"
        spec = sampling_spec(cfg)
        if spec is not None:  # as this process resolves it: recorded in every generation's model.json
            from semisynth.backends import describe_engine

            self.engine: dict[str, Any] | None = {"train_device": train_device(), "sample": describe_engine(spec)}
        else:
            self.engine = None
        self.embedder = make_embedder(cfg.embedder, cache) if self.family.is_text else None
        self.tail = pool_tail(self.family.real_pool()[0], cfg.tail_rank) if self.family.is_text else set()
        self._metrics: dict[tuple[str, int], TextMetrics] = {}  # per chain, as long as this worker lives

    def __call__(self, items: Iterable[ChainStep]) -> list[StepOutput]:
        return [self.step(it) for it in items]

    def _text_metrics(self, step: ChainStep, gen0: list[Record], heldout: list[Record]) -> TextMetrics:
        key = (step.cond.tag, step.seed)
        if key not in self._metrics:
            self._metrics[key] = TextMetrics([r.content for r in gen0], [r.content for r in heldout], self.embedder,
                                             self.cfg.metric_sample, self.tail, step.seed)
        return self._metrics[key]

    def step(self, step: ChainStep) -> StepOutput:
        cfg, family, cond, seed, g = self.cfg, self.family, step.cond, step.seed, step.g
        pool, heldout = family.real_pool()
        n = cfg.sample_size
        if n > len(pool):
            raise UserError("sample_size", f"{n} is more than the {len(pool)} real records available",
                            "lower sample_size or give a larger real_data corpus")
        meta = {"generation": g, "mode": cond.mode, "real_fraction": cond.real_fraction, "seed": seed}
        t0 = time.perf_counter()
        if g == 0:
            rng = np.random.default_rng(seed_from("gen0", family.name, seed, n))
            data = [pool[i] for i in np.sort(rng.choice(len(pool), size=n, replace=False))]
        elif cond.mode == "mix":
            k_real = round(cond.real_fraction * n)
            rng = np.random.default_rng(seed_from("real", cond.tag, seed, g))
            fresh = [pool[i] for i in np.sort(rng.choice(len(pool), size=k_real, replace=False))]
            data = step.prev_samples[: n - k_real] + fresh
        else:
            data = list(step.prev_samples)
        data = _tag_records(data, self.run_id, step.task, meta)
        train = step.earlier + data if cond.mode == "accumulate" else data
        fit_seed = seed_from("fit", "gen0" if g == 0 else cond.tag, seed, g)
        scratch = Path(tempfile.mkdtemp(prefix="semisynth-chain-")) if self.portable else None
        try:
            return self._fit_sample_score(step, data, train, fit_seed, meta, t0, scratch)
        finally:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)

    def _fit_sample_score(self, step: ChainStep, data: list[Record], train: list[Record], fit_seed: int,
                          meta: dict[str, Any], t0: float, scratch: Path | None) -> StepOutput:
        cfg, family, cond, seed, g = self.cfg, self.family, step.cond, step.seed, step.g
        n = cfg.sample_size
        _, heldout = family.real_pool()
        gdir = (scratch if scratch is not None else _gen_dir(self.out, cond, seed, g))
        t_fit = time.perf_counter()
        gdir.mkdir(parents=True, exist_ok=True)
        model: FittedModel = family.fit(train, fit_seed, workdir=gdir)
        t_sample = time.perf_counter()
        sample_seed = seed_from("sample", "gen0" if g == 0 else cond.tag, seed, g)
        samples = _tag_records(model.sample(n, sample_seed), self.run_id, step.task, meta)
        t_eval = time.perf_counter()
        metrics = dict(model.evaluate(heldout))
        if family.is_text:
            metrics_fn = self._text_metrics(step, data if g == 0 else step.gen0, heldout)
            metrics.update(metrics_fn([r.content for r in samples]))
            if g == 0:
                metrics.update(metrics_fn.baselines())
        metrics["train_size"] = float(len(train))
        metrics["train_real_share"] = sum(r.origin == Origin.REAL for r in train) / len(train)
        t_end = time.perf_counter()
        info = {"model_id": model.model_id, "generation": g, "mode": cond.mode, "seed": seed, "fit_seed": fit_seed,
                "sample_seed": sample_seed, "train_size": len(train), "train_ids": [r.id for r in train]}
        if self.engine is not None:
            info["engine"] = self.engine
        timing = {"fit_s": t_sample - t_fit, "sample_s": t_eval - t_sample, "metrics_s": t_end - t_eval,
                  "total_s": t_end - t0}
        files = ({str(f.relative_to(gdir)): f.read_bytes() for f in sorted(gdir.rglob("*")) if f.is_file()}
                 if scratch is not None else {})
        return StepOutput(data, samples, info, metrics, timing, model.model_id, files)


class _Chain:
    """The driver's view of one (condition, seed) chain: its committed generations, read back on resume."""

    FILES = ("data.jsonl", "samples.jsonl", "model.json", "metrics.json", "DONE")

    def __init__(self, cond: Condition, seed: int, out: Path, generations: int, progress: _Progress):
        self.cond, self.seed = cond, seed
        self.history: list[list[Record]] = []  # data.jsonl of each committed generation
        self.prev_samples: list[Record] = []
        self.next = 0
        while self.next <= generations:  # DONE markers are written in generation order: the done ones are a prefix
            gdir = _gen_dir(out, cond, seed, self.next)
            if not (gdir / "DONE").exists():
                break
            self.history.append(read_records(gdir / "data.jsonl"))
            self.prev_samples = read_records(gdir / "samples.jsonl")
            progress.step(f"{cond.tag}/seed{seed}/gen{self.next} (done)")
            self.next += 1

    def step(self) -> ChainStep:
        earlier = [r for h in self.history for r in h] if self.cond.mode == "accumulate" else []
        return ChainStep(self.cond, self.seed, self.next, self.history[0] if self.history else [], earlier,
                         self.prev_samples)

    def commit(self, out: Path, res: StepOutput, timings: list[dict[str, Any]]) -> None:
        """Write one generation file by file atomically, DONE last (a kill before it redoes the generation)."""
        gdir = _gen_dir(out, self.cond, self.seed, self.next)
        gdir.mkdir(parents=True, exist_ok=True)
        for name in self.FILES:  # a driver killed mid-write leaves its temp file: gone when the generation is redone
            for tmp in gdir.glob(f".{name}.*.tmp"):
                tmp.unlink(missing_ok=True)
        for rel, data in res.files.items():  # a Ray worker's weights: written here, before DONE
            with atomic_open(gdir / rel, "wb") as f:
                f.write(data)
        write_jsonl(gdir / "data.jsonl", (r.to_dict() for r in res.data))
        write_jsonl(gdir / "samples.jsonl", (r.to_dict() for r in res.samples))
        write_json(gdir / "model.json", res.model)
        write_json(gdir / "metrics.json", {"metrics": res.metrics, "timing": res.timing})
        with atomic_open(gdir / "DONE") as f:
            f.write(res.model_id + "\n")
        timings.append({"condition": self.cond.tag, "seed": self.seed, "generation": self.next, **res.timing})
        self.history.append(res.data)
        self.prev_samples = res.samples
        self.next += 1


def _in_order(runner: Any, steps: list[ChainStep], cfg: ExperimentConfig) -> Iterator[list[StepOutput]]:
    """The runner's results in step order; a step that failed on every Ray attempt (a chain has no rejects
    ledger to land in) is one line, and the rerun resumes from the committed generations."""
    results = runner.results([[s] for s in steps])
    while True:
        try:
            res = next(results)
        except StopIteration:
            return
        except RuntimeError as e:
            if cfg.runner.kind != "ray":
                raise
            raise UserError("runner", f"a chain generation failed on every Ray attempt ({e})",
                            "fix the cause (see the worker logs), then rerun the same command: committed "
                            "generations are kept") from None
        yield res


def run_chains(cfg: ExperimentConfig, out: Path, run_id: str, progress: _Progress,
               family: ModelFamily | None = None) -> list[dict[str, Any]]:
    """Every chain through the configured runner, one generation of every unfinished chain per round (each
    (condition, seed, generation) a work item; a chain's next generation needs its previous one). The
    driver commits each round's generations in chain order, so a Ray run writes a local run's bytes, and a
    killed run resumes from the last committed generation of each chain."""
    from semisynth.runner import StageSpec, make_runner

    chains = [_Chain(c, s, out, cfg.generations, progress) for c in conditions(cfg) for s in cfg.seeds]
    timings: list[dict[str, Any]] = []
    if all(c.next > cfg.generations for c in chains):
        return timings
    runner = make_runner(cfg.runner, out, shard_size=1, progress=False, desc="collapse")
    portable = cfg.runner.kind == "ray"
    family = family or build_family(cfg, out)  # on the driver: the real text read here, the tiny base built here
    prepare = getattr(family, "portable" if portable else "prepare", None)
    family = (prepare() or family) if prepare is not None else family
    paths = tuple(p for p in (cfg.base_model,) if p and Path(p).is_absolute())  # hf_lm's base folder
    try:
        runner.start(StageSpec(ChainStage, None, {"cfg": cfg, "out": str(out), "run_id": run_id, "family": family,
                                                  "portable": portable}, paths=paths, resolves=sampling_spec(cfg)))
        while pending := [c for c in chains if c.next <= cfg.generations]:
            steps = [c.step() for c in pending]
            for chain, step, res in zip(pending, steps, _in_order(runner, steps, cfg), strict=True):
                chain.commit(out, res[0], timings)
                progress.step(step.task)
    finally:
        runner.close()
    return timings


@dataclass
class ExperimentResult:
    out: Path
    rows: list[dict[str, Any]]
    timings: list[dict[str, Any]]


def check_inputs(cfg: ExperimentConfig, family: ModelFamily) -> None:
    """Everything about the data that would otherwise fail mid-run, checked before anything is written."""
    if cfg.real_data is not None and not family.is_text:
        raise UserError(f"--real-data {cfg.real_data}", f"family '{cfg.family}' simulates its own real data",
                        "drop --real-data, or use family ngram, tiny_lm or hf_lm")
    pool, heldout = family.real_pool()
    corpus = cfg.real_data or "the bundled real text"
    if cfg.sample_size > len(pool):
        raise UserError(f"{corpus}", f"{len(pool)} usable real records for training (after {len(heldout)} held "
                        f"out), fewer than sample_size {cfg.sample_size}",
                        f"lower sample_size (--sample-size {max(len(pool), 2)}) or give a larger real corpus")
    if family.is_text and len(heldout) < 2:
        raise UserError(f"{corpus}", f"only {len(heldout)} held-out real record(s) for perplexity "
                        f"({len(pool) + len(heldout)} usable texts of 2+ words)",
                        "give a real corpus with at least 10 texts of two or more words")


def absolute_paths(cfg: ExperimentConfig) -> ExperimentConfig:
    """--out, real_data and a base_model folder as absolute paths, before anything is shipped: a relative
    path would resolve in a Ray worker's own working folder (its session directory), not the driver's."""
    # an empty --out stays empty, for check_output_dir to refuse (made absolute it became the working folder)
    update: dict[str, Any] = {"out": str(Path(cfg.out).expanduser().absolute()) if cfg.out.strip() else cfg.out}
    if cfg.real_data is not None and cfg.real_data.strip():
        update["real_data"] = str(Path(cfg.real_data).expanduser().absolute())
    if cfg.base_model and Path(cfg.base_model).expanduser().exists():  # a folder here, not a hub/packaged name
        update["base_model"] = str(Path(cfg.base_model).expanduser().absolute())
    return cfg.model_copy(update=update)


def _remove_contents(out: Path, made: bool) -> None:
    """What this run wrote into `out` (which it found absent or empty): the folder too when it made it."""
    import shutil

    if made:
        shutil.rmtree(out, ignore_errors=True)
        return
    for p in out.iterdir():
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() and not p.is_symlink() else p.unlink(missing_ok=True)


def run_experiment(cfg: ExperimentConfig) -> ExperimentResult:
    from semisynth.paths import check_output_dir

    cfg = absolute_paths(cfg)
    out = check_output_dir(cfg.out, "--out")
    if cfg.real_data is not None and not cfg.real_data.strip():  # would silently mean "the bundled text"
        raise UserError("--real-data", "the real corpus path is empty",
                        "give a corpus path, or leave --real-data out to use the bundled real text")
    # Read and check the real corpus before the folder exists: a missing, empty or too small corpus
    # leaves nothing behind, and the corrected rerun is not refused as "a different experiment".
    family = build_family(cfg, out)
    check_inputs(cfg, family)
    _check_experiment(out, cfg, write=False)
    from semisynth.runner import check_ray_target

    check_ray_target(cfg.runner)  # an unreachable Ray is refused before experiment.json is written
    made = not out.exists()
    fresh = not (out / "experiment.json").exists()  # out is absent or empty here (_check_experiment)
    out.mkdir(parents=True, exist_ok=True)
    run_id = _check_experiment(out, cfg)
    progress = _Progress(len(conditions(cfg)) * len(cfg.seeds) * (cfg.generations + 1), cfg.progress)
    try:
        timings = run_chains(cfg, out, run_id, progress, family)
    except BaseException:
        # a run that failed before committing any generation (Ray workers that never started, engines that
        # disagree, a cluster that never grew) leaves nothing behind: not even experiment.json
        if fresh and not any(out.glob("runs/*/seed*/gen*/DONE")):
            _remove_contents(out, made)
        raise
    finally:
        progress.close()
    rows = collect_results(out)
    write_results_csv(out / "results.csv", rows)
    write_report(out / "report.html", rows, cfg)
    return ExperimentResult(out, rows, timings)


def ancestry(chain_dir: str | Path, generation: int) -> dict[int, dict[str, int]]:
    """Walk a generation's model back through the ids it was trained on, down to generation 0.

    Returns generation -> origin -> number of ancestor records found in that generation's data, so a
    caller can check that lineage ends in real records of generation 0."""
    chain = Path(chain_dir)
    index: dict[str, tuple[int, str]] = {}
    for gdir in sorted(chain.glob("gen*")):
        g = int(gdir.name[3:])
        for r in read_records(gdir / "data.jsonl"):
            index.setdefault(r.id, (g, r.origin.value))  # a real record drawn again stays where it first was
    found: dict[int, Counter[str]] = defaultdict(Counter)
    frontier = list(json.loads((chain / f"gen{generation:03d}" / "model.json").read_text())["train_ids"])
    seen: set[str] = set()
    expanded: set[int] = set()
    while frontier:
        rid = frontier.pop()
        if rid in seen or rid not in index:
            continue
        seen.add(rid)
        g, origin = index[rid]
        found[g][origin] += 1
        if origin != "real" and g > 0 and g - 1 not in expanded:
            # a synthetic record of generation g was sampled from model g-1: its parents are that model's data
            expanded.add(g - 1)
            prev = json.loads((chain / f"gen{g - 1:03d}" / "model.json").read_text())
            frontier.extend(prev["train_ids"])
    return {g: dict(c) for g, c in sorted(found.items())}
