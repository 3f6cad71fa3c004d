"""From raw human responses to decisions: judgments, gold scoring, consensus, escalation.

The expert's answer (from the escalation dataset) always wins. Low-resource-language synthetic
records are always escalated, and only an expert resolution lets them through to an export.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from semisynth.preference.curation import Annotation, Item


@dataclass(frozen=True)
class Policy:
    """When a majority is a decision and when a human expert must look."""

    max_disagreement: float = 0.34  # 1 - majority share; above it the item is escalated
    min_raters: int = 2
    min_confidence: float = 2.5  # mean rater confidence (1-5) below it -> escalate
    min_gold_accuracy: float = 0.6  # raters below it on gold items are not counted
    min_gold_items: int = 3  # gold accuracy is only trusted from this many gold answers
    low_resource_languages: tuple[str, ...] = ()


def judgment(kind: str, values: dict[str, Any]) -> Any:
    """One rater's answer reduced to what agreement is measured on (None = no answer)."""
    if kind == "preference":
        verdict = values.get("verdict")
        if verdict in ("tie", "both_bad"):
            return verdict
        return ranked_best(values.get("ranking"))
    if kind == "moderation":
        labels = values.get("labels")
        return None if labels is None else tuple(sorted(labels))
    if kind == "review":
        return values.get("decision")
    raise ValueError(kind)


def ranked_best(value: Any) -> str | None:
    """What a ranking says is best: `best:<response>`, or `tie` when two or more responses share the top
    rank (Argilla accepts equal ranks; reading the first stored one as the winner would turn a tie into a
    preference and a DPO pair), or None for an empty ranking (an incomplete answer, not a judgment)."""
    if not value:
        return None
    if not isinstance(value[0], dict):
        return f"best:{value[0]}"
    ranks = [(v["rank"], v["value"]) for v in value if v.get("rank") is not None]
    if not ranks:
        return None
    top = min(r for r, _ in ranks)
    best = [name for r, name in ranks if r == top]
    return f"best:{best[0]}" if len(best) == 1 else "tie"


def incomplete(it: Item, values: dict[str, Any]) -> bool:
    """A submitted answer that says nothing (e.g. "ranked" with the ranking left empty: the question is
    optional because tie/both_bad need no ranking, so Argilla accepts it)."""
    return judgment(it.kind, values) is None


def ranking_order(value: Any) -> list[str]:
    """Argilla ranking answers come as [{"value", "rank"}] or an ordered list of values."""
    if not value:
        return []
    if isinstance(value[0], dict):
        return [v["value"] for v in sorted(value, key=lambda v: (v.get("rank") or 99))]
    return list(value)


def gold_key(kind: str, gold: Any) -> Any:
    return tuple(sorted(gold)) if kind == "moderation" else gold


def gold_answers(it: Item, labels: Sequence[str] = ()) -> list[str]:
    """What a gold answer may be: the values `judgment` gives, since a rater is scored by comparing the two.
    preference: `best:<response field>`, `tie` or `both_bad`; moderation: a list of taxonomy labels;
    review: one decision label."""
    from semisynth.preference.curation import REVIEW_DECISIONS

    if it.kind == "preference":
        return [f"best:{n}" for n in it.response_names] + ["tie", "both_bad"]
    return list(labels) if it.kind == "moderation" else list(REVIEW_DECISIONS)


def check_gold(items: Sequence[Item], source: str, labels: Sequence[str] = ()) -> None:
    """Refuse (one line) a gold item whose answer no rater could give: a gold of "response_1" would score
    every rater who answered it right as wrong."""
    from semisynth.errors import UserError

    for n, it in enumerate(items, start=1):
        allowed = gold_answers(it, labels)
        gold = it.gold
        if it.kind == "moderation":
            ok = isinstance(gold, list) and gold and all(g in allowed for g in gold)
            shape = "a list of one or more of"
        else:
            ok = isinstance(gold, str) and gold in allowed
            shape = "one of"
        if not ok:
            bad = [g for g in gold if g not in allowed] if isinstance(gold, list) and it.kind == "moderation" else gold
            raise UserError(f"{source}: item {n} ({it.id})", f"gold {bad!r} is not an answer a rater can give",
                            f"set \"gold\" to {shape}: {', '.join(allowed)}")


@dataclass
class Resolution:
    item_id: str
    status: str  # consensus | expert | escalated | unresolved
    answer: Any = None
    agreement: float | None = None
    n_raters: int = 0
    reasons: list[str] = field(default_factory=list)
    rank_scores: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "status": self.status, "answer": self.answer, "agreement": self.agreement,
                "n_raters": self.n_raters, "reasons": self.reasons}


