"""CLI: `semisynth argilla up|down|status` and
`semisynth preference candidates|raters|push|report|escalate|export`.

One pydantic config per command (YAML via --config, flags override). Secrets only from the
environment (`$ARGILLA_API_KEY` or the name in argilla.api_key_env) or the local stack's 0600 file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from semisynth.backends import BackendSpec
from semisynth.config import CommandConfig
from semisynth.errors import UserError
from semisynth.flags import add_config_flags
from semisynth.paths import check_output_dir, check_output_file


class ArgillaTarget(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    url: str | None = Field(None, description="a team's Argilla URL; unset = the local stack (or $ARGILLA_API_URL)")
    api_key_env: str = Field("ARGILLA_API_KEY", description="environment variable holding the owner API key")
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


class ArmConfig(BaseModel):
    """One way of answering a prompt: a backend plus its sampling and an optional system prompt."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(..., min_length=1)
    backend: BackendSpec = Field(..., description="engine: kind, model, base_url, ...")
    max_tokens: int = Field(128, ge=1, description="most tokens per answer (reaching it: the truncated reject)")
    temperature: float = Field(0.8, ge=0, le=2.0, description="sampling temperature")  # generate's bounds
    top_p: float = Field(0.95, gt=0, le=1, description="nucleus sampling mass")
    system: str | None = Field(None, description="system prompt for this arm (a template difference)")


class CandidatesConfig(CommandConfig):
    prompts: str = Field(..., description="prompt records: seeds.jsonl of a run, or any corpus with a text column")
    out: str = Field(..., description="items JSONL to write (input of `preference push --kind preference`)")
    arms: list[ArmConfig] = Field(..., min_length=2, description="at least two ways of answering")
    seed: int = Field(0, description="run seed: each request's seed comes from it, the prompt and the arm")
    limit: int | None = Field(None, ge=1, description="first N prompts only")


class ReportConfig(CommandConfig):
    argilla: ArgillaTarget = ArgillaTarget()
    dataset: str = Field(..., description="Argilla dataset name (as pushed)")
    taxonomy: str | None = Field(None, description="moderation: the taxonomy YAML pushed with (default: the "
                                 "built-in one the items name)")
    out: str = Field(..., description="output folder")
    policy: PolicyConfig = PolicyConfig()
    bootstrap: int = Field(200, ge=0, description="bootstrap resamples for the agreement intervals (0: none)")


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


def _conn(t: ArgillaTarget):
    from semisynth.preference.client import resolve_connection

    conn = resolve_connection(t.url, t.api_key_env, t.workspace, t.state_dir)
    conn.check()
    return conn


def cmd_stack(args: argparse.Namespace) -> int:
    from semisynth.preference.stack import LocalStack, describe

    cfg = args.config_flags.load(args)
    stack = LocalStack(Path(cfg.state_dir), Path(cfg.server_python) if cfg.server_python else None)
    if args.action == "up":
        stack.up()
        print(describe(stack, cfg.show_secrets))
    elif args.action == "down":
        stopped = stack.down()
        print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
    else:
        print(describe(stack, cfg.show_secrets))
        return 0 if stack.healthy() else (3 if stack.stopped() else 1)
    return 0


def _read_items(path: str):
    from semisynth.io import iter_raw_rows
    from semisynth.preference.curation import Item

    items = []
    for r in iter_raw_rows(path):
        try:
            items.append(Item.from_dict(dict(r.data)))
        except (KeyError, TypeError, ValueError) as e:
            raise UserError(r.source, f"not a curation item (missing or bad {e})",
                            "write items with `semisynth preference candidates` (id, kind, fields, payload)") from None
    return items


def build_items(cfg: PushConfig, tax=None) -> list:
    from semisynth.io import read_records
    from semisynth.preference.curation import moderation_item, review_items

    if cfg.kind == "preference":
        return _read_items(cfg.input)
    if cfg.kind == "moderation":
        return [moderation_item(r, tax) for r in read_records(cfg.input)]
    seeds = read_records(cfg.seeds) if cfg.seeds else []
    return review_items(read_records(cfg.input), seeds)


