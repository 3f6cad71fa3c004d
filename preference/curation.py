"""The three curation datasets (preference, moderation, review), their Argilla schemas, and
idempotent, batched, resumable push and pull.

Queues: Argilla 2.8 shows an annotator every record in their workspaces and has no per-user
assignment, so a dataset is stored as one copy per rater, in the rater's own workspace
(`<workspace>--<rater>`), holding exactly the items assigned to them; `pull` merges the copies by
item id. Idempotence: each Argilla record's id is the item's deterministic id (a content hash), so the
server upserts; re-pushing adds nothing. Resumability: a ledger of pushed batch hashes beside the
state lets a rerun skip finished batches; a batch cut off by a crash is simply sent again.
"""

from __future__ import annotations

import hashlib
import html
import json
import random
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from semisynth.errors import UserError
from semisynth.hashing import content_hash
from semisynth.preference.client import Connection, _ok, with_retry
from semisynth.records import Record
from semisynth.taxonomy import Taxonomy

KINDS = ("preference", "moderation", "review")
VERDICTS = ("ranked", "tie", "both_bad")
# A review names why a record fails: the failure labels are the reasons the review report counts and the
# automatic checks are calibrated against; `edit` = the reviewer fixed it (the fixed text goes in `edited`).
REVIEW_ACCEPT = "acceptable"
REVIEW_FAILURES = ("changed_meaning", "not_fluent_or_leaked", "copy_of_seed", "wrong_language")
REVIEW_DECISIONS = (REVIEW_ACCEPT, *REVIEW_FAILURES, "edit")
REVIEW_REJECTS = (*REVIEW_FAILURES, "reject")  # "reject": the decision label of datasets pushed before the reasons
IRREGULARITIES = ("yes", "no", "n_a")
ESCALATION_FIELD = "escalation"

PREFERENCE_GUIDELINES = """Rank the responses to the prompt from best (1) to worst.
Judge helpfulness first, then correctness, tone and safety.
- **ranked**: one response is better (the ranking says which).
- **tie**: no meaningful difference. **both_bad**: none is acceptable.
Give a one-sentence rationale and your confidence (1 = guess, 5 = sure)."""

REVIEW_GUIDELINES = """Compare the synthetic text with the real seed it came from and pick the first label that fits.

| label | when | seed | synthetic |
|---|---|---|---|
| **acceptable** | a plausible real message with the seed's meaning (paraphrase) or intent (synthetic) | `my bag nevr arrived in lisbon, flight TP1234 :(` | `still no sign of my bag in lisbon, was on TP1234 :(` |
| **changed_meaning** | a fact, number, name, time, negation or the intent differs from the seed | `cancel my friday booking pls` | `can you book me for friday pls` |
| **not_fluent_or_leaked** | broken or looping text, or words of the instructions leak in (`Rewritten message:`, `Sure!`) | `how do i reset my pasword` | `Here is the rewritten message: how do i reset reset reset` |
| **copy_of_seed** | the seed again, or with a word or two swapped | `where is my refund??` | `where is my refund ??` |
| **wrong_language** | not in the seed's language (or mixes languages) | `my card was charged twice` | `mi tarjeta fue cobrada dos veces` |
| **edit** | almost acceptable: fix it and write the fixed text under "Edited text" | `need help w my order 5512` | `need help w my order 5512 thank you for your help` -> edited: `need help w my order 5512` |

- **irregularities preserved?** yes if the seed's typos, slang, casing and run-ons survive in kind."""


def taxonomy_guidelines(tax: Taxonomy) -> str:
    """Moderation guidelines shown in the Argilla UI: definition, severity and examples per leaf."""
    lines = [f"# {tax.name} v{tax.version}", tax.description, "", "Pick every label that applies."]
    for lab in tax.leaves:
        sev = f" (severity: {lab.severity})" if lab.severity else ""
        lines.append(f"- **{lab.id}**{sev}: {lab.definition}")
        lines.extend(f"  - e.g. _{ex}_" for ex in lab.examples[:2])
    return "\n".join(lines)


