"""What a reader of report.json sees first: gate-able figures, the gates' outcome, the headline verdicts and
the worst examples."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from semisynth.collapse.monitor.comparisons import not_enough
from semisynth.collapse.monitor.config import ALPHA_SHARES, SUBSAMPLED_FIGURES, Gate
from semisynth.errors import UserError
from semisynth.records import Record


def flat_figures(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Gate-able figures by name: {"value", "baseline"} or {"status": "not_enough_data", ...}."""
    out: dict[str, dict[str, Any]] = {}
    ir = report["irregularity"]
    # An index over no judged feature is 0 by construction, not a measurement: a gate on it is skipped.
    judged = ir.get("n_judged", 1)
    for index in ("smoothing", "exaggeration"):
        test = ir.get(f"{index}_index_test") or {}
        out[f"irregularity.{index}_index"] = (
            {"value": ir[f"{index}_index"], "baseline": ir.get(f"baseline_{index}_index"),
             "verdict": test.get("verdict"), "p_value": test.get("p_value")}
            if ir.get(f"{index}_index") is not None and judged else not_enough(1, judged or 0))
    for name, f in {**ir["features"], **report["language"]["features"]}.items():
        out[f"irregularity.{name}.ratio"] = ({"value": f["ratio"], "baseline": f.get("baseline_ratio"),
                                              "verdict": f.get("verdict"), "ci": f.get("ci")}
                                             if f.get("status") == "ok" else not_enough(f.get("min_n", 0), f.get("n", 0)))
    counts = ir.get("counts") or {}
    out["irregularity.n_smoothed_features"] = {"value": counts.get("smoothed", 0), "baseline": None}
    out["irregularity.n_exaggerated_features"] = {"value": counts.get("exaggerated", 0), "baseline": None}
    out["irregularity.n_kinds_different"] = {
        "value": sum(k.get("verdict") == "different" for k in (ir.get("kinds") or {}).values()), "baseline": None}
    for feats in ("embedding", "ngram"):
        m = (report.get("two_sample") or {}).get(feats) or {}
        out[f"c2st_{feats}"] = ({"value": m["auc"], "baseline": (m.get("baseline") or {}).get("auc"),
                                 "verdict": m.get("verdict"), "ci": m.get("ci")}
                                if m.get("status") == "ok" else not_enough(m.get("min_n", 0), m.get("n", 0)))
    for name, m in report["embedding"].items():
        if m.get("status") != "ok":  # a gate on a sub-figure is then skipped (or failed), not unknown
            out[name] = m
            out.update({f"{name}.{k}": m for k in SUBSAMPLED_FIGURES.get(name, ())})
            continue
        if "value" in m:
            out[name] = {"value": m["value"], "baseline": m.get("baseline")}
        for k, v in m.items():
            if isinstance(v, dict) and "value" in v and isinstance(v["value"], dict):
                out[f"{name}.{k}"] = {"value": v["value"]["mean"], "baseline": v["baseline"]["mean"]}
    for name, m in report["text_diversity"].items():
        out[name] = ({"value": m["value"], "baseline": m["baseline"]} if m.get("status") == "ok" else m)
    return out


def evaluate_gates(gates: Sequence[Gate], figures: dict[str, dict[str, Any]]) -> dict[str, Any]:
    failed, passed, skipped = [], [], []
    for g in gates:
        fig = figures.get(g.figure)
        desc = g.model_dump(exclude_none=True)
        if fig is None:
            raise UserError(f"monitor config: gate '{g.figure}'", "no such figure in the report",
                            f"use one of: {', '.join(sorted(figures))}")
        value, base = fig.get("value"), fig.get("baseline")
        if value is None or fig.get("status") == "not_enough_data":
            entry = {**desc, "reason": f"not enough data ({fig})"}
            (failed if g.on_missing == "fail" else skipped).append(entry)
            continue
        problems = []
        if g.min is not None and value < g.min:
            problems.append(f"{value:.4g} < min {g.min}")
        if g.max is not None and value > g.max:
            problems.append(f"{value:.4g} > max {g.max}")
        if g.verdict_not is not None and fig.get("verdict") in g.verdict_not:
            p = fig.get("p_value")
            problems.append(f"verdict {fig['verdict']}" + (f" (p = {p:.3g})" if isinstance(p, float) else ""))
        for attr, cmp in (("max_baseline_ratio", lambda v, t: v > t), ("min_baseline_ratio", lambda v, t: v < t)):
            ratio = getattr(g, attr)
            if ratio is None:
                continue
            if base is None:
                problems.append("no baseline")
            elif cmp(value, ratio * base):
                problems.append(f"{value:.4g} vs {ratio} x baseline {base:.4g}")
        (failed if problems else passed).append({**desc, "value": value, "baseline": base,
                                                 **({"verdict": fig["verdict"]} if "verdict" in fig else {}),
                                                 **({"reason": "; ".join(problems)} if problems else {})})
    evaluated = len(failed) + len(passed)
    # "passed" needs a gate that was actually evaluated: skipped gates (not enough data) prove nothing.
    status = "failed" if failed else "passed" if passed else "not_evaluated"
    return {"passed": status == "passed", "status": status, "evaluated": evaluated, "failed": failed, "ok": passed,
            "skipped": skipped,
            **({"reason": f"no gate could be evaluated: all {len(skipped)} skipped for lack of data"
                if skipped else "no gates configured"} if status == "not_evaluated" else {})}



