"""Every transfer edit is logged (`lineage.transfer`), so the model's clean output can be replayed back,
byte for byte."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from semisynth.records import Message, Record


@dataclass(frozen=True, slots=True)
class Edit:
    """One change: at `position` (in the text as it was when the edit was made) `before` became `after`."""

    kind: str
    position: int
    before: str
    after: str
    turn: int | None = None  # index of the message, for conversations
    edit_type: str | None = None  # typos only: deletion | doubling | transposition | keyboard | phonetic

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "position": self.position, "before": self.before, "after": self.after}
        if self.turn is not None:
            d["turn"] = self.turn
        if self.edit_type is not None:
            d["edit_type"] = self.edit_type
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Edit:
        return cls(d["kind"], int(d["position"]), d["before"], d["after"], d.get("turn"), d.get("edit_type"))


def undo_edits(text: str, edits: Sequence[Edit]) -> str:
    """The text before `edits` were applied (they are replayed backwards; each is checked)."""
    for e in reversed(edits):
        end = e.position + len(e.after)
        if text[e.position:end] != e.after:
            raise ValueError(f"edit {e.to_dict()} does not match the text at {e.position}: {text[e.position:end]!r}")
        text = text[:e.position] + e.before + text[end:]
    return text


def undo_transfer_record(record: Record) -> Record:
    """The record as the model wrote it: transfer edits undone, `lineage.transfer` cleared, id recomputed."""
    edits = [Edit.from_dict(d) for d in record.lineage.transfer]
    if not edits:
        return record
    lineage = replace(record.lineage, transfer=())
    if record.messages:
        msgs = list(record.messages)
        for turn in sorted({e.turn for e in edits if e.turn is not None}, reverse=True):
            mine = [e for e in edits if e.turn == turn]
            msgs[turn] = Message(msgs[turn].role, undo_edits(msgs[turn].content, mine))
        return record.evolve(messages=tuple(msgs), lineage=lineage)
    return record.evolve(text=undo_edits(record.text or "", edits), lineage=lineage)


def undo_transfer(record: Record) -> str:
    """The clean model output (`content`: text, or the turns joined by newlines) before transfer."""
    return undo_transfer_record(record).content
