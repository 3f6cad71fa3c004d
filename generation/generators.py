"""Generators as task planners plus one stage that runs any batch of tasks on a backend.

Planning is pure and deterministic: (seeds, config) -> tasks with stable ids. The stage is a
plain callable over a batch of tasks -> records + rejects (one of the two per task), so any
runner (local, Ray) can drive it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from semisynth.backends import Backend, GenerationRequest, SamplingParams
from semisynth.hashing import content_hash, seed_from
from semisynth.records import Lineage, Message, Origin, Record, Reject
from semisynth.runner import ShardResult
from semisynth.taxonomy import Label, Taxonomy

from .checks import CheckConfig, MeaningEncoder, check_output, clean_output, meaning_applies, meaning_drift
from .prompts import PromptTemplate, neutralise_seed
from .transfer import TransferModel

Style = Literal["keep_irregularities", "clean"]
DEFAULT_TEMPLATES = {
    ("paraphrase", "keep_irregularities"): "paraphrase_keep_style",
    ("paraphrase", "clean"): "paraphrase_clean",
    ("seeded_synthetic", None): "seeded_synthetic",
    ("pure_synthetic", None): "pure_synthetic",
}


class GeneratorSpec(BaseModel):
    """One generator in a generate config."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["paraphrase", "seeded_synthetic", "pure_synthetic"] = Field(
        description="paraphrase: k variants per seed; seeded_synthetic: new text in a seed's style; "
        "pure_synthetic: from a taxonomy leaf alone (baseline)")
    variants: int = Field(2, ge=1, le=100, description="outputs per seed (per leaf for pure_synthetic)")
    style: Style = Field("keep_irregularities", description="paraphrase only: keep the seed's register, or clean it up")
    template: str | None = Field(None, description="built-in template name or path to a .j2 file")
    taxonomy: str | None = Field(None, description="taxonomy name or YAML path whose leaves to aim at")
    leaves: list[str] | None = Field(None, description="restrict to these leaf ids (default: all leaves)")
    domain: str | None = Field(None, description="who the texts are written to, e.g. \"a bank's customer support\" "
                               "(prompts' {{ domain }}); default: the taxonomy's `domain:`")

    @property
    def task_style(self) -> Style | None:
        """The style, for paraphrases only: the other kinds ignore it."""
        return self.style if self.kind == "paraphrase" else None

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.style}" if self.kind == "paraphrase" else self.kind

    def template_name(self) -> str:
        return self.template or DEFAULT_TEMPLATES[(self.kind, self.task_style)]


@dataclass(frozen=True)
class GenerationTask:
    id: str
    generator: str
    kind: str
    variant: int
    seed: Record | None
    leaf: Label | None
    template: PromptTemplate
    taxonomy_version: str | None
    style: str | None
    domain: str | None = None  # who the text is written to (taxonomy or config); None: the prompt names nobody
    length_ref: str | None = None  # no seed (pure synthetic): a corpus text whose length sizes max_tokens


@dataclass(frozen=True)
class OutputBudget:
    """Per-task decoding limits, so a finished answer stops at once and a runaway one costs little.

    max_tokens = ceil(ratio x the seed's tokens), within [floor, cap] (cap: the sampling max_tokens);
    a task without a seed is sized by `length_ref` (the corpus' 90th-percentile seed). `stop=None`
    means the defaults: the template's closing output tag, and a line break when the seed (or the
    yardstick) is one line, else a blank line: small models finish the answer, then ramble on below
    it. Hitting max_tokens is still the `truncated` reject, never a silent cut."""

    ratio: float | None = 2.0
    floor: int = 32
    stop: tuple[str, ...] | None = None

    def max_tokens(self, cap: int, ref_tokens: int | None) -> int:
        if self.ratio is None or ref_tokens is None:
            return cap
        return max(min(self.floor, cap), min(cap, math.ceil(self.ratio * ref_tokens)))

    def stops(self, template: PromptTemplate, reference: str | None) -> tuple[str, ...]:
        """The configured stops, or the defaults for a task whose seed (or length yardstick) is `reference`."""
        if self.stop is not None:
            return self.stop
        out = [f"</{template.output_tag}>"] if template.output_tag else []
        one_line = reference is not None and "\n" not in reference.strip()
        return (*out, "\n" if one_line else "\n\n")


def length_reference(seeds: Sequence[Record], quantile: float = 0.9) -> str | None:
    """The seed at the corpus' length quantile (by characters, ties by id): pure synthetic's length yardstick."""
    if not seeds:
        return None
    texts = sorted((len(t), s.id, t) for s in seeds
                    for t in [conversation_to_text(s.messages) if s.messages else s.content])
    return texts[min(len(texts) - 1, int(quantile * len(texts)))][2]


