"""The reviewers' verdict as a figure: acceptance with Wilson intervals, failure reasons, agreement, and the
automatic checks calibrated against it; written as review.json beside the monitor report the sample came from.

Per item (a record of the review sample), the verdict of its trusted raters (raters who failed the gold items
are left out, an expert's answer wins, as in consensus.resolve): **rejected** when more than half of them named a
failure reason (the reason: the one named most, ties in label order), **edited** / **accepted** when more than
half said edit or acceptable (edited when edits outnumber acceptable and an edited text was written), else
**undecided** (also with fewer than `min_raters` answers). Acceptance = accepted as generated: an edited record
needed a human fix and is not counted as accepted.

Acceptance is estimated per generator, style and language. The monitor's sample is stratified by cell
(generator x style) and each row carries its cell's population N_h; a decided record in cell h weighs
N_h / n_h (n_h: decided records of h), the stratified estimate p = sum(w y) / sum(w). The interval is Wilson's
on the Kish effective n = (sum w)^2 / sum(w^2); where all weights in a group are equal (one cell, or a
proportional allocation) it is exactly Wilson's interval on the counts.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from semisynth.errors import UserError
from semisynth.preference.curation import (
    REVIEW_ACCEPT,
    REVIEW_FAILURES,
    REVIEW_REJECTS,
    Annotation,
    Item,
    review_item,
)
from semisynth.records import Record, Reject

FORMAT = "semisynth.review/1"
VERDICTS = ("accepted", "edited", "rejected", "undecided")
TRUTH = ("a record is bad when its reviewers' verdict is rejected or edited (not acceptable as generated); "
         "undecided records are left out")
ESTIMATOR = ("stratified: a decided record of cell h (generator x style) weighs N_h / n_h; p = sum(w y) / sum(w); "
             "Wilson interval on the Kish effective n = (sum w)^2 / sum(w^2) (plain Wilson on the counts when the "
             "weights are equal)")
REVIEW_META = ("review_stratum", "review_reason", "review_cell", "review_cell_size")


# -- intervals --------------------------------------------------------------------------------------
def z_of(confidence: float) -> float:
    from scipy import stats

    return float(stats.norm.ppf(0.5 + confidence / 2))


def wilson(p: float, n: float, z: float) -> tuple[float, float]:
    """Wilson score interval for a proportion p observed on n (n may be an effective, non-integer n)."""
    if n <= 0:
        return 0.0, 1.0
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(max(p * (1 - p) / n + z2 / (4 * n * n), 0.0))
    return max(0.0, centre - half), min(1.0, centre + half)


def weighted_rate(ys: Sequence[int], ws: Sequence[float], z: float) -> dict[str, Any]:
    """Design-weighted proportion with its Wilson interval on the Kish effective n."""
    n = len(ys)
    if not n:
        return {"n": 0, "accepted": 0, "rate": None, "ci_low": None, "ci_high": None, "n_eff": 0.0}
    w = np.asarray(ws, dtype=float)
    y = np.asarray(ys, dtype=float)
    p = float((w * y).sum() / w.sum())
    n_eff = float(w.sum() ** 2 / (w * w).sum())
    if np.allclose(w, w[0]):  # equal weights: the counts themselves (no rounding drift in p or n)
        p, n_eff = float(y.sum() / n), float(n)
    lo, hi = wilson(p, n_eff, z)
    return {"n": n, "accepted": int(y.sum()), "rate": round(p, 6), "ci_low": round(lo, 6), "ci_high": round(hi, 6),
            "n_eff": round(n_eff, 3)}


# -- verdicts ---------------------------------------------------------------------------------------
def _verdict(answers: Sequence[Mapping[str, Any]], by: str) -> dict[str, Any]:
    decisions = [a.get("decision") for a in answers]
    n = len(decisions)
    votes = Counter(d for d in decisions if d is not None)
    fails = sum(votes[d] for d in REVIEW_REJECTS)
    ok = votes[REVIEW_ACCEPT] + votes["edit"]
    edits = sorted(str(a.get("edited")).strip() for a in answers
                   if a.get("decision") == "edit" and str(a.get("edited") or "").strip())
    out: dict[str, Any] = {"verdict": "undecided", "reason": None, "edited_text": None, "n_raters": n, "by": by,
                           "votes": dict(sorted(votes.items()))}
    if fails * 2 > n:
        order = [*REVIEW_FAILURES, "reject"]
        out.update(verdict="rejected", reason=max(order, key=lambda d: (votes[d], -order.index(d))))
    elif ok * 2 > n:
        if votes["edit"] > votes[REVIEW_ACCEPT] and edits:
            out.update(verdict="edited", edited_text=Counter(edits).most_common(1)[0][0])
        else:
            out.update(verdict="accepted")
    return out


def item_verdicts(items: Mapping[str, Item], anns: Sequence[Annotation], min_raters: int = 2,
                  failed_raters: Iterable[str] = (), expert_anns: Sequence[Annotation] = ()) -> dict[str, dict]:
    """item id -> verdict (see the module docstring) for every non-gold review item."""
    failed = set(failed_raters)
    by_item: dict[str, list[Annotation]] = defaultdict(list)
    for a in anns:
        if a.user not in failed:
            by_item[a.item_id].append(a)
    experts = {a.item_id: a for a in expert_anns}
    out = {}
    for iid, it in items.items():
        if it.gold is not None or it.kind != "review":
            continue
        if iid in experts:
            out[iid] = _verdict([experts[iid].values], "expert")
            continue
        answers = [a.values for a in sorted(by_item[iid], key=lambda a: a.user) if a.values.get("decision")]
        v = _verdict(answers, "raters")
        if len(answers) < min_raters:
            v.update(verdict="undecided", reason=None, edited_text=None)
        out[iid] = v
    return out


def trusted_verdicts(items: Mapping[str, Item], anns: Sequence[Annotation], policy: Any,
                     expert_anns: Sequence[Annotation] = ()) -> dict[str, dict]:
    """item_verdicts with the raters who failed the gold items left out (policy's min_gold_items /
    min_gold_accuracy, as consensus.resolve): the one verdict review.json reports, `export --format review`
    exports and the mix applies. A synthetic record in one of the policy's low-resource languages is decided by
    the expert only (as export decides it): without the expert's answer it is undecided, pending
    "low_resource_language", whatever the raters said (not counted, not dropped, not edited)."""
    from semisynth.preference.consensus import gold_accuracy

    gold = gold_accuracy(dict(items), anns)
    failed = [u for u, g in gold.items() if g["n"] >= policy.min_gold_items and g["accuracy"] < policy.min_gold_accuracy]
    out = item_verdicts(items, anns, policy.min_raters, failed, expert_anns)
    low = set(policy.low_resource_languages)
    for iid, v in out.items():
        it = items[iid]
        if v["by"] != "expert" and it.language in low and it.origin != "real":
            v.update(verdict="undecided", reason=None, edited_text=None, pending="low_resource_language")
    return out


# -- the reviewed records ---------------------------------------------------------------------------
def reviewed_record(it: Item) -> Record:
    """The record as the run holds it: the sample's review_* meta taken off (the monitor added it)."""
    d = dict(it.payload["record"])
    meta = {k: v for k, v in (d.get("meta") or {}).items() if k not in REVIEW_META}
    if meta:
        d["meta"] = meta
    else:
        d.pop("meta", None)
    return Record.from_dict(d)