def check_items(items: list, kind: str, source: str) -> None:
    """Everything push can check without a server: the right kind, and preference items whose
    candidates match their response fields (the export reads the candidates back)."""
    for n, it in enumerate(items, start=1):
        where = f"{source}: item {n} ({it.id})"
        if it.kind != kind:
            raise UserError(where, f"is a {it.kind} item, not {kind}", f"push it with --kind {it.kind}")
        if kind != "preference":
            continue
        cands, names = it.payload.get("candidates"), it.response_names
        if not isinstance(cands, list) or len(cands) < 2 or len(cands) != len(names) or \
                any(not isinstance(c, dict) or c.get("text") != it.fields[f] for c, f in zip(cands, names, strict=False)):
            got = len(cands) if isinstance(cands, list) else "no"
            raise UserError(where, f"payload.candidates has {got} candidate(s) matching {len(names)} response field(s)",
                            "write items with `semisynth preference candidates` (two or more candidates, "
                            "each {text, ...} in response order)")


def hand_over_new(conn, names: list[str], state_dir: str, out: str | None, role: str = "annotator") -> str | None:
    """Create missing raters; their passwords go to a 0600 file (path returned), never to stdout."""
    from semisynth.preference import raters

    created, _ = raters.add(conn, names, role)
    return raters.hand_over(created, conn.url, out, state_dir, show=False)


def run_push(cfg: PushConfig) -> dict[str, Any]:
    from semisynth.atomic import write_json
    from semisynth.preference import curation, raters
    from semisynth.taxonomy import load_taxonomy

    # everything local is checked before connecting: a refused push creates nothing anywhere
    if not cfg.raters:
        raise UserError("push: field 'raters'", "no raters given", "pass --raters alice,bob,carol")
    raters.check_names(cfg.raters, "push: field 'raters'")
    if cfg.k > len(cfg.raters):
        raise UserError("push: field 'k'", f"k={cfg.k} raters per record but only {len(cfg.raters)} raters",
                        "lower -k or add raters")
    raters.check_credentials_target(cfg.credentials_out)
    tax = load_taxonomy(cfg.taxonomy) if cfg.kind == "moderation" else None
    items = build_items(cfg, tax)
    gold = _read_items(cfg.gold) if cfg.gold else []
    check_items(items, cfg.kind, cfg.input)
    check_items(gold, cfg.kind, cfg.gold or "")
    if cfg.kind == "preference":
        most = max(len(it.response_names) for it in [*items, *gold])
        if most > cfg.n_responses:
            raise UserError(f"{cfg.input}", f"items have up to {most} responses but the dataset has "
                            f"n_responses={cfg.n_responses}", f"set n_responses: {most} in the push config")
    conn = _conn(cfg.argilla)
    # one copy of the dataset per rater (their own workspace): min_submitted=1 in each copy
    settings = curation.dataset_settings(cfg.kind, cfg.n_responses, tax, min_submitted=1)
    state = Path(cfg.argilla.state_dir) / "push" / cfg.dataset
    seen_file, assigned_file = state / "gold_seen.json", state / "assignments.json"
    gold_seen = json.loads(seen_file.read_text()) if seen_file.exists() else {}
    assigned: dict[str, list[str]] = json.loads(assigned_file.read_text()) if assigned_file.exists() else {}
    curation.check_copies(conn, cfg.dataset, settings, cfg.raters)  # a schema mismatch also leaves nothing
    creds = hand_over_new(conn, cfg.raters, cfg.argilla.state_dir, cfg.credentials_out)
    # A record keeps the raters it was first given: re-pushing the same items (gold included) is a no-op.
    fresh = [it for it in [*items, *gold] if it.id not in assigned]
    assigned.update(curation.assign(fresh, cfg.raters, cfg.k, gold_seen=gold_seen))
    write_json(seen_file, gold_seen)  # saved before sending: a killed push resumes with the same assignment
    write_json(assigned_file, assigned)
    res = curation.push(conn, cfg.dataset, settings, [*items, *gold], assigned, state / "ledger.txt",
                        cfg.batch_size, cfg.low_resource_languages)
    out = {"dataset": cfg.dataset, "items": len(items), "gold": len(gold), "sent": res.sent,
           "skipped_batches": res.skipped_batches, "unassigned": res.unassigned, "queues": res.per_rater}
    if creds:
        out["credentials_file"] = creds
    return out