def plan_tasks(seeds: Sequence[Record], specs: Sequence[GeneratorSpec], templates: dict[str, PromptTemplate],
               taxonomies: dict[str, Taxonomy], sampling: SamplingParams, run_seed: int) -> list[GenerationTask]:
    """Every (seed, generator, variant) task, in a stable order; leaves are assigned round-robin."""
    tasks: list[GenerationTask] = []
    for spec in specs:
        tmpl = templates[spec.template_name()]
        tax = taxonomies.get(spec.taxonomy) if spec.taxonomy else None
        version = tax.version if tax else None
        domain = spec.domain or (tax.domain if tax else None)
        leaves: list[Label] = []
        if tax is not None:
            leaves = [tax.leaf(i) for i in spec.leaves] if spec.leaves else tax.leaves
        base = [spec.name, tmpl.hash, sampling.to_dict() | {"seed": None}, run_seed, version]
        base.append(domain)
        if spec.kind == "pure_synthetic":
            ref = length_reference(seeds)
            for leaf in leaves:
                for v in range(spec.variants):
                    tid = content_hash(base + [None, leaf.id, v])
                    tasks.append(GenerationTask(tid, spec.name, spec.kind, v, None, leaf, tmpl, version, None,
                                                domain, ref))
            continue
        for i, seed in enumerate(seeds):
            for v in range(spec.variants):
                leaf = leaves[(i * spec.variants + v) % len(leaves)] if leaves and spec.kind == "seeded_synthetic" else None
                tid = content_hash(base + [seed.id, leaf.id if leaf else None, v])
                tasks.append(GenerationTask(tid, spec.name, spec.kind, v, seed, leaf, tmpl, version, spec.task_style,
                                            domain))
    return tasks


_TURN = re.compile(r"^\s*(customer|agent|user|assistant)\s*:\s*(.*)$", re.IGNORECASE)
_ROLE = {"customer": "user", "user": "user", "agent": "assistant", "assistant": "assistant"}


def conversation_to_text(messages: Sequence[Message]) -> str:
    return "\n".join(f"{'customer' if m.role == 'user' else 'agent'}: {m.content}" for m in messages)


def parse_conversation(text: str) -> list[Message] | None:
    """Turn lines back into messages; None when the output is not in the turn format."""
    turns: list[Message] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        m = _TURN.match(line)
        if m:
            turns.append(Message(_ROLE[m.group(1).lower()], m.group(2).strip()))
        elif turns:
            turns[-1] = Message(turns[-1].role, f"{turns[-1].content}\n{line.strip()}")
        else:
            return None
    return turns or None


def _seed_text(seed: Record) -> str:
    return neutralise_seed(conversation_to_text(seed.messages) if seed.messages else seed.content)


def render_prompt(task: GenerationTask) -> str:
    """The user prompt of a task (pure: the same task always gives the same prompt)."""
    seed = task.seed
    return task.template.render(seed=_seed_text(seed) if seed is not None else None,
                                is_conversation=bool(seed and seed.messages),
                                language=seed.language if seed else "en", leaf=task.leaf,
                                variant=task.variant, style=task.style, domain=task.domain)


def _estimate_tokens(text: str) -> int:
    """For backends without a tokenizer here (http): ~4 bytes a token, deterministic."""
    return math.ceil(len(text.encode("utf-8")) / 4)