def _cell_of(it: Item) -> tuple[str, int | None]:
    rec = it.payload.get("record") or {}
    meta, lin = rec.get("meta") or {}, rec.get("lineage") or {}
    cell = meta.get("review_cell") or f"{lin.get('generator') or '-'}|{lin.get('style') or '-'}"
    size = meta.get("review_cell_size")
    return cell, int(size) if isinstance(size, (int, float)) and size > 0 else None


def kept_checks(it: Item) -> list[str]:
    """The reader checks (generation/facts.py, the copy check of generation/checks.py) a kept record fails beside
    its seed, as scripts/reader_defects.py applies them: what a team would tighten."""
    from semisynth.generation.checks import CheckConfig, seed_copy
    from semisynth.generation.facts import fact_change, form_defect

    rec = it.payload.get("record") or {}
    text = it.fields.get("synthetic", "")
    seed = it.fields.get("seed") if it.payload.get("seed_id") else None
    found = []
    if (f := form_defect(text, seed)) is not None:
        found.append(f[0])
    if seed is not None and str((rec.get("lineage") or {}).get("generator") or "").startswith("paraphrase"):
        lang = it.payload.get("seed_language") or rec.get("language") or "en"
        if (f := fact_change(seed, text, lang)) is not None:
            found.append(f[0])
        cfg = CheckConfig()
        if (c := seed_copy(text, seed, cfg.near_copy_similarity, cfg.verbatim_min_chars,
                           cfg.verbatim_min_share)) is not None:
            found.append(c[0])
    return sorted(set(found))


