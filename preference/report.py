"""`semisynth preference report`: agreement (Krippendorff nominal/ordinal, Cohen, Fleiss) per
question, per label and per rater with bootstrap intervals, gold accuracy, escalations; JSON + HTML."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from semisynth.atomic import atomic_open, write_json
from semisynth.preference import agreement as ag
from semisynth.preference.consensus import Resolution, gold_accuracy, judgment
from semisynth.preference.curation import Annotation, Item


def code_matrix(item_ids: list[str], users: list[str], anns: Sequence[Annotation], value_of,
                scale: dict[Any, int] | None = None) -> tuple[np.ndarray, list]:
    """items x raters matrix of integer codes (-1 missing) and the category list. Codes follow
    `scale` when given (an ordinal scale; values outside it count as missing), else first appearance."""
    row = {iid: i for i, iid in enumerate(item_ids)}
    col = {u: j for j, u in enumerate(users)}
    m = np.full((len(item_ids), len(users)), ag.MISSING, dtype=np.int64)
    cats: dict[Any, int] = dict(scale or {})
    for a in anns:
        if a.item_id not in row:
            continue
        v = value_of(a)
        if v is None or (scale is not None and v not in scale):
            continue
        m[row[a.item_id], col[a.user]] = cats.setdefault(v, len(cats))
    return m, list(cats)


def _block(m: np.ndarray, n_values: int, users: list[str], n_boot: int, ordinal: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"n_categories": n_values,
                           "krippendorff_alpha_nominal": ag.krippendorff_alpha(m, n_values, "nominal", n_boot).to_dict(),
                           "fleiss_kappa": ag.fleiss_kappa(ag.category_counts(m, n_values), n_boot).to_dict()}
    if ordinal:
        out["krippendorff_alpha_ordinal"] = ag.krippendorff_alpha(m, n_values, "ordinal", n_boot).to_dict()
    pairs = ag.pairwise_cohen(m, n_values)
    vals = [e.value for e in pairs.values() if np.isfinite(e.value)]
    out["cohen_kappa_mean_pairwise"] = round(float(np.mean(vals)), 4) if vals else None
    out["per_rater_kappa_vs_rest"] = {users[j]: e.to_dict() for j, e in enumerate(ag.rater_vs_rest(m, n_values, n_boot))
                                      if e.n_items}
    return out


def build_report(kind: str, items: dict[str, Item], anns: Sequence[Annotation], resolutions: dict[str, Resolution],
                 labels: list[str] | None = None, n_boot: int = 200) -> dict[str, Any]:
    item_ids = [i for i, it in items.items() if it.gold is None]
    users = sorted({a.user for a in anns})
    rep: dict[str, Any] = {"kind": kind, "items": len(item_ids), "gold_items": len(items) - len(item_ids),
                           "raters": users, "responses": len(anns)}
    m, cats = code_matrix(item_ids, users, anns, lambda a: judgment(kind, a.values))
    rep["overall"] = _block(m, len(cats), users, n_boot)
    rep["overall"]["categories"] = [list(c) if isinstance(c, tuple) else c for c in cats]
    if kind == "preference":  # ordinal scale for pairs: response_1 better < tie < response_2 better
        scale = {"best:response_1": 0, "tie": 1, "best:response_2": 2}
        ordered, _ = code_matrix(item_ids, users, anns, lambda a: judgment(kind, a.values), scale)
        rep["pairwise_preference_ordinal"] = {
            "krippendorff_alpha_ordinal": ag.krippendorff_alpha(ordered, 3, "ordinal", n_boot).to_dict()}
    questions = {"preference": ["verdict"], "review": ["decision", "irregularities_preserved"]}.get(kind, [])
    if questions:
        rep["per_question"] = {}
        for q in questions:
            mq, qc = code_matrix(item_ids, users, anns, lambda a, q=q: a.values.get(q))
            rep["per_question"][q] = _block(mq, len(qc), users, n_boot)
    if kind == "moderation":
        rep["per_label"] = {}
        for lab in labels or []:
            mb, _ = code_matrix(item_ids, users, anns, lambda a, lab=lab: None if a.values.get("labels") is None
                                else int(lab in a.values["labels"]))
            rep["per_label"][lab] = {
                "krippendorff_alpha_nominal": ag.krippendorff_alpha(mb, 2, "nominal", n_boot).to_dict(),
                "fleiss_kappa": ag.fleiss_kappa(ag.category_counts(mb, 2), n_boot).to_dict()}
    conf, _ = code_matrix(item_ids, users, anns, lambda a: a.values.get("confidence"), {c: c - 1 for c in range(1, 6)})
    if (conf >= 0).sum():
        rep["confidence_ordinal_alpha"] = ag.krippendorff_alpha(conf, 5, "ordinal", n_boot).to_dict()
    rep["gold_accuracy"] = gold_accuracy(items, anns)
    rep["resolutions"] = dict(Counter(r.status for r in resolutions.values()))
    rep["escalation_reasons"] = dict(Counter(why for r in resolutions.values() for why in r.reasons))
    return rep


def write_report(rep: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    out = Path(out_dir)
    write_json(out / "report.json", rep)
    rows = []

    def fmt(e: Any) -> str:
        if isinstance(e, dict) and "value" in e:
            return f"{e['value']} [{e['ci_low']}, {e['ci_high']}] (n={e['n_items']})"
        return html.escape(str(e))

    def section(title: str, d: dict[str, Any]) -> None:
        rows.append(f"<h2>{html.escape(title)}</h2><table border=1 cellpadding=4>")
        for k, v in d.items():
            if isinstance(v, dict) and "value" not in v:
                rows.append(f"<tr><th colspan=2>{html.escape(str(k))}</th></tr>")
                rows.extend(f"<tr><td>{html.escape(str(k2))}</td><td>{fmt(v2)}</td></tr>" for k2, v2 in v.items())
            else:
                rows.append(f"<tr><td>{html.escape(str(k))}</td><td>{fmt(v)}</td></tr>")
        rows.append("</table>")

    section("Summary", {k: v for k, v in rep.items() if not isinstance(v, dict)})
    for k, v in rep.items():
        if isinstance(v, dict):
            section(k, v)
    page = ("<!doctype html><meta charset=utf-8><title>semisynth preference report</title>"
            f"<h1>Human curation report ({html.escape(rep['kind'])})</h1>"
            "<p>Intervals: 95% percentile bootstrap over items.</p>" + "\n".join(rows))
    with atomic_open(out / "report.html") as f:
        f.write(page)
    return out / "report.json", out / "report.html"