class GenerationStage:
    """Runs a batch of tasks on a backend, checks every output, returns records + rejects."""

    def __init__(self, backend: Backend, sampling: SamplingParams, checks: CheckConfig, run_id: str, run_seed: int,
                 transfer: TransferModel | None = None, budget: OutputBudget | None = None):
        self.backend, self.sampling, self.checks = backend, sampling, checks
        self.budget = budget  # None: every task gets `sampling` as it is (max_tokens, stop)
        self._count = getattr(backend, "count_tokens", None) or _estimate_tokens
        self.run_id, self.run_seed = run_id, run_seed
        self.transfer = transfer  # irregularity transfer after the checks (None: off)
        self.meaning = MeaningEncoder()  # loads the embedder on the first paraphrase it checks

    def _meaning_drift(self, kept: Sequence[tuple]) -> list[tuple[str | None, str | None]]:
        """meaning_drift verdicts for the kept outputs: paraphrases vs their seed, one embedding batch."""
        out: list[tuple[str | None, str | None]] = [(None, None)] * len(kept)
        idx = [i for i, (task, *_rest) in enumerate(kept) if task.kind == "paraphrase"
               and meaning_applies(task.seed.language, self.checks)]
        if idx:
            sims = self.meaning.similarity([kept[i][3] for i in idx], [kept[i][0].seed.content for i in idx])
            for i, sim in zip(idx, sims, strict=True):
                out[i] = meaning_drift(float(sim), self.checks)
        return out

    def _request(self, task: GenerationTask) -> GenerationRequest:
        seed_text = _seed_text(task.seed) if task.seed is not None else None
        prompt = render_prompt(task)
        params = replace(self.sampling, seed=seed_from(self.run_seed, task.id))
        if self.budget is not None:
            ref = seed_text if seed_text is not None else task.length_ref
            params = replace(params, max_tokens=self.budget.max_tokens(self.sampling.max_tokens,
                                                                       self._count(ref) if ref else None),
                             stop=self.budget.stops(task.template, ref))
        return GenerationRequest(params=params, messages=({"role": "user", "content": prompt},))

    def __call__(self, tasks: Sequence[GenerationTask]) -> ShardResult:
        requests = [self._request(t) for t in tasks]
        completions = self.backend.generate(requests)
        if len(completions) != len(tasks):  # a backend bug must not lose tasks silently
            raise RuntimeError(f"backend returned {len(completions)} completions for {len(tasks)} requests")
        records: list[Record] = []
        rejects: list[Reject] = []
        stats = {"prompt_tokens": 0, "completion_tokens": 0, "kept_completion_tokens": 0, "requests": len(tasks)}
        kept: list[tuple] = []  # passed the checks; meaning drift is judged for the whole batch at once
        for task, req, comp in zip(tasks, requests, completions, strict=True):
            stats["prompt_tokens"] += comp.prompt_tokens
            stats["completion_tokens"] += comp.completion_tokens
            parents = (task.seed.id,) if task.seed else ()
            text = clean_output(task.template.unwrap(comp.text))
            is_conv = bool(task.seed and task.seed.messages)
            messages = None
            reason, detail, lang = None, None, "und"
            if is_conv and comp.finish_reason == "stop" and text:
                messages = parse_conversation(text)
                if messages is None:
                    reason, detail = "not_a_conversation", "output lacks 'customer:'/'agent:' turn lines"
                elif task.kind == "paraphrase" and len(messages) != len(task.seed.messages):
                    reason, detail = "turns_changed", f"{len(messages)} turns, seed has {len(task.seed.messages)}"
            if reason is None:
                reason, detail, lang = check_output(
                    comp, "\n".join(m.content for m in messages) if messages else text,
                    task.seed.content if task.seed else None, task.seed.language if task.seed else None,
                    self.checks, length_relative_to_seed=task.kind == "paraphrase",
                    require_same_language=task.kind != "pure_synthetic")
            if reason is not None:
                rid = content_hash([task.id, "reject"])
                rejects.append(Reject(rid, parents, reason, detail=detail, text=comp.text or None, task_id=task.id))
                continue
            kept.append((task, req, comp, "\n".join(m.content for m in messages) if messages else text, text, messages,
                         lang))
        for (task, req, comp, _, text, messages, lang), (reason, detail) in zip(kept, self._meaning_drift(kept),
                                                                                strict=True):
            parents = (task.seed.id,) if task.seed else ()
            if reason is not None:  # compared on the model's own output, before any transfer
                rejects.append(Reject(content_hash([task.id, "reject"]), parents, reason, detail=detail,
                                      text=comp.text or None, task_id=task.id))
                continue
            edits: tuple = ()
            if self.transfer is not None and self.transfer.applies(task.generator):
                text, messages, edits = self.transfer.apply(text, messages, task.seed, lang,
                                                            seed_from(self.run_seed, task.id, "transfer"))
                stats["transfer_edits"] = stats.get("transfer_edits", 0) + len(edits)
            lineage = Lineage(generator=task.generator, template=task.template.name, template_hash=task.template.hash,
                              model=self.backend.model_name, sampling=req.params.to_dict(), seed=req.params.seed,
                              run_id=self.run_id, taxonomy_leaf=task.leaf.id if task.leaf else None,
                              task_id=task.id, variant=task.variant, style=task.style,
                              transfer=tuple(e.to_dict() for e in edits))
            meta = {"taxonomy_version": task.taxonomy_version} if task.taxonomy_version else {}
            origin = Origin.PARAPHRASE if task.kind == "paraphrase" else Origin.SYNTHETIC
            stats["kept_completion_tokens"] += comp.completion_tokens  # yield: tokens that became records
            records.append(Record.create(origin, text=None if messages else text, messages=messages,
                                         parents=parents, language=lang, lineage=lineage, meta=meta))
        return ShardResult(records, rejects, stats)