# -- the figures ------------------------------------------------------------------------------------
def _pr(tp: int, fp: int, fn: int, z: float) -> dict[str, Any]:
    prec = tp / (tp + fp) if tp + fp else None
    rec = tp / (tp + fn) if tp + fn else None
    out: dict[str, Any] = {"fired": tp + fp, "tp": tp, "fp": fp, "fn": fn,
                           "precision": None if prec is None else round(prec, 6),
                           "recall": None if rec is None else round(rec, 6)}
    if prec is not None:
        out["precision_ci"] = [round(x, 6) for x in wilson(prec, tp + fp, z)]
    if rec is not None:
        out["recall_ci"] = [round(x, 6) for x in wilson(rec, tp + fn, z)]
    return out


def calibrate(kept: Sequence[tuple[bool, list[str]]], rejects: Sequence[tuple[bool, str, int]], n_kept_population: int,
              kept_bad_rate: float | None, z: float) -> dict[str, Any]:
    """Precision and recall of each automatic check against the reviewers.

    kept: (bad, checks that fire) per decided kept record; on these the checks' precision and recall are counts
    on the reviewed sample. rejects: (bad, reason, N_reason) per decided reviewed reject, N_reason the rejects
    with that reason in the ledger. A reject reason's precision is the share of its reviewed rejects that are bad;
    its recall is over every bad output of the run, rejected or kept, estimated as
    N_reason x precision / (sum over reasons of N_r x precision_r + N_kept x bad rate of the kept records)."""
    names = sorted({c for _, cs in kept for c in cs})
    kept_table = {}
    for c in names:
        tp = sum(bad and c in cs for bad, cs in kept)
        fp = sum((not bad) and c in cs for bad, cs in kept)
        fn = sum(bad and c not in cs for bad, cs in kept)
        kept_table[c] = _pr(tp, fp, fn, z)
    by_reason: dict[str, list[bool]] = defaultdict(list)
    size: dict[str, int] = {}
    for bad, reason, n_r in rejects:
        by_reason[reason].append(bad)
        size[reason] = n_r
    est_bad = {r: size[r] * sum(b) / len(b) for r, b in by_reason.items()}
    kept_bad = None if kept_bad_rate is None else n_kept_population * kept_bad_rate
    total_bad = sum(est_bad.values()) + (kept_bad or 0.0)
    reject_table = {}
    for r in sorted(by_reason):
        b = by_reason[r]
        prec = sum(b) / len(b)
        reject_table[r] = {"reviewed": len(b), "bad": sum(b), "in_ledger": size[r], "precision": round(prec, 6),
                           "precision_ci": [round(x, 6) for x in wilson(prec, len(b), z)],
                           "estimated_bad_caught": round(est_bad[r], 3),
                           "recall": round(est_bad[r] / total_bad, 6) if total_bad and kept_bad is not None else None}
    return {"truth": TRUTH,
            "kept_checks": {"method": "on the decided kept records of the sample: precision = bad among the records "
                            "the check fires on, recall = share of the bad records it fires on (Wilson intervals)",
                            "n": len(kept), "bad": sum(b for b, _ in kept), "checks": kept_table},
            "reject_reasons": {"method": "precision on the reviewed rejects of each reason; recall over every bad "
                               "output of the run (rejected or kept) = N_reason x precision / (sum_r N_r x precision_r "
                               "+ N_kept x bad rate of the kept records); reasons with no reviewed reject add nothing",
                               "n": len(rejects), "n_kept_population": n_kept_population,
                               "estimated_bad_kept": None if kept_bad is None else round(kept_bad, 3),
                               "estimated_bad_total": round(total_bad, 3), "reasons": reject_table}}


