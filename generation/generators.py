"""One stage that runs any batch of generation tasks on a backend (planning is in tasks.py).

The stage is a plain callable over a batch of tasks -> records + rejects (one of the two per task),
so any runner (local, Ray) can drive it. Here too: how each answer is shaped for the model (its
budget, stops and prefilled lead) and the bounded redraws.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace

from semisynth.backends import Backend, Completion, GenerationRequest, SamplingParams
from semisynth.hashing import content_hash, seed_from
from semisynth.langid import detect_language, identify
from semisynth.lexicon import PLACEHOLDER
from semisynth.records import Lineage, Message, Origin, Record, Reject
from semisynth.runner import ShardResult

from .checks import (
    CheckConfig,
    InstructionEcho,
    MeaningEncoder,
    check_output,
    clean_output,
    is_rare_word,
    meaning_applies,
    meaning_drift,
)
from .facts import closest, fact_change, form_defect
from .prompts import PromptTemplate, neutralise_seed
from .tasks import (  # noqa: F401  (planning lived here: its names stay importable from this module)
    DEFAULT_TEMPLATES,
    GenerationTask,
    GeneratorSpec,
    Style,
    conversation_to_text,
    length_reference,
    parse_conversation,
    plan_tasks,
)
from .transfer import TransferModel


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
        if template.output_tag and (reference is None or "</" not in reference):
            # any closing tag ends the answer: a small model closes the placeholder it began with (`</HANDLE>`)
            # and then writes another tagged answer; a seed with closing tags of its own (HTML) keeps them
            out = ["</"]
        one_line = reference is not None and "\n" not in reference.strip()
        return (*out, "\n" if one_line else "\n\n")


def _seed_text(seed: Record) -> str:
    return neutralise_seed(conversation_to_text(seed.messages) if seed.messages else seed.content)


def render_prompt(task: GenerationTask) -> str:
    """The user prompt of a task (pure: the same task always gives the same prompt)."""
    seed = task.seed
    return task.template.render(seed=_seed_text(seed) if seed is not None else None,
                                is_conversation=bool(seed and seed.messages),
                                language=seed.language if seed else "en", leaf=task.leaf,
                                variant=task.variant, style=task.style, domain=task.domain)


_LEADING_PLACEHOLDERS = re.compile(rf"^(?:\s*(?:{PLACEHOLDER.pattern}|@\w+))+")  # the seed's opening handles


def answer_lead(task: GenerationTask) -> str:
    """How the model's answer starts, written for it (the assistant turn is prefilled and continued).

    The template's opening output tag, then what the seed opens with that the answer must keep too: the
    first turn's role for a conversation, the leading @handles/placeholders for a message. A small model
    given only instructions tends to talk about the task ("The rewritten message:"); one whose answer has
    already begun writes it. Empty when the template declares no output tag."""
    tag = task.template.output_tag
    if tag is None:
        return ""
    lead, seed = f"<{tag}>", task.seed
    if seed is None:
        return lead
    if seed.messages:
        return lead + ("customer:" if seed.messages[0].role == "user" else "agent:")
    m = _LEADING_PLACEHOLDERS.match(seed.content or "")
    return lead + (m.group(0).strip() if m else "")


_KEPT_WORD = re.compile(rf"^(?:{PLACEHOLDER.pattern}|@\w+|#\w+|[\d.,:/$%-]+)$")  # words every version keeps


def seed_ngrams(text: str, n: int, count_tokens: Callable[[str], int], limit: int = 60,
                max_tokens: int = 480) -> tuple[str, ...]:
    """The seed's runs of `n` words, for decoding to avoid (SamplingParams.avoid): a draw can keep any word
    of its seed but never `n` in a row, so it cannot be a copy. Runs made only of words every version
    keeps (placeholders, handles, numbers) are left out. vLLM takes at most 128 token sequences (each
    phrase counts up to twice) of 1,024 tokens in all: past `limit` runs or `max_tokens` tokens, every
    k-th run, which still blocks any copy of n + k - 1 words."""
    words = text.split()
    runs = list(dict.fromkeys(" ".join(words[i:i + n]) for i in range(len(words) - n + 1)
                              if not all(_KEPT_WORD.match(w) for w in words[i:i + n])))
    costs = [count_tokens(r) + 1 for r in runs]  # +1: the leading-space form may tokenize one longer
    step = 1
    while step < len(runs) and (len(runs[::step]) > limit or sum(costs[::step]) > max_tokens):
        step += 1
    return tuple(r for r, c in zip(runs[::step], costs[::step], strict=True) if c <= max_tokens // 4)


def example_avoid(template: PromptTemplate) -> tuple[str, ...]:
    """What decoding must not write of the template's example answer ("the rewritten message"), which small
    models copy when the seed's own wording is forbidden: its last two words, its rare words and the output
    tag's name (task words: "rewritten", "rewrite") alone and after the example's first word, each as written,
    Capitalised and in capitals. The pairs matter: vLLM reads a bad word without its leading space, so
    "rewritten" alone does not block " rewritten" (one token), while "the rewritten" does after "the".
    Real text rarely needs them: "rewrit" is in 6 of 38,158 real tweets, "new message" in none."""
    out: list[str] = []
    for example in template.example_answers:
        words = example.split()
        rare = [w for w in dict.fromkeys([*words, template.output_tag or ""]) if is_rare_word(w)]
        pairs = [" ".join(words[i:i + 2]) for i in range(len(words) - 1)
                 if words[i] in rare or words[i + 1] in rare or i == len(words) - 2]
        for phrase in [*pairs, *rare, *(f"{words[0]} {w}" for w in rare if len(words) > 1 and w not in words)]:
            first = phrase.split()[0]
            out += [phrase, phrase[:1].upper() + phrase[1:], first.upper() + phrase[len(first):]]
    return tuple(dict.fromkeys(out))


def _estimate_tokens(text: str) -> int:
    """For backends without a tokenizer here (http): ~4 bytes a token, deterministic."""
    return math.ceil(len(text.encode("utf-8")) / 4)


# Reasons a fresh draw can fix (the model said something unusable this time). A backend error is not
# redrawn here (the runner retries whole shards), nor is anything a config or the seed decides.
REDRAW_REASONS = frozenset({"empty", "too_short", "too_long", "truncated", "refusal", "copy_of_seed",
                            "near_copy_of_seed", "wrong_language", "meaning_drift", "not_a_conversation",
                            "turns_changed", "echoes_prompt", "number_changed", "code_changed", "name_changed", "time_changed",
                            "placeholder_changed", "sentence_type_changed", "negation_changed", "speaker_changed",
                            "nothing_said", "invented_token", "token_repeated", "placeholder_glued", "role_prefix", "narrates",
                            "repetition_loop", "reword_of_seed", "copies_prompt_example"})
# A seeded-synthetic record this close to its seed (SequenceMatcher over its words) rewords it; a synthetic record
# this close to its leaf's definition or one of its examples returns the prompt.
REWORD_SIMILARITY = 0.6
EXAMPLE_SIMILARITY = 0.7
_GLUE_AFTER_LEAD = re.compile(rf"(?:{PLACEHOLDER.pattern}|@\w+)$")


def _continue(lead: str, text: str) -> str:
    """The answer: the prefilled lead, then what the model wrote. A lead that ends in the seed's opening
    <HANDLE> loses its trailing space (a prefill ending in a space makes BPE models write odd tokens), so the
    model's first word would touch it: the space is put back (no seed has "<HANDLE>thanks")."""
    if _GLUE_AFTER_LEAD.search(lead) and text[:1].isalnum():
        return f"{lead} {text}"
    return lead + text


