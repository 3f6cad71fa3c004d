"""Generators as task planners: (seeds, config) -> tasks with stable ids, pure and deterministic; and the
`customer:`/`agent:` turn format conversations are written in."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from semisynth.backends import SamplingParams
from semisynth.hashing import content_hash
from semisynth.records import Message, Record
from semisynth.taxonomy import Label, Taxonomy

from .prompts import PromptTemplate

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