def _arms_from_flags(specs: list[str] | None, max_tokens: int | None) -> list[dict] | None:
    """`--arm NAME=MODEL[@TEMPERATURE]`: the quick form; configs give every field."""
    if not specs:
        return None
    arms = []
    for spec in specs:
        name, sep, rest = spec.partition("=")
        model, _, temp = rest.partition("@")
        if not sep or not name or not model:
            raise UserError(f"--arm {spec!r}", "expected NAME=MODEL[@TEMPERATURE]", "e.g. --arm cold=smollm2-135m-instruct@0.3")
        arm: dict[str, Any] = {"name": name, "backend": {"model": model}}
        if temp:  # otherwise ArmConfig's default
            try:
                arm["temperature"] = float(temp)
            except ValueError:
                raise UserError(f"--arm {spec!r}", f"temperature {temp!r} is not a number", "e.g. @0.7") from None
        if max_tokens:
            arm["max_tokens"] = max_tokens
        arms.append(arm)
    return arms


def run_candidates(cfg: CandidatesConfig) -> dict[str, Any]:
    """Answer each prompt with every arm; an engine shared by several arms starts once."""
    from semisynth.atomic import write_jsonl
    from semisynth.backends import SamplingParams, open_backend
    from semisynth.io import read_records
    from semisynth.preference.candidates import Arm, build_preference_items

    if len({a.name for a in cfg.arms}) != len(cfg.arms):
        raise UserError("candidates: field 'arms'", "arm names repeat", "give each arm its own name")
    check_output_file(cfg.out, "out (--out)")  # before any engine starts; the rejects ledger goes beside it
    prompts = read_records(cfg.prompts)[: cfg.limit]  # never empty: read_records raises on an empty corpus
    backends: dict[str, Any] = {}
    try:
        arms = []
        for a in cfg.arms:
            key = a.backend.model_dump_json()
            if key not in backends:
                backends[key] = open_backend(a.backend)
            arms.append(Arm(a.name, backends[key], SamplingParams(a.max_tokens, a.temperature, a.top_p), a.system))
        run = build_preference_items(prompts, arms, cfg.seed)
    finally:
        for b in backends.values():
            b.close()
    out = Path(cfg.out)
    rejects_path = out.with_name(out.stem + ".rejects.jsonl")
    write_jsonl(rejects_path, (r.to_dict() for r in run.rejects))
    write_jsonl(out, (it.to_dict() for it in run.items))
    return {"prompts": len(prompts), **run.summary(), "out": str(out), "rejects": str(rejects_path)}


def cmd_candidates(args: argparse.Namespace) -> int:
    cfg = args.config_flags.load(args, {"arms": _arms_from_flags(args.arm, args.max_tokens)})
    print(json.dumps(run_candidates(cfg)))
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    cfg = args.config_flags.load(args)
    print(json.dumps(run_push(cfg)))
    return 0


def _pull(conn, dataset: str, taxonomy: str | None = None):
    """The pulled dataset, its one kind and (moderation) its taxonomy; a dataset semisynth did not
    push (records of another or several kinds) is a UserError, not a crash in the consensus code."""
    from semisynth.preference import curation
    from semisynth.taxonomy import load_taxonomy

    pulled = curation.pull(conn, dataset)
    kinds = sorted({it.kind for it in pulled.items.values()})
    if len(kinds) > 1 or not set(kinds) <= set(curation.KINDS):
        raise UserError(f"Argilla dataset '{dataset}'", f"holds records of kind {', '.join(kinds)}",
                        f"use a dataset made by `semisynth preference push` (one of {', '.join(curation.KINDS)})")
    kind = kinds[0] if kinds else "preference"
    if kind != "moderation":
        return pulled, kind, None
    names = {it.payload["taxonomy"] for it in pulled.items.values() if "taxonomy" in it.payload}
    if len(names) != 1:
        raise UserError(f"Argilla dataset '{dataset}'", f"moderation items name {len(names)} taxonomies",
                        "push one taxonomy per dataset")
    name = names.pop()
    tax = load_taxonomy(taxonomy or name)
    if tax.name != name:
        raise UserError(f"Argilla dataset '{dataset}'", f"items were labelled under taxonomy '{name}', "
                        f"not '{tax.name}'", f"pass --taxonomy with the '{name}' YAML used at push")
    versions = sorted({str(it.payload.get("taxonomy_version")) for it in pulled.items.values() if it.gold is None})
    if versions != [str(tax.version)]:  # labels made under another version would be read against the wrong ids
        raise UserError(f"Argilla dataset '{dataset}'", f"items were labelled under taxonomy '{name}' version(s) "
                        f"{', '.join(versions)} but it is now version {tax.version}",
                        "restore that taxonomy version, or push the records to a new dataset under the new one")
    return pulled, kind, tax


