"""Exports in exactly TRL's formats, consensus items only, with lineage; a manifest counts the rest.

DPO standard: prompt/chosen/rejected strings. DPO conversational: the same keys as chat turns.
KTO (unpaired): prompt/completion/label. Moderation: labels + taxonomy version + agreement.
Ties, both-bad, unresolved and still-escalated items are excluded and counted. Low-resource-language
synthetic items are exported only after an expert resolution, whatever the raters said.

Review: the records whose verdict is accepted or edited, the verdict being review.json's (review.item_verdicts on
the trusted raters, an expert's answer winning), so the export, `report` and the mix's review gate agree on every
record; an edited record is exported in its edited form, as the mix takes it in (lineage.edited_from = the
generated record's id, meta.human_review.original_text). Rejected and undecided records are counted.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from semisynth.atomic import write_json, write_jsonl
from semisynth.errors import UserError
from semisynth.preference.consensus import Policy, Resolution
from semisynth.preference.curation import REVIEW_ACCEPT, Item

# format -> the dataset kind it exports
FORMATS = {"dpo": "preference", "dpo_conversational": "preference", "kto": "preference",
           "moderation": "moderation", "review": "review"}


CHAT_ROLES = ("system", "user", "assistant")


def is_chat(turns: Any) -> bool:
    """A non-empty list of {"role", "content"} turns (TRL's conversational prompt)."""
    return isinstance(turns, list) and bool(turns) and all(
        isinstance(t, dict) and t.get("role") in CHAT_ROLES and isinstance(t.get("content"), str) for t in turns)


def prompt_turns(it: Item) -> list[dict[str, str]]:
    """The item's chat turns, or (a hand-written item without payload.prompt_messages) the prompt the
    raters saw as one user turn."""
    turns = it.payload.get("prompt_messages")
    return turns if is_chat(turns) else [{"role": "user", "content": it.fields["prompt"]}]


def _needs_expert(it: Item, policy: Policy) -> bool:
    return it.language in policy.low_resource_languages and it.origin != "real"


def malformed(it: Item, res: Resolution) -> str | None:
    """Why an item or its decided answer cannot make an export row (None = it can). Argilla accepts
    partial answers (a "ranked" verdict with the ranking left empty) and push may have accepted items
    without candidates: those are counted exclusions, never a crash."""
    if it.kind == "preference":
        cands, names = it.payload.get("candidates"), it.response_names
        if not isinstance(cands, list) or len(cands) != len(names) or len(names) < 2 or \
                not all(isinstance(c, dict) and isinstance(c.get("text"), str) for c in cands):
            return "malformed_item_candidates"
        ans = res.answer
        if not (isinstance(ans, str) and ans.startswith("best:") and ans.split(":", 1)[1] in names):
            return "incomplete_answer"
    elif it.kind == "moderation" and not isinstance(res.answer, (list, tuple)):
        return "incomplete_answer"
    return None


def select_review(items: dict[str, Item], verdicts: dict[str, dict], policy: Policy) -> tuple[list, Counter]:
    """(item, verdict) pairs of the review records to export (accepted or edited) and a count of the others by
    verdict; a low-resource-language synthetic record waits for the expert (escalated_pending) whatever the
    raters said."""
    counts: Counter = Counter()
    keep = []
    for iid, it in items.items():
        if it.gold is not None:
            counts["gold_excluded"] += 1
            continue
        v = verdicts[iid]
        if _needs_expert(it, policy) and v["by"] != "expert":
            counts["escalated_pending"] += 1
        elif v["verdict"] in ("rejected", "undecided"):
            counts[v["verdict"]] += 1
        elif "record" not in it.payload:
            counts["malformed_item_record"] += 1
        else:
            keep.append((it, v))
    return keep, counts


def review_row(it: Item, v: dict[str, Any]) -> dict[str, Any]:
    """The reviewed record as the run holds it (the review sample's meta taken off), with meta.human_review; an
    edited one in its edited form, the same record the mix takes in (collapse/mix/review_gate.py)."""
    from semisynth.collapse.mix.review_gate import edited
    from semisynth.preference.review import reviewed_record

    rec = reviewed_record(it)
    said = {"decision": "edit" if v["verdict"] == "edited" else REVIEW_ACCEPT, "verdict": v["verdict"],
            "resolved_by": v["by"], "n_raters": v["n_raters"], "votes": v["votes"]}
    if it.payload.get("auto_rejected"):
        said["auto_rejected"] = it.payload.get("reject_reason")
    if v["verdict"] == "edited":
        rec = edited(rec, v["edited_text"], {"review_sha256": None}, v)
        said = {**rec.meta["human_review"], **said}
        said.pop("review_sha256", None)
        said.pop("by", None)
    return rec.evolve(meta={**rec.meta, "human_review": said}).to_dict()


def select(items: dict[str, Item], resolutions: dict[str, Resolution], policy: Policy) -> tuple[list, Counter]:
    """(item, resolution) pairs that may be exported, and a count of why the others may not."""
    counts: Counter = Counter()
    keep = []
    for iid, it in items.items():
        if it.gold is not None:
            counts["gold_excluded"] += 1
            continue
        res = resolutions.get(iid)
        if res is None or res.status == "unresolved":
            counts["unresolved"] += 1
        elif res.status == "escalated":
            counts["escalated_pending"] += 1
        elif _needs_expert(it, policy) and res.status != "expert":
            counts["blocked_low_resource_unreviewed"] += 1
        elif res.answer in ("tie", "both_bad"):
            counts[res.answer] += 1
        elif why := malformed(it, res):
            counts[why] += 1
        else:
            keep.append((it, res))
    return keep, counts


def _pair(it: Item, res: Resolution) -> tuple[dict, dict]:
    chosen_name = str(res.answer).split(":", 1)[1]
    names = it.response_names
    others = [n for n in names if n != chosen_name]
    rejected_name = max(others, key=lambda n: (res.rank_scores.get(n, 0.0), -names.index(n)))
    cands = it.payload["candidates"]
    return cands[names.index(chosen_name)], cands[names.index(rejected_name)]


def _lineage(it: Item, res: Resolution, extra: dict[str, Any] | None = None) -> str:
    return json.dumps({"item_id": it.id, "prompt_id": it.payload.get("prompt_id") or it.payload.get("record_id"),
                       "origin": it.origin, "language": it.language, "resolved_by": res.status,
                       "agreement": res.agreement, "n_raters": res.n_raters,
                       "lineage": it.payload.get("lineage", {}), **(extra or {})}, ensure_ascii=False, sort_keys=True)


def rows(fmt: str, selected: list) -> list[dict[str, Any]]:
    """Export rows; every item is of the format's kind (`export` checks it)."""
    out: list[dict[str, Any]] = []
    for it, res in selected:
        if fmt in ("dpo", "dpo_conversational", "kto"):
            chosen, rejected = _pair(it, res)
            lin = _lineage(it, res, {"chosen_model": chosen.get("model"), "rejected_model": rejected.get("model")})
            if fmt == "dpo":
                out.append({"prompt": it.fields["prompt"], "chosen": chosen["text"], "rejected": rejected["text"],
                            "id": it.id, "lineage": lin})
            elif fmt == "dpo_conversational":
                out.append({"prompt": prompt_turns(it),
                            "chosen": [{"role": "assistant", "content": chosen["text"]}],
                            "rejected": [{"role": "assistant", "content": rejected["text"]}],
                            "id": it.id, "lineage": lin})
            else:
                for cand, label in ((chosen, True), (rejected, False)):
                    out.append({"prompt": it.fields["prompt"], "completion": cand["text"], "label": label,
                                "id": it.id, "lineage": lin})
        elif fmt == "moderation":
            out.append({"id": it.id, "text": it.fields["text"], "labels": list(res.answer),
                        "taxonomy": it.payload.get("taxonomy"), "taxonomy_version": it.payload.get("taxonomy_version"),
                        "agreement": res.agreement, "lineage": _lineage(it, res)})
        else:  # review: (item, verdict) pairs
            out.append(review_row(it, res))
    return out


def export(fmt: str, items: dict[str, Item], resolutions: dict[str, Resolution], policy: Policy,
           out_dir: str | Path, verdicts: dict[str, dict] | None = None) -> dict[str, Any]:
    """Write a `datasets` folder (or records JSONL for review) plus manifest.json; returns the manifest.
    A review export needs `verdicts` (review.trusted_verdicts): the review's verdict, not `resolutions`."""
    if fmt not in FORMATS:
        raise UserError(f"format '{fmt}'", "unknown export format", f"use one of {', '.join(FORMATS)}")
    other = sorted({it.kind for it in items.values()} - {FORMATS[fmt]})
    if other:  # rows() would leave them out silently
        fits = [f for f, k in FORMATS.items() if k in other]
        raise UserError(f"format '{fmt}'", f"the dataset holds {', '.join(other)} items, not {FORMATS[fmt]} items",
                        f"use --format {' or '.join(fits) or 'matching the dataset'}")
    out_dir = Path(out_dir)
    if fmt == "review":
        if verdicts is None:
            raise ValueError("export --format review needs the review's verdicts (review.trusted_verdicts)")
        selected, counts = select_review(items, verdicts, policy)
    else:
        selected, counts = select(items, resolutions, policy)
    data = rows(fmt, selected)
    out_dir.mkdir(parents=True, exist_ok=True)
    if fmt == "review":
        write_jsonl(out_dir / "reviewed.jsonl", data)
    else:
        import datasets

        ds = datasets.Dataset.from_list(data) if data else datasets.Dataset.from_dict({})
        ds.save_to_disk(str(out_dir / fmt))
    manifest = {"format": fmt, "rows": len(data), "items_exported": len(selected), "excluded": dict(counts),
                "items_total": len(items)}
    write_json(out_dir / f"manifest_{fmt}.json", manifest)
    from semisynth.dataset_card import write_card

    write_card(out_dir)  # README.md: every format exported here so far, one `datasets` config each
    return manifest
