"""`preference push`: curation items -> one dataset copy per rater in Argilla (their own workspace), k raters
per item, gold items spread the same way. Everything local is checked before connecting, so a refused push
creates no dataset, workspace or user; a record keeps the raters it was first given, so a re-push is a no-op."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from semisynth.errors import UserError
from semisynth.preference.client import connect
from semisynth.preference.configs import PushConfig
from semisynth.preference.consensus import check_gold
from semisynth.preference.export import is_chat


def read_items(path: str):
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

    if cfg.rejects and cfg.kind != "review":
        raise UserError("push: field 'rejects'", f"a rejects sample only joins a review dataset, not {cfg.kind}",
                        "drop --rejects, or push with --kind review")
    if cfg.kind == "preference":
        return read_items(cfg.input)
    if cfg.kind == "moderation":
        return [moderation_item(r, tax) for r in read_records(cfg.input)]
    seeds = read_records(cfg.seeds) if cfg.seeds else []
    items = review_items(read_records(cfg.input), seeds)
    if cfg.rejects:  # a small sample of the automatic rejects, to calibrate the checks (preference/review.py)
        from semisynth.preference.review import read_rejects, rejects_sample

        items += rejects_sample(read_rejects(cfg.rejects), {s.id: s for s in seeds}, cfg.rejects_sample)
    return items


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
        turns = it.payload.get("prompt_messages")
        if turns is not None and not is_chat(turns):
            raise UserError(where, "payload.prompt_messages is not a list of chat turns",
                            'write [{"role": "user", "content": "..."}, ...] (roles system, user, assistant) '
                            "or leave it out: the prompt field is then the one user turn")


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
    gold = read_items(cfg.gold) if cfg.gold else []
    check_items(items, cfg.kind, cfg.input)
    check_items(gold, cfg.kind, cfg.gold or "")
    check_gold(gold, cfg.gold or "", [lab.id for lab in tax.leaves] if tax else ())
    if cfg.kind == "preference":
        most = max(len(it.response_names) for it in [*items, *gold])
        if most > cfg.n_responses:
            raise UserError(f"{cfg.input}", f"items have up to {most} responses but the dataset has "
                            f"n_responses={cfg.n_responses}", f"set n_responses: {most} in the push config")
    conn = connect(cfg.argilla)
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