def _experts(conn, dataset: str) -> list:
    from semisynth.preference import curation

    return curation.pull(conn, f"{dataset}-escalation").annotations if conn.copies(f"{dataset}-escalation") else []


def _resolved(cfg: ReportConfig):
    from semisynth.preference.consensus import resolve

    conn = _conn(cfg.argilla)
    pulled, kind, tax = _pull(conn, cfg.dataset, cfg.taxonomy)
    return pulled, kind, tax, resolve(pulled.items, pulled.annotations, cfg.policy.policy(),
                                      _experts(conn, cfg.dataset))


def cmd_report(args: argparse.Namespace) -> int:
    from semisynth.preference.report import build_report, write_report

    cfg = args.config_flags.load(args)
    check_output_dir(cfg.out, "out (--out)")  # before connecting to Argilla
    pulled, kind, tax, res = _resolved(cfg)
    labels = [lab.id for lab in tax.leaves] if tax else None
    rep = build_report(kind, pulled.items, pulled.annotations, res, labels, cfg.bootstrap)
    paths = write_report(rep, cfg.out)
    print(f"wrote {paths[0]} and {paths[1]}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from semisynth.preference.export import export

    cfg = args.config_flags.load(args)
    check_output_dir(cfg.out, "out (--out)")  # before connecting to Argilla
    pulled, _, _, res = _resolved(cfg)
    print(json.dumps(export(cfg.format, pulled.items, res, cfg.policy.policy(), cfg.out)))
    return 0


def run_escalate(cfg: EscalateConfig) -> dict[str, Any]:
    """Push the items still needing an expert to `<dataset>-escalation`, one expert each (their answer
    wins). Items an expert already answered, or already waiting in an expert's queue, are not sent
    again and not counted as newly escalated."""
    from semisynth.preference import curation, raters
    from semisynth.preference.consensus import resolve

    raters.check_names(cfg.experts, "escalate: field 'experts'")
    raters.check_credentials_target(cfg.credentials_out)
    conn = _conn(cfg.argilla)
    pulled, kind, tax = _pull(conn, cfg.dataset, cfg.taxonomy)
    esc_name = f"{cfg.dataset}-escalation"
    sent_before: set[str] = set()
    experts = []
    if conn.copies(esc_name):
        esc = curation.pull(conn, esc_name)
        sent_before, experts = set(esc.items), esc.annotations
    res = resolve(pulled.items, pulled.annotations, cfg.policy.policy(), experts)
    waiting = [i for i, r in res.items() if r.status == "escalated"]
    todo = [pulled.items[i] for i in waiting if i not in sent_before]
    n_resp = max((sum(k.startswith("response_") for k in it.fields) for it in pulled.items.values()), default=2)
    settings = curation.dataset_settings(kind, n_resp, tax, min_submitted=1)
    curation.check_copies(conn, esc_name, settings, cfg.experts)
    creds = hand_over_new(conn, cfg.experts, cfg.argilla.state_dir, cfg.credentials_out)
    assignment = curation.assign(todo, cfg.experts, 1)
    curation.push(conn, esc_name, settings, todo, assignment, None, 256, cfg.policy.low_resource_languages)
    out = {"escalated": len(todo), "awaiting_expert": len(waiting) - len(todo),
           "expert_answered": sum(r.status == "expert" for r in res.values()), "dataset": esc_name}
    if creds:
        out["credentials_file"] = creds
    return out


def run_raters(cfg: RatersConfig) -> list[dict[str, Any]] | dict[str, Any]:
    from semisynth.preference import raters

    if cfg.action == "list":
        return raters.listing(_conn(cfg.argilla))
    names = raters.check_names(cfg.names, f"raters {cfg.action}")
    if cfg.print_credentials and cfg.credentials_out:
        raise UserError("raters: --print-credentials", "given with --credentials-out",
                        "pick one: a 0600 file, or printed once on the terminal")
    raters.check_credentials_target(cfg.credentials_out)
    conn = _conn(cfg.argilla)
    if cfg.action == "add":
        passwords, kept = raters.add(conn, names, cfg.role)
    else:
        passwords, kept = raters.reset(conn, names), []
    path = raters.hand_over(passwords, conn.url, cfg.credentials_out, cfg.argilla.state_dir, cfg.print_credentials)
    out: dict[str, Any] = {"created" if cfg.action == "add" else "reset": sorted(passwords),
                           "url": conn.url, "workspaces": {n: conn.rater_workspace(n) for n in names}}
    if kept:
        out["already_existed"] = kept  # their passwords are unchanged: `raters reset` gives new ones
    if path:
        out["credentials_file"] = path
    return out


def cmd_raters(args: argparse.Namespace) -> int:
    cfg = args.config_flags.load(args)
    res = run_raters(cfg)
    if cfg.action == "list":
        for r in res:
            queues = ", ".join(f"{d}: {q['completed']}/{q['records']} done" for d, q in r["datasets"].items())
            print(f"{r['rater']}  ({r['role']}, workspace {r['workspace']})  {queues or 'no datasets yet'}")
        return 0
    if cfg.print_credentials:  # the passwords were printed above; keep stdout a single human block
        print(f"workspaces: {', '.join(res['workspaces'].values())}")
    else:
        print(json.dumps(res))
    return 0


def cmd_escalate(args: argparse.Namespace) -> int:
    cfg = args.config_flags.load(args)
    print(json.dumps(run_escalate(cfg)))
    return 0


# Flag names users already type, beside the generated ones (`--argilla-url`, ...).
ARGILLA_ALIASES = {"--url": "argilla.url", "--state-dir": "argilla.state_dir"}


def register(subparsers: argparse._SubParsersAction) -> None:
    st = subparsers.add_parser("argilla", help="start/stop/inspect the local Argilla workspace")
    st.add_argument("action", choices=("up", "down", "status"))
    add_config_flags(st, StackConfig)
    st.set_defaults(func=cmd_stack)

    p = subparsers.add_parser("preference", help="human curation in Argilla: push, report, escalate, export")
    sub = p.add_subparsers(dest="preference_command", metavar="ACTION")
    sub.required = True

    cand = sub.add_parser("candidates", help="answer prompts with two or more arms -> preference items JSONL")
    add_config_flags(cand, CandidatesConfig)
    cand.add_argument("--arm", action="append", metavar="NAME=MODEL[@TEMP]",
                      help="an arm in short: repeat it, at least two (replaces `arms`)")
    cand.add_argument("--max-tokens", type=int, help="with --arm: max_tokens of every arm")
    cand.set_defaults(func=cmd_candidates)

    push = sub.add_parser("push", help="create/update a curation dataset (idempotent)")
    add_config_flags(push, PushConfig, aliases={**ARGILLA_ALIASES, "-k": "k"})
    push.set_defaults(func=cmd_push)

    rat = sub.add_parser("raters", help="create raters (credentials handed over once), list them, reset passwords")
    add_config_flags(rat, RatersConfig, aliases=ARGILLA_ALIASES, positional=("action", "names"))
    rat.set_defaults(func=cmd_raters)

    rep = sub.add_parser("report", help="agreement report (JSON + HTML)")
    add_config_flags(rep, ReportConfig, aliases=ARGILLA_ALIASES)
    rep.set_defaults(func=cmd_report)

    esc = sub.add_parser("escalate", help="send escalated items to experts")
    add_config_flags(esc, EscalateConfig, aliases=ARGILLA_ALIASES)
    esc.set_defaults(func=cmd_escalate)

    ex = sub.add_parser("export", help="consensus-only exports for TRL")
    add_config_flags(ex, ExportConfig, aliases=ARGILLA_ALIASES)
    ex.set_defaults(func=cmd_export)
