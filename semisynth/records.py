"""The record contract: one frozen type in code, plain dicts on disk (one JSON object per line).

Schema (documented in docs/record-contract.md):
  id        deterministic hash of origin, content and parents: reruns give the same ids
  text      plain text (a message, a post), and/or
  messages  chat turns [{"role", "content"}]
  origin    "real" | "paraphrase" | "synthetic"
  parents   ids of the records this one was made from (empty for real seeds and pure synthetic)
  language  ISO 639-1 code from langdetect ("und" when undetectable)
  lineage   how it was made: template + hash, model, sampling params, seed, run id, taxonomy leaf, task;
            for real records the source (file:line); `transfer`: the irregularity edits applied after the
            model wrote the text (generation/transfer/ undoes them); `edited_from`: the id of the generated
            record a human reviewer edited into this one (`semisynth mix` with a review)
  meta      free-form source metadata (source, kept source columns, language confidence, taxonomy version)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from semisynth.hashing import content_hash


class Origin(StrEnum):
    REAL = "real"
    PARAPHRASE = "paraphrase"
    SYNTHETIC = "synthetic"


@dataclass(frozen=True, slots=True)
class Message:
    role: str
    content: str


def _frozen_mapping(m: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(m or {}))


@dataclass(frozen=True, slots=True)
class Lineage:
    """How a record was made. Real seeds carry a lineage with only `source` filled."""

    generator: str | None = None  # "paraphrase" | "seeded_synthetic" | "pure_synthetic" | a collapse model ...
    template: str | None = None
    template_hash: str | None = None
    model: str | None = None
    sampling: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None
    run_id: str | None = None
    taxonomy_leaf: str | None = None
    task_id: str | None = None
    variant: int | None = None
    style: str | None = None
    source: str | None = None  # where a real record was read from (file:line)
    # irregularity transfer edits, in the order applied: {kind, position, before, after[, turn, edit_type]}
    transfer: tuple[Mapping[str, Any], ...] = ()
    attempt: int | None = None  # the draw that was kept, when earlier draws of the task were rejected
    edited_from: str | None = None  # a human reviewer's edit: the id of the generated record it replaces

    def __post_init__(self) -> None:
        object.__setattr__(self, "sampling", _frozen_mapping(self.sampling))
        object.__setattr__(self, "transfer", tuple(dict(e) for e in self.transfer or ()))

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__slots__}
        out["sampling"] = dict(self.sampling)
        out["transfer"] = [dict(e) for e in self.transfer]
        return {k: v for k, v in out.items() if v not in (None, {}, [])}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Lineage:
        d = dict(d or {})
        known = {k: d[k] for k in cls.__slots__ if k in d}
        return cls(**known)


@dataclass(frozen=True, slots=True)
class Record:
    id: str
    origin: Origin
    text: str | None = None
    messages: tuple[Message, ...] | None = None
    parents: tuple[str, ...] = ()
    language: str = "und"
    lineage: Lineage = field(default_factory=Lineage)
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.text is None and not self.messages:
            raise ValueError("a record needs text or messages")
        object.__setattr__(self, "origin", Origin(self.origin))
        object.__setattr__(self, "parents", tuple(self.parents))
        object.__setattr__(self, "meta", _frozen_mapping(self.meta))
        if self.messages is not None:
            object.__setattr__(
                self,
                "messages",
                tuple(m if isinstance(m, Message) else Message(m["role"], m["content"]) for m in self.messages),
            )

    # -- construction ---------------------------------------------------------------------------
    @staticmethod
    def make_id(origin: Origin | str, text: str | None, messages: Any, parents: tuple[str, ...] | list[str]) -> str:
        """Hash of content and parents: the same content from the same parents is the same record."""
        msgs = [[m.role, m.content] if isinstance(m, Message) else [m["role"], m["content"]] for m in messages or ()]
        return content_hash([Origin(origin).value, text, msgs, sorted(parents)])

    @classmethod
    def create(
        cls,
        origin: Origin | str,
        text: str | None = None,
        messages: Any = None,
        parents: tuple[str, ...] | list[str] = (),
        language: str = "und",
        lineage: Lineage | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> Record:
        return cls(
            id=cls.make_id(origin, text, messages, tuple(parents)),
            origin=Origin(origin),
            text=text,
            messages=tuple(messages) if messages else None,
            parents=tuple(parents),
            language=language,
            lineage=lineage or Lineage(),
            meta=meta or {},
        )

    def evolve(self, **changes: Any) -> Record:
        """A copy with changes; the id is recomputed when content or parents change."""
        new = replace(self, **changes)
        if {"text", "messages", "parents", "origin"} & changes.keys():
            new = replace(new, id=self.make_id(new.origin, new.text, new.messages, new.parents))
        return new

    # -- views ----------------------------------------------------------------------------------
    @property
    def content(self) -> str:
        """The text the monitor and embedders look at: `text`, or the turns joined line by line."""
        if self.text is not None:
            return self.text
        return "\n".join(m.content for m in self.messages or ())

    # -- (de)serialisation ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "origin": self.origin.value}
        if self.text is not None:
            d["text"] = self.text
        if self.messages is not None:
            d["messages"] = [{"role": m.role, "content": m.content} for m in self.messages]
        d["parents"] = list(self.parents)
        d["language"] = self.language
        d["lineage"] = self.lineage.to_dict()
        if self.meta:
            d["meta"] = dict(self.meta)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Record:
        return cls(
            id=d["id"],
            origin=Origin(d["origin"]),
            text=d.get("text"),
            messages=tuple(Message(m["role"], m["content"]) for m in d["messages"]) if d.get("messages") else None,
            parents=tuple(d.get("parents") or ()),
            language=d.get("language") or "und",
            lineage=Lineage.from_dict(d.get("lineage")),
            meta=d.get("meta") or {},
        )


@dataclass(frozen=True, slots=True)
class Reject:
    """An input or task that did not become a record, and why. Every reject lands in a ledger."""

    id: str
    parents: tuple[str, ...]
    reason: str
    detail: str | None = None
    text: str | None = None  # the rejected output, when there was one (for inspection)
    task_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {"id": self.id, "parents": list(self.parents), "reason": self.reason}
        for k in ("detail", "text", "task_id"):
            v = getattr(self, k)
            if v is not None:
                d[k] = v
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Reject:
        return cls(
            id=d["id"],
            parents=tuple(d.get("parents") or ()),
            reason=d["reason"],
            detail=d.get("detail"),
            text=d.get("text"),
            task_id=d.get("task_id"),
        )