def agreement(items: Mapping[str, Item], anns: Sequence[Annotation], n_boot: int = 200) -> dict[str, Any]:
    """Agreement on the overlap (items answered by two or more raters): the full decision label and
    acceptable-or-not, Krippendorff's alpha (nominal) with bootstrap intervals and the observed share of
    agreeing rater pairs."""
    from semisynth.preference import agreement as ag

    ids = [i for i, it in items.items() if it.gold is None and it.kind == "review"]
    users = sorted({a.user for a in anns})
    by_item: dict[str, dict[str, str]] = defaultdict(dict)
    for a in anns:
        if a.item_id in items and a.values.get("decision"):
            by_item[a.item_id][a.user] = a.values["decision"]
    overlap = [i for i in ids if len(by_item[i]) >= 2]
    out: dict[str, Any] = {"items_with_2_or_more_raters": len(overlap), "raters": users}
    for name, code in (("decision", lambda d: d), ("acceptable", lambda d: "yes" if d == REVIEW_ACCEPT else "no")):
        cats: dict[str, int] = {}
        m = np.full((len(overlap), len(users)), ag.MISSING, dtype=np.int64)
        agree = pairs = 0
        for r, iid in enumerate(overlap):
            vals = [code(by_item[iid][u]) for u in users if u in by_item[iid]]
            for j, u in enumerate(users):
                if u in by_item[iid]:
                    m[r, j] = cats.setdefault(code(by_item[iid][u]), len(cats))
            for x in range(len(vals)):
                for y in range(x + 1, len(vals)):
                    pairs += 1
                    agree += vals[x] == vals[y]
        alpha = ag.krippendorff_alpha(m, max(len(cats), 2), "nominal", n_boot).to_dict() if overlap else None
        out[name] = {"krippendorff_alpha_nominal": alpha, "pairwise_agreement": round(agree / pairs, 6)
                     if pairs else None, "pairs": pairs}
    return out


