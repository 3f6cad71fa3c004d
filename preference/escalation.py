"""`preference escalate`: items the consensus policy cannot settle go to experts, in
`<dataset>-escalation` (one expert each; their answer wins in report and export)."""

from __future__ import annotations

from typing import Any

from semisynth.preference.client import connect
from semisynth.preference.configs import EscalateConfig
from semisynth.preference.pull import pull_dataset
from semisynth.preference.push import hand_over_new


def run_escalate(cfg: EscalateConfig) -> dict[str, Any]:
    """Push the items still needing an expert to `<dataset>-escalation`, one expert each (their answer
    wins). Items an expert already answered, or already waiting in an expert's queue, are not sent
    again and not counted as newly escalated."""
    from semisynth.preference import curation, raters
    from semisynth.preference.consensus import resolve

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
