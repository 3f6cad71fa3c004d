"""Candidate responses for preference items: each prompt answered by several "arms" (a backend
plus sampling params and an optional system template), so raters compare different models,
temperatures or templates.

Every candidate is accounted for like `generate` accounts for outputs: it is in an item, or in the
rejects ledger with a reason (generation/checks.py: backend_error, empty, truncated, refusal,
too_short/too_long, copy of the prompt; plus duplicate of another arm's answer). A prompt left with
fewer than two candidates is a prompt-level reject (too_few_candidates), and so are its survivors.
Sampling seeds come from the prompt's content id and the arm's name, never from list positions: the
same prompt gets the same candidates whatever else is in the file or where --limit cuts it.

`run_candidates` answers through the runner protocol (semisynth/runner.py): each (prompt, arm) pair is a
task, `AnswerStage` is built from a picklable StageSpec wherever the work runs (here, or in each Ray
worker), and the runner hands the shards' answers back in shard order (`Runner.results`); the items are then
assembled in the driver, so `--runner ray` writes the same bytes as `--runner local`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from semisynth.backends import Backend, Completion, GenerationRequest, SamplingParams
from semisynth.engine_log import EngineLog
from semisynth.errors import UserError
from semisynth.generation.checks import CheckConfig, check_output
from semisynth.hashing import content_hash, seed_from
from semisynth.paths import check_output_file
from semisynth.preference.configs import CandidatesConfig
from semisynth.preference.curation import Item, preference_item, prompt_turns
from semisynth.records import Record, Reject
from semisynth.runner import ShardResult, StageSpec, make_runner

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


@dataclass(frozen=True)
class ArmOptions:
    """An arm without its engine: what travels to a worker (picklable)."""

    name: str
    params: SamplingParams
    system: str | None = None


def request_seed(seed: int, prompt: Record, arm: Arm | ArmOptions) -> int:
    return seed_from(seed, prompt.id, arm.name)


def candidate_id(prompt: Record, arm_name: str) -> str:
    return content_hash(["candidate", prompt.id, arm_name])


def _request(prompt: Record, arm: Arm | ArmOptions, seed: int) -> GenerationRequest:
    turns = prompt_turns(prompt)
    if arm.system:
        turns = [{"role": "system", "content": arm.system}, *turns]
    return GenerationRequest(params=replace(arm.params, seed=request_seed(seed, prompt, arm)), messages=tuple(turns))


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _unique_prompts(prompts: Sequence[Record], run: CandidateRun) -> list[Record]:
    unique: list[Record] = []
    seen_ids: set[str] = set()
    for p in prompts:
        if p.id in seen_ids:  # same content id: the same item again
            run.prompt_rejects.append(Reject(id=p.id, parents=(p.id,), reason="duplicate_prompt",
                                             detail="the same prompt appears earlier in the input"))
            continue
        seen_ids.add(p.id)
        unique.append(p)
    return unique


def build_preference_items(prompts: Sequence[Record], arms: Sequence[Arm], seed: int = 0,
                           checks: CheckConfig = ANSWER_CHECKS) -> CandidateRun:
    """In-process, on live backends: one batched generate call per arm, then `assemble_items`."""
    if len(arms) < 2:
        raise ValueError("preference candidates need at least two arms")
    run = CandidateRun()
    unique = _unique_prompts(prompts, run)
    answers: dict[str, tuple[Completion, str]] = {}
    for arm in arms:
        reqs = [_request(p, arm, seed) for p in unique]
        for p, comp in zip(unique, arm.backend.generate(reqs), strict=True):
            answers[candidate_id(p, arm.name)] = (comp, arm.backend.model_name)
    options = [ArmOptions(a.name, a.params, a.system) for a in arms]
    return assemble_items(prompts, unique, run, options, answers, seed, checks)


def assemble_items(prompts: Sequence[Record], unique: Sequence[Record], run: CandidateRun,
                   arms: Sequence[ArmOptions], answers: Mapping[str, tuple[Completion, str]], seed: int,
                   checks: CheckConfig = ANSWER_CHECKS) -> CandidateRun:
    """Check every answer (candidate id -> completion, model name) and build the items in prompt order;
    candidates keep model, sampling and template as lineage."""
    run.candidates = len(unique) * len(arms)
    for p in unique:
        cands, rejected, kept_by = [], [], {}
        for arm in arms:
            req = _request(p, arm, seed)
            rid = candidate_id(p, arm.name)
            comp, model_name = answers[rid]
            text = comp.text.strip()
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
            cands.append({"text": text, "arm": arm.name, "model": model_name,
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


# --- through the runner protocol ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerTask:
    """One work item: a prompt answered by one arm. Its key is the candidate id."""

    prompt: Record
    arm: ArmOptions

    @property
    def id(self) -> str:
        return candidate_id(self.prompt, self.arm.name)


class AnswerStage:
    """A runner stage: answers a shard of tasks in one backend call. Each answer comes back as a record
    keyed by its candidate id, the raw completion in `meta`; the checks run in the driver (assemble_items),
    so a shard is pure generation and its result is the same wherever it ran."""

    def __init__(self, backend: Backend, seed: int):
        self.backend, self.seed = backend, seed

    def __call__(self, tasks: Sequence[AnswerTask]) -> ShardResult:
        reqs = [_request(t.prompt, t.arm, self.seed) for t in tasks]
        comps = self.backend.generate(reqs)
        records = [Record(id=t.id, origin="synthetic", text=c.text, parents=(t.prompt.id,),
                          meta={"arm": t.arm.name, "model": self.backend.model_name, "finish_reason": c.finish_reason,
                                "prompt_tokens": c.prompt_tokens, "completion_tokens": c.completion_tokens,
                                "error": c.error})
                   for t, c in zip(tasks, comps, strict=True)]
        return ShardResult(records, [], {"prompt_tokens": sum(c.prompt_tokens for c in comps),
                                         "completion_tokens": sum(c.completion_tokens for c in comps)})


def _answers_from(result: ShardResult) -> dict[str, tuple[Completion, str]]:
    if result.rejects:  # AnswerStage rejects nothing: every answer, an error too, comes back as a record
        raise RuntimeError(f"unexpected rejects from AnswerStage: {[r.reason for r in result.rejects]}")
    return {r.id: (Completion(r.text or "", r.meta["finish_reason"], r.meta["prompt_tokens"],
                              r.meta["completion_tokens"], r.meta.get("error")), r.meta["model"])
            for r in result.records}


def run_candidates(cfg: CandidatesConfig, progress: bool | None = False) -> dict[str, Any]:
    """Answer each prompt with every arm through the configured runner (one engine per backend spec, shared
    by the arms on it), assemble the items, then write items and ledger (nothing before that)."""
    from semisynth.atomic import write_jsonl
    from semisynth.io import read_records

    if len({a.name for a in cfg.arms}) != len(cfg.arms):
        raise UserError("candidates: field 'arms'", "arm names repeat", "give each arm its own name")
    check_output_file(cfg.out, "out (--out)")  # before any engine starts; the rejects ledger goes beside it
    prompts = read_records(cfg.prompts)[: cfg.limit]  # never empty: read_records raises on an empty corpus
    run = CandidateRun()
    unique = _unique_prompts(prompts, run)
    options = [ArmOptions(a.name, a.params(), a.system) for a in cfg.arms]
    groups: dict[str, tuple[Any, list[ArmOptions]]] = {}
    for a, opt in zip(cfg.arms, options, strict=True):
        groups.setdefault(a.backend.model_dump_json(), (a.backend, []))[1].append(opt)
    answers: dict[str, tuple[Completion, str]] = {}
    out = Path(cfg.out)
    # the engines' chatter goes to <out>.engine.log beside the items (-v: the terminal too), written last
    with EngineLog(near=out) as engine_log:  # no --quiet here: semisynth's warnings stay on the terminal
        for backend, arms in groups.values():
            # arm by arm, as one generate call per arm was: batches hold one arm's sampling
            tasks = [AnswerTask(p, arm) for arm in arms for p in unique]
            batches = [tasks[i:i + cfg.shard_size] for i in range(0, len(tasks), cfg.shard_size)]
            # results() writes nothing (the run dir is unused): items and ledger are written once, below
            runner = make_runner(cfg.runner, out.parent, cfg.shard_size, None, progress, desc="candidates")
            try:
                runner.start(StageSpec(AnswerStage, backend, {"seed": cfg.seed}))
                for result in runner.results(batches):
                    answers.update(_answers_from(result))
            finally:
                runner.close()
        run = assemble_items(prompts, unique, run, options, answers, cfg.seed)
        rejects_path = out.with_name(out.stem + ".rejects.jsonl")
        write_jsonl(rejects_path, (r.to_dict() for r in run.rejects))
        write_jsonl(out, (it.to_dict() for it in run.items))
        engine_log.settle(out.with_name(out.stem + ".engine.log"))
    return {"prompts": len(prompts), **run.summary(), "out": str(out), "rejects": str(rejects_path)}