def headline(report: dict[str, Any]) -> dict[str, Any]:
    """The verdicts a reader sees first."""
    ir = report["irregularity"]

    def having(verdict: str) -> list[str]:
        return [k for k, f in ir["features"].items() if f.get("verdict") == verdict]

    smoothed, exaggerated = having("smoothed"), having("exaggerated")
    si = ir.get("smoothing_index_test") or {}
    c2 = {k: {"auc": m.get("auc"), "ci": m.get("ci"), "verdict": m.get("verdict"),
              "baseline_auc": (m.get("baseline") or {}).get("auc")}
          for k, m in (report.get("two_sample") or {}).items() if isinstance(m, dict) and m.get("status") == "ok"}
    far = [k for k, m in report["embedding"].items() if m.get("status") == "ok" and m.get("lower_is_better")
           and m.get("ratio_to_baseline") is not None and m["ratio_to_baseline"] > 2]
    ei = ir.get("exaggeration_index_test") or {}
    return {"smoothing_index": ir.get("smoothing_index"), "baseline_smoothing_index": ir.get("baseline_smoothing_index"),
            "smoothing_index_ci": si.get("ci"), "smoothing_index_verdict": si.get("verdict"),
            "smoothing_index_p": si.get("p_value"), "smoothing_index_null": (si.get("baseline") or {}).get("interval"),
            "exaggeration_index": ir.get("exaggeration_index"), "exaggeration_index_ci": ei.get("ci"),
            "exaggeration_index_verdict": ei.get("verdict"), "exaggeration_index_p": ei.get("p_value"),
            "index_verdict": ir.get("index_verdict"),
            "smoothed_features": smoothed, "exaggerated_features": exaggerated,
            "preserved_features": having("preserved"), "inconclusive_features": having("inconclusive"),
            "kind_different_features": [k for k, f in (ir.get("kinds") or {}).items() if f.get("verdict") == "different"],
            "classifier_two_sample": c2, "alpha": report["config"].get("alpha"),
            "alpha_shares": dict(ALPHA_SHARES),
            "metrics_over_2x_baseline": far, "gates_passed": report["gates"]["passed"]}


def worst_examples(syn: Sequence[Record], real: Sequence[Record], sm_idx: np.ndarray, nn_cos: np.ndarray,
                   nn_real: np.ndarray, syn_score: np.ndarray, real_score: np.ndarray, real_pos: dict[str, int],
                   k: int) -> dict[str, list[dict[str, Any]]]:
    def clip(t: str) -> str:
        return t if len(t) <= 400 else t[:400] + "..."

    out: dict[str, list[dict[str, Any]]] = {"near_copies": [], "most_smoothed": [], "farthest_from_real": []}
    if k == 0:
        return out
    if len(nn_cos):
        for j in np.argsort(-nn_cos, kind="stable")[:k]:
            out["near_copies"].append({"id": syn[sm_idx[j]].id, "text": clip(syn[sm_idx[j]].content),
                                       "nearest_real": clip(real[nn_real[j]].content), "cosine": float(nn_cos[j])})
        for j in np.argsort(nn_cos, kind="stable")[:k]:
            out["farthest_from_real"].append({"id": syn[sm_idx[j]].id, "text": clip(syn[sm_idx[j]].content),
                                              "nearest_real": clip(real[nn_real[j]].content), "cosine": float(nn_cos[j])})
    drops = []
    for i, r in enumerate(syn):
        ps = [real_pos[p] for p in r.parents if p in real_pos]
        if ps:
            drops.append((float(real_score[ps[0]] - syn_score[i]), i, ps[0]))
    drops.sort(key=lambda t: -t[0])
    for d, i, p in drops[:k]:
        if d <= 0:
            break
        out["most_smoothed"].append({"id": syn[i].id, "text": clip(syn[i].content), "parent": clip(real[p].content),
                                     "irregularity_drop": d})
    return out
