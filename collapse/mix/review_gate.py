"""The humans' verdict as a gate: a non-real source may require `min_accepted`, the Wilson lower bound of its
reviewed acceptance (review.json of `semisynth preference report`, overall or for every generator). The mix then
refuses the source without a review fingerprinted to these very records (the population the monitor judged and
the sample was drawn from), or with a bound under the minimum, unless forced (recorded). Whenever a review is
there, its decisions apply: records the reviewers rejected never enter the mix ("human_rejected" rejects) and
edited records enter in their edited form, with lineage.edited_from naming the generated record they replace.
The manifest records the review trusted: path, sha256, its fingerprint, the bounds and what it changed.

Two steps of the mix (collapse/mix/builder.py MIX_STEPS): `check_reviews` after the monitor gates (before any
record is read), `apply_reviews` after duplicate ids are dropped (so the accounting counts every input once).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from semisynth.collapse.mix.config import MixSource, source_name
from semisynth.collapse.mix.trust import _refuse_or_force, _report_path
from semisynth.collapse.monitor.fingerprint import file_sha256, records_fingerprint
from semisynth.records import Record, Reject

_REVIEW_FIX = ("review a sample of this very run: `semisynth preference push --kind review` its review_sample.jsonl, "
               "then `semisynth preference report --monitor-report <run>/monitor/report.json`")


def review_path(s: MixSource) -> Path:
    return Path(s.review) if s.review else _report_path(s).parent / "review.json"


def review_entry(s: MixSource, force_all: bool) -> dict[str, Any]:
    """What the manifest records about a source's review; raises when min_accepted is required and not met."""
    from semisynth.preference.review import check_review_json

    path = review_path(s)
    forced = s.force or force_all
    required = s.min_accepted is not None
    if not path.is_file():
        entry = {"checked": False, "review": str(path), "min_accepted": s.min_accepted}
        if not required:
            return {**entry, "reason": "no review (none required)"}
        return _refuse_or_force(s, forced, entry, [(f"min_accepted {s.min_accepted:g} needs a review, and there is "
                                                    f"none at {path}", _REVIEW_FIX)])
    data = check_review_json(path)  # malformed: a UserError whatever force says
    fp = data["fingerprint"]
    pop = fp.get("population") if isinstance(fp.get("population"), dict) else None
    acc = data["acceptance"]
    groups = {"overall": acc["overall"]} if s.min_accepted_by == "overall" else dict(acc.get("by_generator") or {})
    bounds = {g: r.get("ci_low") for g, r in groups.items()}
    entry = {"checked": True, "review": str(path), "review_sha256": file_sha256(path),
             "trusted_fingerprint": None if pop is None else {"records": pop.get("records"), "n": pop.get("n")},
             "reviewed_fingerprint": (fp.get("reviewed") or {}).get("records"),
             "monitor_report_sha256": fp.get("monitor_report_sha256"), "min_accepted": s.min_accepted,
             "min_accepted_by": s.min_accepted_by, "lower_bounds": bounds,
             "acceptance_overall": {k: acc["overall"].get(k) for k in ("rate", "ci_low", "ci_high", "n", "n_eff")},
             "confidence": data.get("confidence")}
    if not required:
        return entry
    problems = []
    if pop is None or not pop.get("records"):
        problems.append((f"{path} is not fingerprinted to a run (written without --monitor-report)", _REVIEW_FIX))
    if not bounds:
        problems.append((f"{path} has no decided reviewed record to bound the acceptance of", "answer the review"))
    low = {g: b for g, b in bounds.items() if b is None or b < s.min_accepted}
    if low:
        what = ", ".join(f"{g} {'none' if b is None else f'{b:.4f}'}" for g, b in sorted(low.items()))
        problems.append((f"reviewed acceptance lower bound under min_accepted {s.min_accepted:g} ({what}) in {path}",
                         "improve the run (or review more records to narrow the interval)"))
    return _refuse_or_force(s, forced, entry, problems)


def check_reviews(st: Any) -> None:
    """gates[source]["review"]: each non-real source's review, refused before any record is read."""
    for s in st.cfg.sources:
        if s.kind != "real":
            name = source_name(s)
            st.gates[name] = {**st.gates[name], "review": review_entry(s, st.cfg.force)}


def edited(r: Record, text: str, review: dict[str, Any], decision: dict[str, Any]) -> Record:
    """The reviewer's edit of r: new text (a chat record becomes its edited text), lineage.edited_from = r.id."""
    meta = {**r.meta, "human_review": {"decision": "edit", "edited_from": r.id, "original_text": r.content,
                                       "review_sha256": review.get("review_sha256"),
                                       "n_raters": decision.get("n_raters"), "by": decision.get("by")}}
    return r.evolve(text=text, messages=None, lineage=replace(r.lineage, edited_from=r.id), meta=meta)


def apply_reviews(st: Any) -> None:
    """eligible, rejects: reviewed records rejected are left out ("human_rejected"), edited ones replaced by their
    edit; a required review must fingerprint the source's records as they are now."""
    from semisynth.preference.review import check_review_json

    for i, (s, recs) in enumerate(st.loaded):
        name = source_name(s)
        gate = st.gates.get(name) or {}
        review = gate.get("review") or {}
        if s.kind == "real" or not review.get("checked"):
            continue
        now = gate.get("fingerprint_now") or records_fingerprint(recs)["records"]
        trusted = (review.get("trusted_fingerprint") or {}).get("records")
        decisions = check_review_json(review["review"])["decisions"]
        ids = {r.id for r in recs}
        review = {**review, "fingerprint_now": now, "fingerprint_match": trusted == now,
                  "reviewed_in_source": sum(k in ids for k in decisions), "reviewed": len(decisions)}
        problems = []
        if s.min_accepted is not None and trusted is not None and trusted != now:
            if decisions and not review["reviewed_in_source"]:  # not this run changed: another run's review
                problems.append((f"the review is of other records: none of the {len(decisions)} records it "
                                 f"decided is in {s.path}", "give this run's own review (review.json beside its "
                                 "monitor/report.json, written by `semisynth preference report --monitor-report`)"))
            else:
                problems.append((f"its records changed since they were reviewed: the review fingerprinted "
                                 f"{review['trusted_fingerprint']['n']} records ({trusted[:12]}), {s.path} now "
                                 f"holds {len(recs)} ({now[:12]})", "review a sample of the run as it is now"))
        unbounded = sorted({r.lineage.generator or "-" for r in recs} - set(review.get("lower_bounds") or {}))
        if s.min_accepted is not None and s.min_accepted_by == "generator" and unbounded:
            problems.append((f"min_accepted_by: generator, but the review decided no record of generator(s) "
                             f"{', '.join(unbounded)}", "review records of every generator (the monitor's review "
                             "sample gives each generator x style at least one), or use min_accepted_by: overall"))
        review = _refuse_or_force(s, s.force or st.cfg.force, review, problems)
        keep, n_rej, n_edit = [], 0, 0
        for r in st.eligible[i]:
            d = decisions.get(r.id) or {}
            if d.get("verdict") == "rejected":
                st.rejects.append(Reject(r.id, (r.id,), "human_rejected",
                                         f"source {name}: reviewers: {d.get('reason')}", r.content))
                n_rej += 1
            elif d.get("verdict") == "edited" and d.get("edited_text"):
                keep.append(edited(r, d["edited_text"], review, d))
                n_edit += 1
            else:
                keep.append(r)
        st.eligible[i] = keep
        st.gates[name] = {**gate, "review": {**review, "rejected_left_out": n_rej, "edited_entered": n_edit}}
