"""Candidate responses for preference items: each prompt answered by several "arms" (a backend
plus sampling params and an optional system template), so raters compare different models,
temperatures or templates. A prompt left with fewer than two candidates becomes a Reject."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from semisynth.backends import Backend, GenerationRequest, SamplingParams
from semisynth.preference.curation import Item, preference_item, prompt_turns
from semisynth.records import Record, Reject


@dataclass(frozen=True)
class Arm:
    """One way of answering: a backend, its sampling, and an optional system prompt template."""

    name: str
    backend: Backend
    params: SamplingParams
    system: str | None = None


def _request(prompt: Record, arm: Arm, seed: int) -> GenerationRequest:
    turns = prompt_turns(prompt)
    if arm.system:
        turns = [{"role": "system", "content": arm.system}, *turns]
    return GenerationRequest(params=replace(arm.params, seed=seed), messages=tuple(turns))


def build_preference_items(prompts: Sequence[Record], arms: Sequence[Arm], seed: int = 0
                           ) -> tuple[list[Item], list[Reject]]:
    """One batched generate call per arm; candidates keep model, sampling and template as lineage."""
    if len(arms) < 2:
        raise ValueError("preference candidates need at least two arms")
    outs = {}
    for arm in arms:
        reqs = [_request(p, arm, seed + i) for i, p in enumerate(prompts)]
        outs[arm.name] = list(zip(reqs, arm.backend.generate(reqs), strict=True))
    items, rejects = [], []
    for i, p in enumerate(prompts):
        cands, seen = [], set()
        for arm in arms:
            req, comp = outs[arm.name][i]
            text = comp.text.strip()
            if comp.finish_reason == "error" or not text or text in seen:
                continue
            seen.add(text)
            cands.append({"text": text, "arm": arm.name, "model": arm.backend.model_name,
                          "sampling": req.params.to_dict(), "template": arm.system,
                          "finish_reason": comp.finish_reason})
        if len(cands) < 2:
            rejects.append(Reject(id=p.id, parents=(p.id,), reason="too_few_candidates",
                                  detail=f"{len(cands)} usable candidate(s) from {len(arms)} arms"))
            continue
        items.append(preference_item(p, cands))
    return items, rejects