@dataclass(frozen=True)
class Item:
    """One unit of human work: what raters see (fields) and what exports need (payload)."""

    id: str
    kind: str
    fields: dict[str, str]
    language: str = "und"
    origin: str = "real"
    payload: dict[str, Any] = field(default_factory=dict)
    gold: Any = None  # the known answer for calibration items

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "fields": self.fields, "language": self.language,
                "origin": self.origin, "payload": self.payload, "gold": self.gold}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Item:
        return cls(d["id"], d["kind"], dict(d["fields"]), d.get("language", "und"), d.get("origin", "real"),
                   dict(d.get("payload") or {}), d.get("gold"))

    @property
    def response_names(self) -> list[str]:
        """The non-empty candidate fields of a preference item (response_1, response_2, ...)."""
        return [k for k in self.fields if k.startswith("response_") and self.fields[k]]


# -- building items -------------------------------------------------------------------------------
def prompt_turns(prompt: Record) -> list[dict[str, str]]:
    """A prompt record as chat turns: its messages, or its text as one user turn."""
    return [{"role": m.role, "content": m.content} for m in prompt.messages or ()] or \
        [{"role": "user", "content": prompt.content}]


def preference_item(prompt: Record, candidates: Sequence[dict[str, Any]]) -> Item:
    """A prompt record and >= 2 candidates ({"text", "model", "sampling", "template"}) -> an item."""
    if len(candidates) < 2:
        raise UserError(f"record {prompt.id}", f"{len(candidates)} candidate response(s)",
                        "generate at least two candidates per prompt")
    cands = [{"text": c["text"], **c} for c in candidates]  # text first in the stored JSON
    iid = content_hash(["preference", prompt.id, [c["text"] for c in cands]])
    fields = {"prompt": prompt.content, **{f"response_{i + 1}": c["text"] for i, c in enumerate(cands)}}
    return Item(iid, "preference", fields, prompt.language, prompt.origin.value,
                {"prompt_id": prompt.id, "prompt_messages": prompt_turns(prompt), "candidates": cands,
                 "lineage": prompt.lineage.to_dict()})


def moderation_item(rec: Record, taxonomy: Taxonomy) -> Item:
    iid = content_hash(["moderation", rec.id, taxonomy.name, taxonomy.version])
    return Item(iid, "moderation", {"text": rec.content}, rec.language, rec.origin.value,
                {"record_id": rec.id, "taxonomy": taxonomy.name, "taxonomy_version": taxonomy.version,
                 "lineage": rec.lineage.to_dict()})


def review_item(rec: Record, seed: Record | None, extra: dict[str, Any] | None = None) -> Item:
    """`extra` marks items that are not kept records (the automatic rejects' sample: `auto_rejected`)."""
    iid = content_hash(["review", rec.id])
    return Item(iid, "review", {"synthetic": rec.content, "seed": seed.content if seed else "(no seed: pure synthetic)"},
                rec.language, rec.origin.value,
                {"record": rec.to_dict(), "seed_id": seed.id if seed else None,
                 "seed_language": seed.language if seed else None, "lineage": rec.lineage.to_dict(), **(extra or {})})


def review_items(sample: Iterable[Record], seeds: Iterable[Record]) -> list[Item]:
    """Each synthetic record of the monitor's review sample beside its real seed (first parent)."""
    by_id = {s.id: s for s in seeds}
    return [review_item(r, next((by_id[p] for p in r.parents if p in by_id), None)) for r in sample]