def build_review(dataset: str, items: Mapping[str, Item], anns: Sequence[Annotation], verdicts: Mapping[str, dict],
                 confidence: float = 0.95, n_boot: int = 200, monitor_report: Mapping[str, Any] | None = None,
                 monitor_report_path: str | None = None) -> dict[str, Any]:
    """review.json: acceptance per generator / style / language with intervals, decision shares, agreement,
    check calibration, each kept record's verdict, and the fingerprint of what was reviewed."""
    from semisynth.collapse.monitor.fingerprint import METHOD, file_sha256, records_fingerprint

    z = z_of(confidence)
    kept_items = [it for it in items.values() if it.gold is None and it.kind == "review"
                  and not it.payload.get("auto_rejected")]
    reject_items = [it for it in items.values() if it.gold is None and it.kind == "review"
                    and it.payload.get("auto_rejected")]
    decided = [it for it in kept_items if verdicts[it.id]["verdict"] != "undecided"]
    cells: dict[str, tuple[str, int | None]] = {it.id: _cell_of(it) for it in kept_items}
    n_cell = Counter(cells[it.id][0] for it in decided)
    stratified = any(cells[it.id][1] is not None for it in decided)

    def weight(it: Item) -> float:
        cell, size = cells[it.id]
        return size / n_cell[cell] if stratified and size is not None else 1.0

    def rec(it: Item) -> dict[str, Any]:
        return it.payload.get("record") or {}

    keys = {"generator": lambda it: (rec(it).get("lineage") or {}).get("generator") or "-",
            "style": lambda it: (rec(it).get("lineage") or {}).get("style") or "-",
            "language": lambda it: it.language, "cell": lambda it: cells[it.id][0]}
    y = {it.id: int(verdicts[it.id]["verdict"] == "accepted") for it in decided}
    acceptance: dict[str, Any] = {"overall": weighted_rate([y[it.id] for it in decided], [weight(it) for it in decided], z)}
    for name, key in keys.items():
        groups: dict[str, list[Item]] = defaultdict(list)
        for it in decided:
            groups[key(it)].append(it)
        acceptance[f"by_{name}"] = {g: weighted_rate([y[it.id] for it in m], [weight(it) for it in m], z)
                                    for g, m in sorted(groups.items())}
    wsum = sum(weight(it) for it in decided) or 1.0
    labels = [REVIEW_ACCEPT, *REVIEW_FAILURES, "reject", "edit"]
    label_of = {it.id: (verdicts[it.id]["reason"] if verdicts[it.id]["verdict"] == "rejected" else
                        "edit" if verdicts[it.id]["verdict"] == "edited" else REVIEW_ACCEPT) for it in decided}
    shares = {lab: {"n": sum(label_of[it.id] == lab for it in decided),
                    "share": round(sum(weight(it) for it in decided if label_of[it.id] == lab) / wsum, 6)}
              for lab in labels if lab != "reject" or any(v == "reject" for v in label_of.values())}
    failed = [it for it in decided if verdicts[it.id]["verdict"] == "rejected"]
    fsum = sum(weight(it) for it in failed) or 1.0
    reasons = {lab: {"n": sum(label_of[it.id] == lab for it in failed),
                     "share_of_rejected": round(sum(weight(it) for it in failed if label_of[it.id] == lab) / fsum, 6)}
               for lab in labels if lab in REVIEW_REJECTS and (lab != "reject" or shares.get("reject"))}
    # calibration: bad = not acceptable as generated
    kept_rows = [(verdicts[it.id]["verdict"] != "accepted", kept_checks(it)) for it in decided]
    rej_rows = [(verdicts[it.id]["verdict"] != "accepted", str(it.payload.get("reject_reason")),
                 int(it.payload.get("reject_reason_size") or 0)) for it in reject_items
                if verdicts[it.id]["verdict"] != "undecided"]
    population = (monitor_report or {}).get("fingerprint", {}).get("synthetic") if monitor_report else None
    n_pop = int(population["n"]) if population and "n" in population else \
        sum({c: s for c, s in cells.values() if s is not None}.values()) or len(kept_items)
    overall = acceptance["overall"]["rate"]
    calibration = calibrate(kept_rows, rej_rows, n_pop, None if overall is None else 1 - overall, z)
    reviewed = [reviewed_record(it) for it in kept_items]
    fp: dict[str, Any] = {"method": METHOD, "reviewed": records_fingerprint(reviewed),
                          "population": None, "monitor_report": None, "monitor_report_sha256": None}
    if population:
        fp.update(population={k: population.get(k) for k in ("n", "ids", "records", "read_as")},
                  monitor_report=monitor_report_path,
                  monitor_report_sha256=file_sha256(monitor_report_path) if monitor_report_path else None)
    decisions = {reviewed_record(it).id: {k: verdicts[it.id][k] for k in ("verdict", "reason", "edited_text", "n_raters",
                                                                         "by")}
                 | ({"pending": verdicts[it.id]["pending"]} if verdicts[it.id].get("pending") else {})
                 for it in kept_items}
    return {"format": FORMAT, "dataset": dataset, "confidence": confidence,
            "raters": sorted({a.user for a in anns}),
            "items": {"kept_sample": len(kept_items), "rejects_sample": len(reject_items),
                      "decided": len(decided), "verdicts": dict(Counter(verdicts[it.id]["verdict"] for it in kept_items)),
                      "awaiting_expert": sum(bool(verdicts[it.id].get("pending")) for it in kept_items),
                      "gold": sum(it.gold is not None for it in items.values())},
            "method": {"verdict": __doc__.split("\n\n")[1].replace("\n", " "), "acceptance": "accepted as generated "
                       "(edited counts as not accepted)", "estimator": ESTIMATOR, "stratified": stratified},
            "acceptance": acceptance, "decision_shares": shares, "failure_reasons": reasons,
            "agreement": agreement(items, anns, n_boot), "calibration": calibration,
            "decisions": decisions, "fingerprint": fp}


# -- the rejects' sample ----------------------------------------------------------------------------
def read_rejects(path: str | Path) -> list[Reject]:
    """The generation rejects ledger: a run directory (its rejects/), a folder of JSONL shards or one file."""
    from semisynth.io import iter_raw_rows

    p = Path(path)
    if p.is_dir() and (p / "rejects").is_dir():
        p = p / "rejects"
    files = sorted(p.glob("*.jsonl")) if p.is_dir() else [p]
    if not files or not all(f.is_file() for f in files):
        raise UserError(f"rejects '{path}'", "no rejects ledger there",
                        "give a `semisynth generate` run directory or its rejects/*.jsonl")
    out = []
    for f in files:
        if f.stat().st_size == 0:  # a run with no seed rejects leaves an empty rejects/seeds.jsonl
            continue
        for row in iter_raw_rows(f):
            try:
                out.append(Reject.from_dict(row.data))
            except (KeyError, TypeError, ValueError):
                raise UserError(row.source, "not a rejects-ledger row (id, parents, reason)",
                                "give the rejects/ of a `semisynth generate` run") from None
    return out


