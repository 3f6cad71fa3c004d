"""`preference escalate`: items the consensus policy cannot settle go to experts, in
`<dataset>-escalation` (one expert each; their answer wins in report and export).

The expert does not adjudicate blind: each escalated record carries a field saying why it was escalated
and what every rater answered. An expert's incomplete answer (e.g. "ranked" with no ranking) is not an
answer: the next `escalate` sends it back to the expert's pending queue and says so."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from semisynth.preference.client import connect
from semisynth.preference.configs import EscalateConfig
from semisynth.preference.pull import pull_dataset
from semisynth.preference.push import hand_over_new

REASONS = {
    "disagreement": "the raters disagree",
    "low_confidence": "the raters were unsure (low mean confidence)",
    "failed_gold": "a rater failed the gold items and was not counted",
    "low_resource_language": "synthetic text in a low-resource language (always seen by an expert)",
    "incomplete_answer": "a rater submitted an empty answer (e.g. 'ranked' with no ranking)",
    "incomplete_expert_answer": "an expert's earlier answer was empty",
}


def _answer(kind: str, values: dict[str, Any]) -> str:
    from semisynth.preference.consensus import judgment, ranking_order

    j = judgment(kind, values)
    if j is None:
        said = "empty answer" + (f" (verdict {values['verdict']}, no ranking)" if values.get("verdict") else "")
    elif kind == "moderation":
        said = "labels: " + (", ".join(j) or "(none)")
    else:
        said = str(j)
    if kind == "preference" and values.get("verdict") == "ranked" and values.get("ranking"):
        ranks = sorted(values["ranking"], key=lambda v: v.get("rank") or 99) if isinstance(values["ranking"][0], dict) \
            else [{"value": v, "rank": i + 1} for i, v in enumerate(ranking_order(values["ranking"]))]
        said += "; ranking: " + ", ".join(f"{v['value']}={v.get('rank')}" for v in ranks)
    if kind == "review" and values.get("edited"):
        said += f"; edited text: {values['edited']}"
    if values.get("confidence") is not None:
        said += f"; confidence {values['confidence']}/5"
    if values.get("rationale"):
        said += f"; why: {values['rationale']}"
    return said


def context(kind: str, reasons: Sequence[str], anns: Sequence, gold: dict[str, dict[str, float]]) -> str:
    """What the expert reads first: why the item was escalated and each rater's answer (plain text)."""
    lines = ["Escalated because: " + "; ".join(REASONS.get(r, r) for r in reasons) + "."]
    lines.append(f"Raters' answers ({len(anns)}):" if anns else "No rater has answered it.")
    for a in sorted(anns, key=lambda a: a.user):
        g = gold.get(a.user)
        acc = f" [gold accuracy {g['accuracy']:.0%} of {g['n']}]" if g else ""
        lines.append(f"- {a.user}{acc}: {_answer(kind, a.values)}")
    return "\n".join(lines)


def run_escalate(cfg: EscalateConfig) -> dict[str, Any]:
    """Push the items still needing an expert to `<dataset>-escalation`, one expert each (their answer
    wins). Items an expert already answered, or already waiting in an expert's queue, are not sent
    again and not counted as newly escalated; an expert's empty answer is deleted so that the record is
    pending in their queue again (`resent_incomplete`)."""
    from collections import defaultdict
    from dataclasses import replace

    from semisynth.preference import curation, raters
    from semisynth.preference.consensus import gold_accuracy, incomplete, resolve

    raters.check_names(cfg.experts, "escalate: field 'experts'")
    raters.check_credentials_target(cfg.credentials_out)
    conn = connect(cfg.argilla)
    pulled, kind, tax = pull_dataset(conn, cfg.dataset, cfg.taxonomy)
    esc_name = f"{cfg.dataset}-escalation"
    sent_before: set[str] = set()
    experts = []
    if conn.copies(esc_name):
        esc = curation.pull(conn, esc_name)
        sent_before, experts = set(esc.items), esc.annotations
    res = resolve(pulled.items, pulled.annotations, cfg.policy.policy(), experts)
    waiting = [i for i, r in res.items() if r.status == "escalated"]
    empty = [a for a in experts if a.item_id in pulled.items and res[a.item_id].status == "escalated"
             and incomplete(pulled.items[a.item_id], a.values)]
    with conn.http() as c:  # back to the expert's pending queue (the owner may delete any response)
        for a in empty:
            r = c.delete(f"/api/v1/responses/{a.response_id}")
            if r.status_code not in (200, 404):
                curation._ok(r)
    by_item = defaultdict(list)
    for a in pulled.annotations:
        by_item[a.item_id].append(a)
    gold = gold_accuracy(pulled.items, pulled.annotations)
    todo = [replace(it, fields={curation.ESCALATION_FIELD: context(kind, res[i].reasons, by_item[i], gold),
                                **it.fields})
            for i in waiting if i not in sent_before for it in [pulled.items[i]]]
    n_resp = max((sum(k.startswith("response_") for k in it.fields) for it in pulled.items.values()), default=2)
    settings = curation.dataset_settings(kind, n_resp, tax, min_submitted=1, escalation=True)
    curation.check_copies(conn, esc_name, settings, cfg.experts)
    creds = hand_over_new(conn, cfg.experts, cfg.argilla.state_dir, cfg.credentials_out)
    assignment = curation.assign(todo, cfg.experts, 1)
    curation.push(conn, esc_name, settings, todo, assignment, None, 256, cfg.policy.low_resource_languages)
    out = {"escalated": len(todo), "awaiting_expert": len(waiting) - len(todo),
           "expert_answered": sum(r.status == "expert" for r in res.values()), "resent_incomplete": len(empty),
           "dataset": esc_name}
    if creds:
        out["credentials_file"] = creds
    return out