# -- schemas --------------------------------------------------------------------------------------
def dataset_settings(kind: str, n_responses: int = 2, taxonomy: Taxonomy | None = None, min_submitted: int = 1,
                     guidelines: str | None = None, client=None, escalation: bool = False):
    """The Argilla Settings for one kind of dataset; `escalation` adds the field that tells the expert why
    the item came to them and what the raters answered. Every text field is shown literally (no Markdown;
    `to_argilla_record` escapes HTML): raters judge the text the export holds, not a rendering of it.
    The SDK binds metadata properties to a client: the given one, else the last Connection.sdk()."""
    import argilla as rg

    client = client or rg.Argilla._default_client
    meta = [rg.TermsMetadataProperty(name="assignees", visible_for_annotators=False, client=client),
            rg.TermsMetadataProperty(name="rater", visible_for_annotators=False, client=client),
            rg.TermsMetadataProperty(name="is_gold", visible_for_annotators=False, client=client),
            rg.TermsMetadataProperty(name="language", client=client),
            rg.TermsMetadataProperty(name="origin", client=client)]
    confidence = rg.RatingQuestion(name="confidence", values=[1, 2, 3, 4, 5], required=False,
                                   title="How sure are you? (1 = guess, 5 = sure)")
    if kind == "preference":
        names = [f"response_{i + 1}" for i in range(n_responses)]
        fields = [rg.TextField(name="prompt", use_markdown=False)] + \
            [rg.TextField(name=n, required=i < 2, use_markdown=False) for i, n in enumerate(names)]
        questions = [rg.LabelQuestion(name="verdict", labels=list(VERDICTS), title="Verdict"),
                     rg.RankingQuestion(name="ranking", values={n: n.replace("_", " ") for n in names},
                                        required=False, title="Rank the responses (1 = best)"),
                     rg.TextQuestion(name="rationale", required=False, title="Why? (one sentence)"),
                     confidence]
        text = guidelines or PREFERENCE_GUIDELINES
    elif kind == "moderation":
        if taxonomy is None:
            raise ValueError("moderation needs a taxonomy")
        fields = [rg.TextField(name="text")]
        questions = [rg.MultiLabelQuestion(name="labels", labels=[lab.id for lab in taxonomy.leaves],
                                           title=f"Labels ({taxonomy.name} v{taxonomy.version})"), confidence]
        meta.append(rg.TermsMetadataProperty(name="taxonomy_version", client=client))
        text = guidelines or taxonomy_guidelines(taxonomy)
    elif kind == "review":
        fields = [rg.TextField(name="synthetic"), rg.TextField(name="seed")]
        questions = [rg.LabelQuestion(name="decision", labels=list(REVIEW_DECISIONS)),
                     rg.TextQuestion(name="edited", required=False, title="Edited text (when 'edit')"),
                     rg.LabelQuestion(name="irregularities_preserved", labels=list(IRREGULARITIES), required=False,
                                      title="Irregularities preserved?"),
                     confidence]
        text = guidelines or REVIEW_GUIDELINES
    else:
        raise UserError(f"kind '{kind}'", "unknown dataset kind", f"use one of {', '.join(KINDS)}")
    if escalation:
        fields = [rg.TextField(name=ESCALATION_FIELD, title="Why this came to you: the escalation and the raters' "
                               "answers", use_markdown=False), *fields]
    return rg.Settings(fields=fields, questions=questions, metadata=meta, guidelines=text,
                       distribution=rg.TaskDistribution(min_submitted=min_submitted), allow_extra_metadata=True)


def _signature(settings) -> dict[str, Any]:
    sig: dict[str, Any] = {"fields": sorted(f.name for f in settings.fields), "questions": {},
                           "markdown_fields": sorted(f.name for f in settings.fields if getattr(f, "use_markdown", False))}
    for q in settings.questions:
        labels = getattr(q, "labels", None) or getattr(q, "values", None)
        sig["questions"][q.name] = sorted(map(str, labels)) if isinstance(labels, list) else (
            sorted(labels) if isinstance(labels, dict) else None)
    return sig


def _get_dataset(client, name: str, workspace: str):
    """The dataset or None (the SDK warns on a miss; a miss is normal here)."""
    def get():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return client.datasets(name=name, workspace=workspace)

    return with_retry(get, "get dataset")


def _check_schema(name: str, settings, existing) -> None:
    want, have = _signature(settings), _signature(existing.settings)
    if want != have:
        diff = [k for k in ("fields", "questions", "markdown_fields") if want[k] != have[k]]
        detail = "; ".join(f"{k}: existing {have[k]} vs wanted {want[k]}" for k in diff)
        raise UserError(f"Argilla dataset '{name}'", f"schema mismatch with the existing dataset ({detail[:240]})",
                        "push to a new --dataset name (or bump the taxonomy version), or delete the old dataset")