def gold_accuracy(items: dict[str, Item], anns: Sequence[Annotation]) -> dict[str, dict[str, float]]:
    """Per rater: accuracy on gold items (n and share correct)."""
    hits: dict[str, list[int]] = defaultdict(list)
    for a in anns:
        it = items.get(a.item_id)
        if it is None or it.gold is None:
            continue
        hits[a.user].append(int(judgment(it.kind, a.values) == gold_key(it.kind, it.gold)))
    return {u: {"n": len(h), "accuracy": sum(h) / len(h)} for u, h in hits.items()}


def _majority(kind: str, answers: list[Any]) -> tuple[Any, float]:
    if kind == "moderation":  # per label majority; agreement = the weakest label's majority share
        n = len(answers)
        counts = Counter(lab for ans in answers for lab in ans)
        labels = tuple(sorted(lab for lab, c in counts.items() if c * 2 > n))
        shares = [max(c, n - c) / n for c in counts.values()] or [1.0]
        return labels, min(shares)
    (top, c), *rest = Counter(answers).most_common() or [(None, 0)]
    if rest and rest[0][1] == c:
        return None, c / len(answers)  # tie between answers: no majority
    return top, c / len(answers)


def resolve(items: dict[str, Item], anns: Sequence[Annotation], policy: Policy,
            expert_anns: Sequence[Annotation] = ()) -> dict[str, Resolution]:
    """Decide every non-gold item: expert answer, else consensus of trusted raters, else escalate."""
    gold = gold_accuracy(items, anns)
    failed = {u for u, g in gold.items() if g["n"] >= policy.min_gold_items and g["accuracy"] < policy.min_gold_accuracy}
    by_item: dict[str, list[Annotation]] = defaultdict(list)
    for a in anns:
        by_item[a.item_id].append(a)
    # the last expert answer per item; an incomplete one is not an answer (`escalate` sends it back)
    experts = {a.item_id: a for a in expert_anns if a.item_id in items and not incomplete(items[a.item_id], a.values)}
    expert_incomplete = {a.item_id for a in expert_anns if a.item_id not in experts}
    out: dict[str, Resolution] = {}
    for iid, it in items.items():
        if it.gold is not None:
            continue
        if iid in experts:
            out[iid] = Resolution(iid, "expert", judgment(it.kind, experts[iid].values), 1.0, len(by_item[iid]),
                                  ["expert"], _rank_scores([experts[iid]]))
            continue
        trusted = [a for a in by_item[iid] if a.user not in failed]
        answers = [(a, j) for a in trusted if (j := judgment(it.kind, a.values)) is not None]
        dropped = len(trusted) < len(by_item[iid])
        must_look = (["low_resource_language"] if it.language in policy.low_resource_languages else []) + \
            (["incomplete_expert_answer"] if iid in expert_incomplete else [])  # still the expert's
        if len(answers) < policy.min_raters:
            # a rater's empty answer leaves too few: someone must look (never a silent "unresolved")
            reasons = (["failed_gold"] if dropped else []) + \
                (["incomplete_answer"] if len(answers) < len(trusted) else []) + must_look
            out[iid] = Resolution(iid, "escalated" if reasons else "unresolved", None, None, len(answers),
                                  reasons or ["too_few_responses"])
            continue
        answer, share = _majority(it.kind, [j for _, j in answers])
        doubts = []
        if answer is None or 1 - share > policy.max_disagreement:
            doubts.append("disagreement")
        conf = [a.values.get("confidence") for a, _ in answers if a.values.get("confidence") is not None]
        if conf and sum(conf) / len(conf) < policy.min_confidence:
            doubts.append("low_confidence")
        # a failed-gold rater left out only matters when the trusted raters do not settle the item
        reasons = (["failed_gold"] if dropped and doubts else []) + must_look + doubts
        out[iid] = Resolution(iid, "escalated" if reasons else "consensus", answer, round(share, 4), len(answers),
                              reasons, _rank_scores([a for a, j in answers if j == answer]))
    return out


def _rank_scores(anns: Sequence[Annotation]) -> dict[str, float]:
    """Mean rank per response among the agreeing raters (lower = better), for picking `rejected`."""
    ranks: dict[str, list[int]] = defaultdict(list)
    for a in anns:
        for pos, name in enumerate(ranking_order(a.values.get("ranking")), start=1):
            ranks[name].append(pos)
    return {k: sum(v) / len(v) for k, v in ranks.items()}