def rejects_sample(rejects: Sequence[Reject], seeds: Mapping[str, Record], n: int, seed: int = 0) -> list[Item]:
    """n review items drawn from the rejects that hold an output, stratified by reason (proportional, at least
    one per reason while n allows), each marked auto_rejected with its reason and the reason's size in the ledger."""
    from semisynth.collapse.monitor.review_sample import allocate

    by_reason: dict[str, list[Reject]] = defaultdict(list)
    for r in sorted(rejects, key=lambda r: r.id):
        if r.text and r.text.strip():
            by_reason[r.reason].append(r)
    alloc = allocate({k: len(v) for k, v in by_reason.items()}, n)
    rng = np.random.default_rng(seed)
    items = []
    for reason in sorted(by_reason):
        members = by_reason[reason]
        for i in sorted(rng.choice(len(members), alloc.get(reason, 0), replace=False).tolist()):
            rej = members[i]
            parent = next((seeds[p] for p in rej.parents if p in seeds), None)
            rec = Record(id=rej.id, origin="synthetic", text=rej.text, parents=rej.parents,
                         language=parent.language if parent else "und", meta={"reject_reason": reason})
            items.append(review_item(rec, parent, {"auto_rejected": True, "reject_reason": reason,
                                                   "reject_reason_size": len(members), "reject_detail": rej.detail}))
    return items


def check_review_json(path: str | Path) -> dict[str, Any]:
    """A review.json read back, or a UserError naming what is wrong with it."""
    import json

    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(str(p), f"not a readable review.json ({type(e).__name__})",
                        "rerun `semisynth preference report --monitor-report ...` to write it") from None
    ok = isinstance(data, dict) and data.get("format") == FORMAT and isinstance(data.get("acceptance"), dict) \
        and isinstance(data.get("decisions"), dict) and isinstance(data.get("fingerprint"), dict) \
        and isinstance(data["acceptance"].get("overall"), dict)
    if not ok:
        raise UserError(str(p), f"not a review report (format {FORMAT} with acceptance, decisions and fingerprint)",
                        "point `review` at the review.json `semisynth preference report` wrote")
    return data


def read_monitor_report(path: str | None) -> dict[str, Any] | None:
    """The monitor report a review sample was drawn from (checked before connecting to Argilla)."""
    import json

    if path is None:
        return None
    p = Path(path)
    try:
        rep = json.loads(p.read_text(encoding="utf-8"))
        syn = rep["fingerprint"]["synthetic"]
        if not isinstance(syn, dict) or "records" not in syn:
            raise KeyError("records")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as e:
        what = "not found" if isinstance(e, FileNotFoundError) else "not a monitor report with a fingerprint"
        raise UserError(f"monitor_report '{path}'", what,
                        "give the report.json `semisynth monitor --review-sample` wrote for this run") from None
    return rep


def write_review_report(cfg: Any, pulled: Any, monitor: Mapping[str, Any] | None) -> list[Path]:
    """review.json in cfg.out and, with a monitor report, beside it (its report.html gains the calibration
    section); returns the paths written."""
    from semisynth.atomic import write_json
    from semisynth.preference.client import connect
    from semisynth.preference.pull import expert_annotations

    experts = expert_annotations(connect(cfg.argilla), cfg.dataset)
    verdicts = trusted_verdicts(pulled.items, pulled.annotations, cfg.policy.policy(), experts)
    rep = build_review(cfg.dataset, pulled.items, pulled.annotations, verdicts, n_boot=cfg.bootstrap,
                       monitor_report=monitor, monitor_report_path=cfg.monitor_report)
    paths = [Path(cfg.out) / "review.json"]
    write_json(paths[0], rep)
    if cfg.monitor_report:
        from semisynth.collapse.monitor.report_html import add_review_section

        beside = Path(cfg.monitor_report).parent
        write_json(beside / "review.json", rep)
        paths.append(beside / "review.json")
        if (beside / "report.html").is_file():
            add_review_section(beside / "report.html", rep)
            paths.append(beside / "report.html")
        if (beside.parent / "run.json").is_file() and (beside.parent / "manifest.json").is_file():
            from semisynth.dataset_card import write_card

            paths.append(write_card(beside.parent))  # <run>/monitor/review.json: the run's card quotes its acceptance
    return paths