def ensure_dataset(conn: Connection, name: str, settings, workspace: str | None = None):
    """Create the dataset, or check that the existing one has the same schema (one clear line if not)."""
    import argilla as rg

    client = conn.sdk()
    workspace = workspace or conn.workspace
    conn.workspace_id(workspace, create=True)
    existing = _get_dataset(client, name, workspace)
    if existing is not None:
        _check_schema(name, settings, existing)
        return existing
    ds = rg.Dataset(name=name, workspace=workspace, settings=settings, client=client)
    return with_retry(ds.create, "create dataset")


def check_copies(conn: Connection, name: str, settings, raters: Iterable[str]) -> None:
    """Every existing per-rater copy of `name` has the wanted schema: checked for all raters before
    anything is created, so a mismatch leaves nothing behind."""
    client = conn.sdk()
    names = conn.workspaces()
    for r in raters:
        ws = conn.rater_workspace(r)
        if ws in names and (existing := _get_dataset(client, name, ws)) is not None:
            _check_schema(name, settings, existing)


# -- assignment -----------------------------------------------------------------------------------
def assign(items: Sequence[Item], raters: Sequence[str], k: int, seed: int = 0,
           gold_seen: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """k raters per item, least-loaded first (also gold items: Argilla closes a record after k
    submissions). A gold item never goes to a rater who already saw that gold answer (tracked across
    pushes in `gold_seen`, gold id -> raters), so no one is scored twice on it."""
    if k > len(raters):
        raise UserError("overlap k", f"k={k} but only {len(raters)} raters", "lower k or add raters")
    rng = random.Random(seed)
    load = dict.fromkeys(raters, 0)
    gold_seen = gold_seen if gold_seen is not None else {}
    out: dict[str, list[str]] = {}
    for it in items:
        pool = list(raters)
        gid = it.payload.get("gold_id", it.id) if it.gold is not None else None
        if gid is not None:
            pool = [r for r in pool if r not in gold_seen.get(gid, [])]
            if not pool:
                continue  # every rater has seen this gold answer: not assigned (push counts it)
        rng.shuffle(pool)
        pool.sort(key=lambda r: load[r])
        chosen = sorted(pool[:k])  # k, not more: the record leaves every queue after k submissions
        if gid is not None:
            gold_seen.setdefault(gid, []).extend(chosen)
        for r in chosen:
            load[r] += 1
        out[it.id] = chosen
    return out


# -- push -----------------------------------------------------------------------------------------
def to_argilla_record(it: Item, assignees: list[str], low_resource: bool, rater: str = "*"):
    import argilla as rg

    md = {"assignees": assignees or ["*"], "rater": rater, "is_gold": "yes" if it.gold is not None else "no",
          "language": it.language, "origin": it.origin, "kind": it.kind,
          "low_resource": "yes" if low_resource else "no",
          "lineage": json.dumps(it.payload.get("lineage", {}), ensure_ascii=False, sort_keys=True),
          "item": json.dumps(it.to_dict(), ensure_ascii=False, sort_keys=True)}
    if it.kind == "moderation":
        md["taxonomy_version"] = it.payload.get("taxonomy_version", "")
    # shown literally: Argilla puts a plain text field into innerHTML, so `<img>` would render; the item in
    # the metadata (what pull and the exports read) keeps the raw text
    return rg.Record(id=it.id, fields={k: html.escape(v, quote=False) if isinstance(v, str) else v
                                            for k, v in it.fields.items()}, metadata=md)


@dataclass
class PushResult:
    sent: int = 0  # records sent, one per (item, rater): each rater's queue holds its own copy
    skipped_batches: int = 0
    batches: int = 0
    unassigned: int = 0  # items without raters (a gold copy every rater has seen): not pushed
    per_rater: dict[str, int] = field(default_factory=dict)  # records in each rater's queue after the push


def push(conn: Connection, name: str, settings, items: Sequence[Item], assignment: dict[str, list[str]],
         ledger: Path | None, batch_size: int = 256, low_resource: Iterable[str] = ()) -> PushResult:
    """Upsert each item into the dataset copy of every rater it is assigned to (a dataset `name` in
    the rater's own workspace, see Connection.rater_workspace), in batches; batches recorded in the
    ledger are skipped on a rerun. Items missing from `assignment` are counted in `unassigned`."""
    low = set(low_resource)
    done: set[str] = set()
    if ledger is not None and ledger.exists():
        done = set(ledger.read_text().split())
    res = PushResult(unassigned=sum(it.id not in assignment for it in items))
    if ledger is not None:
        ledger.parent.mkdir(parents=True, exist_ok=True)
    queues: dict[str, list[Item]] = {}
    for it in items:
        for r in assignment.get(it.id, ()):
            queues.setdefault(r, []).append(it)
    check_copies(conn, name, settings, queues)
    for rater, queue in sorted(queues.items()):
        ds = None
        for start in range(0, len(queue), batch_size):
            batch = queue[start:start + batch_size]
            res.batches += 1
            key = hashlib.sha256(json.dumps([rater, [[it.id, assignment[it.id]] for it in batch]]).encode()
                                 ).hexdigest()[:24]
            if key in done:
                res.skipped_batches += 1
                continue
            ds = ds or ensure_dataset(conn, name, settings, conn.rater_workspace(rater))
            recs = [to_argilla_record(it, assignment[it.id], it.language in low, rater) for it in batch]
            with_retry(lambda recs=recs, ds=ds: ds.records.log(recs, batch_size=len(recs)), "push batch", tries=10)
            res.sent += len(recs)
            if ledger is not None:
                with ledger.open("a") as f:
                    f.write(key + "\n")
        res.per_rater[rater] = len(queue)
    return res


# -- pull -----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Annotation:
    item_id: str
    user: str
    values: dict[str, Any]
    response_id: str = field(default="", compare=False)  # the server's id (escalate sends empty answers back)


@dataclass
class Pulled:
    items: dict[str, Item]
    meta: dict[str, dict[str, Any]]
    annotations: list[Annotation]
    records: dict[str, dict[str, str]]  # item id -> {queue owner: server record id}
    datasets: dict[str, str] = field(default_factory=dict)  # queue owner -> dataset id


def pull(conn: Connection, name: str, batch_size: int = 1000) -> Pulled:
    """Every record of every rater's copy of `name`, merged by item id, with its submitted responses
    (drafts and discarded are not judgments). Pages through the records API directly: the SDK's
    per-record objects cost ~40% of the time."""
    copies = conn.copies(name)
    if not copies:
        raise UserError(f"Argilla dataset '{name}'", "not found", "push it first, or check --dataset and the workspace")
    users = conn.user_names()
    items: dict[str, Item] = {}
    meta: dict[str, dict[str, Any]] = {}
    records: dict[str, dict[str, str]] = {}
    anns: dict[tuple[str, str], Annotation] = {}  # one judgment per (item, user)
    with conn.http() as c:
        for owner, ds_id in sorted(copies.items()):
            offset = 0
            while True:
                page = with_retry(lambda o=offset, d=ds_id: _ok(c.get(f"/api/v1/datasets/{d}/records", params={
                    "offset": o, "limit": batch_size, "include": ["responses"]})).json()["items"], "pull records")
                for rec in page:
                    md = dict(rec.get("metadata") or {})
                    ext = str(rec.get("external_id") or rec["id"])
                    it = Item.from_dict(json.loads(md.pop("item"))) if "item" in md else \
                        Item(ext, "unknown", rec["fields"])
                    items.setdefault(it.id, it)
                    meta.setdefault(it.id, md)
                    records.setdefault(it.id, {})[owner] = rec["id"]
                    for resp in rec.get("responses") or ():
                        if resp.get("status") != "submitted":
                            continue
                        values = {q: v.get("value") for q, v in (resp.get("values") or {}).items()}
                        user = users.get(resp["user_id"], resp["user_id"])
                        anns[(it.id, user)] = Annotation(it.id, user, values, str(resp.get("id") or ""))
                offset += len(page)
                if len(page) < batch_size:
                    break
    return Pulled(items, meta, list(anns.values()), records, copies)