@dataclass(frozen=True)
class _Verdict:
    """One task's outcome on one draw: passed (reason None, with the text to keep) or rejected."""

    reason: str | None
    detail: str | None = None
    text: str = ""  # the answer as judged (a conversation: its turns joined)
    messages: list[Message] | None = None
    language: str = "und"
    edits: tuple = ()  # the irregularity transfer's edits, once applied


class GenerationStage:
    """Runs a batch of tasks on a backend, checks every output, returns records + rejects.

    A task whose output fails a check a new draw can fix is drawn again, up to `attempts` draws in all,
    each with its own seed derived from the task (so the same shard always gives the same records);
    the first draw is the one a stage with `attempts=1` makes. A task kept on a later draw says so in
    `lineage.attempt`; one rejected every time lands in the ledger with every draw's reason."""

    def __init__(self, backend: Backend, sampling: SamplingParams, checks: CheckConfig, run_id: str, run_seed: int,
                 transfer: TransferModel | None = None, budget: OutputBudget | None = None,
                 prefill: bool = False, attempts: int = 1, avoid_ngrams: int | None = None,
                 avoid_examples: bool = False):
        self.backend, self.sampling, self.checks = backend, sampling, checks
        self.budget = budget  # None: every task gets `sampling` as it is (max_tokens, stop)
        self.prefill = prefill  # start each answer for the model (answer_lead); False: the prompt alone
        self.attempts = max(1, int(attempts))
        self.avoid_ngrams = avoid_ngrams  # a draw may not repeat this many seed words in a row (None: off)
        self.avoid_examples = avoid_examples  # nor write its template's example answer
        self._avoided: dict[str, tuple[str, ...]] = {}  # seed text -> its runs to avoid (this batch)
        # template hash -> what of its instructions an answer must not repeat, and what decoding must not write
        self._by_template: dict[str, tuple[InstructionEcho | None, tuple[str, ...]]] = {}
        self._count = getattr(backend, "count_tokens", None) or _estimate_tokens
        self.run_id, self.run_seed = run_id, run_seed
        self.transfer = transfer  # irregularity transfer after the checks (None: off)
        self.meaning = MeaningEncoder()  # loads the embedder on the first paraphrase it checks

    def warm_up(self) -> None:
        """Load the meaning-drift embedder and the language identifier now (the runner calls this where the stage is built), so the first
        shard does not pay for it and a missing model fails before any work."""
        if self.checks.meaning_min_similarity > 0:
            self.meaning.encode(["warm up"])
        detect_language("warm up the language identifier")  # its profiles load on first use (~2.5 s)

    def _template_checks(self, template: PromptTemplate) -> tuple[InstructionEcho | None, tuple[str, ...]]:
        """A template's echo check (None when off) and its example answer's phrases to avoid, worked out once per
        template, not per request (every draw and turn of every task would redo the same regexes and lookups)."""
        if template.hash not in self._by_template:
            n = self.checks.echo_min_words
            self._by_template[template.hash] = (InstructionEcho.of(template.instructions, n) if n else None,
                                                example_avoid(template))
        return self._by_template[template.hash]

    def _unsupported_languages(self, tasks: Sequence[GenerationTask]) -> dict[int, str]:
        """Task index -> its seed's language, for the tasks whose seed the model is not to write: only a confident
        guess on enough text counts (a short English tweet can look Romanian to a detector), so a short seed is
        always tried. Each seed is identified once for all its tasks."""
        if not self.checks.languages:
            return {}
        by_seed: dict[str, str | None] = {}
        for seed in {t.seed.id: t.seed for t in tasks if t.seed is not None}.values():
            guess = identify(seed.content)
            by_seed[seed.id] = guess.lang if guess.present and guess.lang not in self.checks.languages else None
        return {i: lang for i, t in enumerate(tasks) if t.seed is not None and (lang := by_seed[t.seed.id])}

    def _by_turn(self, task: GenerationTask) -> bool:
        """A conversation answer is written one turn per request, its roles written for the model: the
        seed's turn count and roles hold by construction (small models drop or merge turns)."""
        return self.prefill and task.seed is not None and bool(task.seed.messages) and bool(task.template.output_tag)

    def request(self, task: GenerationTask, attempt: int = 1, turn: int = 0, so_far: str = "") -> GenerationRequest:
        """The request for one draw of a task (for a conversation written by turn: of its turn `turn`,
        after the answer `so_far`). Draw 1, turn 0 has the task's own seed; the others derive theirs."""
        seed_text = _seed_text(task.seed) if task.seed is not None else None
        prompt = render_prompt(task)
        seed = seed_from(self.run_seed, task.id, *([attempt] if attempt > 1 else []), *([turn] if turn else []))
        params = replace(self.sampling, seed=seed)
        by_turn = self._by_turn(task)
        if self.budget is not None:
            ref = seed_text if seed_text is not None else task.length_ref
            if by_turn:  # sized by, and one line like, the seed's own turn
                ref = task.seed.messages[turn].content.strip().replace("\n", " ")
            params = replace(params, max_tokens=self.budget.max_tokens(self.sampling.max_tokens,
                                                                       self._count(ref) if ref else None),
                             stop=self.budget.stops(task.template, ref))
        if self.avoid_ngrams and task.seed is not None and task.kind in ("paraphrase", "seeded_synthetic"):
            own = task.seed.messages[turn].content if by_turn else seed_text
            if own not in self._avoided:  # a seed's variants and redraws avoid the same runs: tokenized once
                self._avoided[own] = seed_ngrams(own, self.avoid_ngrams, self._count)
            params = replace(params, avoid=self._avoided[own])
        if self.avoid_examples and (shown := self._template_checks(task.template)[1]):
            params = replace(params, avoid=tuple(dict.fromkeys(params.avoid + shown)))
        turns: tuple[dict[str, str], ...] = ({"role": "user", "content": prompt},)
        lead = answer_lead(task) if self.prefill else ""
        if by_turn and turn:
            role = "customer" if task.seed.messages[turn].role == "user" else "agent"
            lead = f"{so_far.rstrip()}\n{role}:"
        if lead:
            turns += ({"role": "assistant", "content": lead},)
        return GenerationRequest(params=params, messages=turns, meta={"lead": lead})

    def _draw(self, tasks: Sequence[GenerationTask], attempt: int) -> list[tuple[GenerationRequest, Completion]]:
        """One draw of every task: one batch, then one more batch per further conversation turn. Each
        completion comes back as the whole answer (lead included), tokens summed over its turns."""
        requests = [self.request(t, attempt) for t in tasks]
        completions = self.backend.generate(requests)
        if len(completions) != len(requests):  # a backend bug must not lose tasks silently
            raise RuntimeError(f"backend returned {len(completions)} completions for {len(requests)} requests")
        drawn = [(req, replace(c, text=_continue(req.meta["lead"], c.text)))
                 for req, c in zip(requests, completions, strict=True)]
        turn = 1
        while True:
            going = [j for j, t in enumerate(tasks) if self._by_turn(t) and turn < len(t.seed.messages)
                     and drawn[j][1].finish_reason == "stop" and drawn[j][1].text.strip()]
            if not going:
                return drawn
            more = [self.request(tasks[j], attempt, turn, drawn[j][1].text) for j in going]
            outs = self.backend.generate(more)
            if len(outs) != len(more):
                raise RuntimeError(f"backend returned {len(outs)} completions for {len(more)} requests")
            for j, req, c in zip(going, more, outs, strict=True):
                before = drawn[j][1]
                drawn[j] = (drawn[j][0], replace(c, text=_continue(req.meta["lead"], c.text),  # lineage: 1st turn's
                                         prompt_tokens=before.prompt_tokens + c.prompt_tokens,
                                         completion_tokens=before.completion_tokens + c.completion_tokens))
            turn += 1

    def _judge(self, task: GenerationTask, comp: Completion) -> _Verdict:
        """Every check but meaning drift (that one is judged for a whole draw in one embedding batch)."""
        text = clean_output(task.template.unwrap(comp.text))
        messages = None
        if task.seed is not None and task.seed.messages and comp.finish_reason == "stop" and text:
            messages = parse_conversation(text)
            if messages is None:
                return _Verdict("not_a_conversation", "output lacks 'customer:'/'agent:' turn lines")
            if task.kind == "paraphrase" and len(messages) != len(task.seed.messages):
                return _Verdict("turns_changed", f"{len(messages)} turns, seed has {len(task.seed.messages)}")
            blank = [n for n, m in enumerate(messages, 1) if not m.content.strip()]
            if blank:
                return _Verdict("empty", f"turn {blank[0]} is empty")
        judged = "\n".join(m.content for m in messages) if messages else text
        reason, detail, lang = check_output(
            comp, judged, task.seed.content if task.seed else None, task.seed.language if task.seed else None,
            self.checks, length_relative_to_seed=task.kind == "paraphrase",
            require_same_language=task.kind != "pure_synthetic")
        if reason is not None:
            return _Verdict(reason, detail)
        echo_check = self._template_checks(task.template)[0]
        if echo_check is not None:
            echo = echo_check.find(judged, task.seed.content if task.seed else None, self.checks.echo_min_words)
            if echo is not None:
                return _Verdict("echoes_prompt", f"repeats the instructions' '{echo}'")
        found = self._reader_checks(task, judged)
        if found is not None:
            return _Verdict(*found)
        return _Verdict(None, text=text, messages=messages, language=lang)

    def _reader_checks(self, task: GenerationTask, judged: str) -> tuple[str, str] | None:
        """What a reader sees next to the seed (generation/facts.py): the text is a message; a paraphrase keeps
        its seed's facts; a synthetic record says something new, not its seed or the prompt's own words."""
        seed = task.seed.content if task.seed is not None else None
        found = form_defect(judged, seed)
        if found is not None or not self.checks.fact_checks:
            return found
        if task.kind == "paraphrase":
            return fact_change(seed, judged, task.seed.language)
        if task.kind == "seeded_synthetic" and seed is not None:
            sim, _ = closest(judged, [seed])
            if sim >= REWORD_SIMILARITY:
                return "reword_of_seed", f"similarity {sim:.2f} to its seed"
        if task.leaf is not None:
            sim, near = closest(judged, [task.leaf.definition, *task.leaf.examples])
            if sim >= EXAMPLE_SIMILARITY:
                return "copies_prompt_example", f"similarity {sim:.2f} to '{near[:60]}'"
        return None

    def _transferred(self, task: GenerationTask, verdict: _Verdict, attempt: int) -> _Verdict:
        """A passed verdict with the irregularity transfer applied, judged again on that final text (the copy,
        form and fact checks; the embedding checks judged the model's own words): a transfer that rebuilds its
        seed or adds what nobody writes is a reject like any other draw."""
        if verdict.reason is not None or self.transfer is None or not self.transfer.applies(task.generator):
            return verdict
        rng = seed_from(self.run_seed, task.id, "transfer", *([attempt] if attempt > 1 else []))
        text, messages, edits = self.transfer.apply(verdict.text, verdict.messages, task.seed, verdict.language, rng)
        if not edits:
            return verdict
        judged = "\n".join(m.content for m in messages) if messages else text
        done = Completion(text=judged, finish_reason="stop", prompt_tokens=0, completion_tokens=0)
        reason, detail, _ = check_output(done, judged, task.seed.content if task.seed else None, None, self.checks,
                                         length_relative_to_seed=False, require_same_language=False)
        found = (reason, detail) if reason is not None else self._reader_checks(task, judged)
        if found is not None:
            return _Verdict(found[0], f"after the irregularity transfer: {found[1] or found[0]}")
        return replace(verdict, text=text, messages=list(messages) if messages else None, edits=edits)

    def _with_meaning(self, tasks: Sequence[GenerationTask], verdicts: list[_Verdict]) -> list[_Verdict]:
        """meaning_drift for the paraphrases that passed everything else: vs their seed, one embedding batch.
        Judged on the model's own output, before any transfer."""
        idx = [i for i, (t, v) in enumerate(zip(tasks, verdicts, strict=True)) if v.reason is None
               and t.kind == "paraphrase" and meaning_applies(t.seed.language, self.checks)]
        if not idx:
            return verdicts
        judged = ["\n".join(m.content for m in verdicts[i].messages) if verdicts[i].messages else verdicts[i].text
                  for i in idx]
        sims = self.meaning.similarity(judged, [tasks[i].seed.content for i in idx])
        out = list(verdicts)
        for i, sim in zip(idx, sims, strict=True):
            reason, detail = meaning_drift(float(sim), self.checks)
            if reason is not None:
                out[i] = _Verdict(reason, detail)
        return out

    def _draw_until_kept(self, tasks: Sequence[GenerationTask], pending: list[int],
                         final: dict[int, tuple[GenerationRequest, Completion, _Verdict]],
                         history: dict[int, list[str]], stats: dict[str, int]) -> None:
        """Draw the pending tasks, judge them, draw again those a new draw can fix, up to `attempts` draws:
        fills `final` (each task's last draw and verdict), `history` (rejected draws' reasons) and `stats`."""
        for attempt in range(1, self.attempts + 1):
            drawn = self._draw([tasks[i] for i in pending], attempt)
            for _, comp in drawn:
                stats["requests"] += 1
                stats["prompt_tokens"] += comp.prompt_tokens
                stats["completion_tokens"] += comp.completion_tokens
            verdicts = self._with_meaning([tasks[i] for i in pending],
                                          [self._judge(tasks[i], comp) for i, (_, comp) in zip(pending, drawn,
                                                                                               strict=True)])
            verdicts = [self._transferred(tasks[i], v, attempt) for i, v in zip(pending, verdicts, strict=True)]
            retry: list[int] = []
            for i, (req, comp), verdict in zip(pending, drawn, verdicts, strict=True):
                final[i] = (req, comp, verdict)
                if verdict.reason is not None:
                    history.setdefault(i, []).append(verdict.reason)
                    if verdict.reason in REDRAW_REASONS and attempt < self.attempts:
                        stats[f"redrawn.{verdict.reason}"] = stats.get(f"redrawn.{verdict.reason}", 0) + 1
                        retry.append(i)
            pending = retry
            if not pending:
                break

    def __call__(self, tasks: Sequence[GenerationTask]) -> ShardResult:
        stats = {"prompt_tokens": 0, "completion_tokens": 0, "kept_completion_tokens": 0, "requests": 0}
        self._avoided.clear()  # bounded by one batch: its tasks' variants and redraws share their seeds' runs
        final: dict[int, tuple[GenerationRequest, Completion, _Verdict]] = {}
        history: dict[int, list[str]] = {}  # each rejected draw's reason, per task
        unsupported = self._unsupported_languages(tasks)
        pending = [i for i in range(len(tasks)) if i not in unsupported]
        session = getattr(self.backend, "cache_session", None)  # a backend with a prefix cache shares it
        cached_before = getattr(self.backend, "cached_prompt_tokens", 0)
        with session() if session is not None else nullcontext():  # across this batch's rounds
            self._draw_until_kept(tasks, pending, final, history, stats)
        stats["cached_prompt_tokens"] = getattr(self.backend, "cached_prompt_tokens", 0) - cached_before
        records: list[Record] = []
        rejects: list[Reject] = []
        for i, task in enumerate(tasks):
            parents = (task.seed.id,) if task.seed else ()
            if i in unsupported:  # never sent: the model cannot write this language acceptably
                rejects.append(Reject(content_hash([task.id, "reject"]), parents, "unsupported_language",
                                      detail=f"seed is {unsupported[i]}; the checks' languages are "
                                             f"{', '.join(self.checks.languages)}", task_id=task.id))
                continue
            req, comp, verdict = final[i]
            draws = len(history.get(i, ())) + (verdict.reason is None)
            if verdict.reason is not None:
                detail = verdict.detail
                if draws > 1:
                    detail = f"{detail or verdict.reason} (draw {draws} of {draws}; earlier: {', '.join(history[i][:-1])})"
                rejects.append(Reject(content_hash([task.id, "reject"]), parents, verdict.reason, detail=detail,
                                      text=comp.text or None, task_id=task.id))
                continue
            text, messages, edits = verdict.text, verdict.messages, verdict.edits
            if self.transfer is not None and self.transfer.applies(task.generator):
                stats["transfer_edits"] = stats.get("transfer_edits", 0) + len(edits)
            lineage = Lineage(generator=task.generator, template=task.template.name, template_hash=task.template.hash,
                              model=self.backend.model_name, sampling=req.params.to_dict(), seed=req.params.seed,
                              run_id=self.run_id, taxonomy_leaf=task.leaf.id if task.leaf else None,
                              task_id=task.id, variant=task.variant, style=task.style,
                              transfer=tuple(e.to_dict() for e in edits), attempt=draws if draws > 1 else None)
            meta = {"taxonomy_version": task.taxonomy_version} if task.taxonomy_version else {}
            origin = Origin.PARAPHRASE if task.kind == "paraphrase" else Origin.SYNTHETIC
            stats["kept_completion_tokens"] += comp.completion_tokens  # yield: tokens that became records
            records.append(Record.create(origin, text=None if messages else text, messages=messages,
                                         parents=parents, language=verdict.language, lineage=lineage, meta=meta))
        return ShardResult(records, rejects, stats)
