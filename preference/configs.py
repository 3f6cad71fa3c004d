"""The preference commands' configs: one pydantic model per command, loadable from YAML; every field is also
a flag (semisynth/flags.py). Secrets never live here: API keys come from the environment variable named by
`argilla.api_key_env`."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from semisynth.backends import BackendSpec
from semisynth.config import CommandConfig, ConfigRefusal, Sampling, check_language_codes
from semisynth.runner import RunnerConfig
from semisynth.urls import url_problem  # also imported from here by preference.client


class ArgillaTarget(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    url: str | None = Field(None, description="a team's Argilla URL; unset = the local stack (or $ARGILLA_API_URL)")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        problem = url_problem(v) if v is not None else None
        if problem:
            raise ConfigRefusal(f"{v!r:.80} {problem}", "give the server's base URL, e.g. http://127.0.0.1:6900 or "
                                "https://argilla.example.com")
        return v
    api_key_env: str = Field("ARGILLA_API_KEY", description="environment variable holding the owner API key")

    @field_validator("api_key_env")
    @classmethod
    def _api_key_env(cls, v: str) -> str:
        # an empty or odd name read no key and told the user to `export =<owner API key>`
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v):
            raise ConfigRefusal(f"{v!r:.80} is not an environment variable name",
                                "give the variable's name without $ (letters, digits, _), e.g. ARGILLA_API_KEY")
        return v
    workspace: str = Field("semisynth", description="workspace prefix: each rater works in <workspace>--<rater>")
    state_dir: str = Field(".semisynth/argilla", description="local stack state (ports, pids, 0600 credentials)")


class StackConfig(CommandConfig):
    state_dir: str = Field(".semisynth/argilla", description="where the local stack keeps its state")
    server_python: str | None = Field(None, description="python of the argilla-server venv (default .venv-argilla)")
    show_secrets: bool = Field(False, description="print the password and API key (`up`, `status`)")


class PolicyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    max_disagreement: float = Field(0.34, ge=0, le=1, description="share of raters off the majority above "
                                    "which an item is escalated")
    min_raters: int = Field(2, ge=1, description="fewer submitted answers: the item is unresolved")
    min_confidence: float = Field(2.5, ge=1, le=5, description="mean rater confidence (1-5) below which an item "
                                  "is escalated")
    min_gold_accuracy: float = Field(0.6, ge=0, le=1, description="a rater below this on gold items is flagged "
                                     "and their answers escalated")
    min_gold_items: int = Field(3, ge=1, description="gold items a rater must answer before being judged on them")
    low_resource_languages: list[str] = Field(default_factory=list, description="language codes whose synthetic "
                                              "records always go to an expert")

    @field_validator("low_resource_languages")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        check_language_codes(v)
        return v

    def policy(self):
        from semisynth.preference.consensus import Policy

        return Policy(**{**self.model_dump(), "low_resource_languages": tuple(self.low_resource_languages)})


class PushConfig(CommandConfig):
    argilla: ArgillaTarget = ArgillaTarget()
    kind: str = Field(..., pattern="^(preference|moderation|review)$", description="what the raters do: rank "
                      "candidates, label against a taxonomy, or review synthetic records")
    input: str = Field(..., description="items JSONL (preference), records (moderation) or review_sample.jsonl")
    seeds: str | None = Field(None, description="real seed records (review: shown beside each synthetic record)")
    gold: str | None = Field(None, description="gold items JSONL: {item..., gold: answer}")
    dataset: str = Field(..., description="Argilla dataset name (one copy per rater)")
    taxonomy: str = Field("trust_safety", description="moderation: built-in taxonomy name or YAML path")
    raters: list[str] = Field(default_factory=list, description="rater usernames (created when missing)")
    k: int = Field(3, ge=1, description="raters per record (overlap)")
    batch_size: int = Field(256, ge=1, le=1000, description="records per request to Argilla")
    n_responses: int = Field(2, ge=2, le=8, description="preference: response fields in the dataset (the most "
                             "candidates an item may have)")
    low_resource_languages: list[str] = Field(default_factory=list, description="language codes marked for "
                                              "expert review in the record metadata")
    credentials_out: str | None = Field(None, description="0600 file for the passwords of raters this push "
                                        "creates (default <state_dir>/raters/credentials-<time>.json)")
    rejects: str | None = Field(None, description="review: a run's rejects ledger (run dir or rejects/); a small "
                                "sample of its rejects joins the review, marked auto_rejected, to calibrate the checks")
    rejects_sample: int = Field(30, ge=1, description="review: rejects drawn from `rejects`, stratified by reason")

    @field_validator("low_resource_languages")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        check_language_codes(v)
        return v


class ArmConfig(Sampling):
    """One way of answering a prompt: a backend plus its sampling (max_tokens, temperature, top_p: the shared
    `Sampling`) and an optional system prompt."""

    name: str = Field(..., min_length=1)
    backend: BackendSpec = Field(..., description="engine: kind, model, base_url, ...")
    system: str | None = Field(None, description="system prompt for this arm (a template difference)")


class CandidatesConfig(CommandConfig):
    prompts: str = Field(..., description="prompt records: seeds.jsonl of a run, or any corpus with a text column")
    out: str = Field(..., description="items JSONL to write (input of `preference push --kind preference`)")
    arms: list[ArmConfig] = Field(..., min_length=2, description="at least two ways of answering")
    seed: int = Field(0, description="run seed: each request's seed comes from it, the prompt and the arm")
    limit: int | None = Field(None, ge=1, description="first N prompts only")
    shard_size: int = Field(64, ge=1, le=100_000, description="answers per shard (one backend batch); "
                            "never changes the output")
    runner: RunnerConfig = Field(default_factory=RunnerConfig,
                                 description="where shards run: local (default) or ray; never changes the output")


class ReportConfig(CommandConfig):
    argilla: ArgillaTarget = ArgillaTarget()
    dataset: str = Field(..., description="Argilla dataset name (as pushed)")
    taxonomy: str | None = Field(None, description="moderation: the taxonomy YAML pushed with (default: the "
                                 "built-in one the items name)")
    out: str = Field(..., description="output folder")
    policy: PolicyConfig = PolicyConfig()
    bootstrap: int = Field(200, ge=0, description="bootstrap resamples for the agreement intervals (0: none)")
    monitor_report: str | None = Field(None, description="review: the monitor report.json the sample was drawn from; "
                                       "review.json is written beside it, fingerprinted to its records")


class ExportConfig(ReportConfig):
    format: str = Field(..., pattern="^(dpo|dpo_conversational|kto|moderation|review)$",
                        description="TRL's dpo / dpo_conversational / kto, or the moderation / review exports")


class EscalateConfig(CommandConfig):
    argilla: ArgillaTarget = ArgillaTarget()
    dataset: str = Field(..., description="Argilla dataset name (as pushed)")
    taxonomy: str | None = Field(None, description="moderation: the taxonomy YAML pushed with")
    experts: list[str] = Field(..., min_length=1, description="expert usernames (created when missing); their "
                               "answer wins")
    policy: PolicyConfig = PolicyConfig()
    credentials_out: str | None = Field(None, description="0600 file for the passwords of experts it creates")


class RatersConfig(CommandConfig):
    argilla: ArgillaTarget = ArgillaTarget()
    action: str = Field(..., pattern="^(add|list|reset)$", description="add raters, list them with their "
                        "queues, or reset passwords")
    names: list[str] = Field(default_factory=list, description="rater usernames (add, reset)")
    role: str = Field("annotator", pattern="^(annotator|admin)$", description="Argilla role of new raters")
    credentials_out: str | None = Field(None, description="0600 file for the passwords (default "
                                        "<state_dir>/raters/credentials-<time>.json)")
    print_credentials: bool = Field(False, description="print the passwords instead of writing the file")
