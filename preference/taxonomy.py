"""Taxonomies as the curation datasets see them: leaves with id, definition, examples and the
taxonomy version (stored with every human label), plus UI guidelines.

Loading and validation (unique ids, definitions, known parents, no cycles) are the core loader's
(`semisynth.taxonomy`), so generators and raters read the same files the same way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from semisynth import taxonomy as core


@dataclass(frozen=True, slots=True)
class Leaf:
    id: str
    definition: str
    examples: tuple[str, ...]
    version: str
    severity: str | None = None
    parent: str | None = None


@dataclass(frozen=True)
class Taxonomy:
    name: str
    version: str
    description: str
    leaves: tuple[Leaf, ...]
    source: str = ""

    @property
    def ids(self) -> list[str]:
        return [lab.id for lab in self.leaves]


def load_taxonomy(name_or_path: str | os.PathLike) -> Taxonomy:
    """A shipped taxonomy by name (`trust_safety`, `intents`) or a YAML path; validated by the core loader."""
    t = core.load_taxonomy(name_or_path)
    leaves = tuple(Leaf(lab.id, lab.definition, lab.examples, t.version, lab.severity, lab.parent) for lab in t.leaves)
    return Taxonomy(t.name, t.version, t.description, leaves, t.source)


def taxonomy_guidelines(tax: Taxonomy) -> str:
    """Markdown guidelines shown in the Argilla UI: definition, severity and examples per label."""
    lines = [f"# {tax.name} v{tax.version}", tax.description, "", "Pick every label that applies."]
    for lab in tax.leaves:
        sev = f" (severity: {lab.severity})" if lab.severity else ""
        lines.append(f"- **{lab.id}**{sev}: {lab.definition}")
        lines.extend(f"  - e.g. _{ex}_" for ex in lab.examples[:2])
    return "\n".join(lines)


def as_dict(tax: Taxonomy) -> dict[str, Any]:
    return {"name": tax.name, "version": tax.version,
            "leaves": [{"id": lab.id, "definition": lab.definition, "examples": list(lab.examples),
                        "version": lab.version, "severity": lab.severity} for lab in tax.leaves]}
