"""Candidate responses for preference items: each prompt answered by several "arms" (a backend
plus sampling params and an optional system template), so raters compare different models,
temperatures or templates.

Every candidate is accounted for like `generate` accounts for outputs: it is in an item, or in the
rejects ledger with a reason (generation/checks.py: backend_error, empty, truncated, refusal,
too_short/too_long, copy of the prompt; plus duplicate of another arm's answer). A prompt left with
fewer than two candidates is a prompt-level reject (too_few_candidates), and so are its survivors.
Sampling seeds come from the prompt's content id and the arm's name, never from list positions: the
same prompt gets the same candidates whatever else is in the file or where --limit cuts it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from semisynth.backends import Backend, GenerationRequest, SamplingParams
from semisynth.generation.checks import CheckConfig, check_output
from semisynth.hashing import content_hash, seed_from
from semisynth.preference.curation import Item, preference_item, prompt_turns
from semisynth.records import Record, Reject

# answers to open prompts: no length ratio to a seed, no language check (an answer may switch language)
ANSWER_CHECKS = CheckConfig(language_check=False)


@dataclass(frozen=True)
class Arm:
    """One way of answering: a backend, its sampling, and an optional system prompt template."""

    name: str
    backend: Backend
    params: SamplingParams
    system: str | None = None


@dataclass
class CandidateRun:
    """What a candidates run made: items, and the ledger (prompt- and candidate-level rejects)."""

    items: list[Item] = field(default_factory=list)
    prompt_rejects: list[Reject] = field(default_factory=list)
    candidate_rejects: list[Reject] = field(default_factory=list)
    candidates: int = 0  # generated (prompts answered x arms)

    @property
    def rejects(self) -> list[Reject]:
        return [*self.prompt_rejects, *self.candidate_rejects]

    def summary(self) -> dict:
        kept = sum(len(it.payload["candidates"]) for it in self.items)
        return {"items": len(self.items), "rejected_prompts": len(self.prompt_rejects),
                "candidates": self.candidates, "candidates_kept": kept,
                "candidates_rejected": len(self.candidate_rejects),
                "reasons": dict(sorted(Counter(r.reason for r in self.rejects).items()))}


def request_seed(seed: int, prompt: Record, arm: Arm) -> int:
    return seed_from(seed, prompt.id, arm.name)


def _request(prompt: Record, arm: Arm, seed: int) -> GenerationRequest:
    turns = prompt_turns(prompt)
    if arm.system:
        turns = [{"role": "system", "content": arm.system}, *turns]
    return GenerationRequest(params=replace(arm.params, seed=request_seed(seed, prompt, arm)), messages=tuple(turns))


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def build_preference_items(prompts: Sequence[Record], arms: Sequence[Arm], seed: int = 0,
                           checks: CheckConfig = ANSWER_CHECKS) -> CandidateRun:
    """One batched generate call per arm; candidates keep model, sampling and template as lineage."""
    if len(arms) < 2:
        raise ValueError("preference candidates need at least two arms")
    run = CandidateRun()
    unique: list[Record] = []
    seen_ids: set[str] = set()
    for p in prompts:
        if p.id in seen_ids:  # same content id: the same item again
            run.prompt_rejects.append(Reject(id=p.id, parents=(p.id,), reason="duplicate_prompt",
                                             detail="the same prompt appears earlier in the input"))
            continue
        seen_ids.add(p.id)
        unique.append(p)
    outs = {}
    for arm in arms:
        reqs = [_request(p, arm, seed) for p in unique]
        outs[arm.name] = list(zip(reqs, arm.backend.generate(reqs), strict=True))
    run.candidates = len(unique) * len(arms)
    for i, p in enumerate(unique):
        cands, rejected, kept_by = [], [], {}
        for arm in arms:
            req, comp = outs[arm.name][i]
            text = comp.text.strip()
            rid = content_hash(["candidate", p.id, arm.name])
            reason, detail, _ = check_output(comp, text, p.content, None, checks,
                                             length_relative_to_seed=False, require_same_language=False)
            if reason in ("copy_of_seed", "near_copy_of_seed"):
                reason = reason.replace("seed", "prompt")
            if reason is None and _norm(text) in kept_by:
                reason, detail = "duplicate", f"same text as arm '{kept_by[_norm(text)]}'"
            if reason is not None:
                rejected.append(Reject(id=rid, parents=(p.id,), reason=reason, detail=detail, text=text or None,
                                       task_id=arm.name))
                continue
            kept_by[_norm(text)] = arm.name
            cands.append({"text": text, "arm": arm.name, "model": arm.backend.model_name,
                          "sampling": req.params.to_dict(), "template": arm.system,
                          "finish_reason": comp.finish_reason, "candidate_id": rid})
        run.candidate_rejects.extend(rejected)
        if len(cands) < 2:
            run.prompt_rejects.append(Reject(id=p.id, parents=(p.id,), reason="too_few_candidates",
                                             detail=f"{len(cands)} usable candidate(s) from {len(arms)} arms"))
            run.candidate_rejects.extend(
                Reject(id=c["candidate_id"], parents=(p.id,), reason="too_few_candidates",
                       detail="its prompt has no second usable candidate", text=c["text"], task_id=c["arm"])
                for c in cands)
            continue
        run.items.append(preference_item(p, cands))
    s = run.summary()
    # no silent loss: every prompt and every candidate is in an item or in the ledger
    assert len(prompts) == len(run.items) + len(run.prompt_rejects)
    assert s["candidates"] == s["candidates_kept"] + s["candidates_rejected"]
    return run
