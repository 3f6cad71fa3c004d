"""Versioned taxonomies (moderation labels, intents) as data: YAML files in `taxonomies/`.

Format:
    name: intents            # unique name
    version: "1.0.0"          # stored with every label made against it
    description: ...
    domain: an airline's customer-support account   # optional: who the texts are written to
                              # (generation prompts say this; default: a company's customer support)
    labels:                   # a tree; leaves are what generators aim at and raters pick
      - id: baggage
        definition: ...
        children:
          - id: baggage.lost
            definition: ...
            examples: [...]
            severity: high   # optional (moderation): none|low|medium|high|critical or 0..4

Validation gives one-line errors: unique ids, definitions present, no cycles (an id may not appear
as its own ancestor, e.g. through a `parent:` reference).
"""

from __future__ import annotations

import importlib.resources
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from semisynth.config import read_yaml
from semisynth.errors import UserError
from semisynth.hashing import content_hash

SEVERITIES = ("none", "low", "medium", "high", "critical")
DEFAULT_DOMAIN = "a company's customer support"


@dataclass(frozen=True, slots=True)
class Label:
    id: str
    definition: str
    examples: tuple[str, ...] = ()
    severity: str | None = None
    parent: str | None = None
    children: tuple[str, ...] = ()

    @property
    def is_leaf(self) -> bool:
        return not self.children


@dataclass(frozen=True, slots=True)
class Taxonomy:
    name: str
    version: str
    description: str
    labels: dict[str, Label] = field(default_factory=dict)
    source: str = ""
    domain: str = DEFAULT_DOMAIN  # who the texts are written to; generation prompts name it, never a hard-coded one

    @property
    def leaves(self) -> list[Label]:
        return [lab for lab in self.labels.values() if lab.is_leaf]

    @property
    def fingerprint(self) -> str:
        """Hash of the content: catches an edited file whose version was not bumped."""
        return content_hash([self.name, self.version, self.domain,
                             [(lab.id, lab.definition, lab.severity) for lab in self.labels.values()]])

    def leaf(self, label_id: str) -> Label:
        if label_id not in self.labels:
            raise UserError(self.source, f"unknown label '{label_id}'", f"use one of: {', '.join(sorted(self.labels))}")
        return self.labels[label_id]


def builtin_taxonomies() -> dict[str, Path]:
    root = importlib.resources.files("semisynth.taxonomies")
    return {Path(str(p)).stem: Path(str(p)) for p in root.iterdir() if str(p).endswith(".yaml")}


def _resolve(name_or_path: str | os.PathLike) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml"):
        if not p.is_file():
            what = "is a folder, not a taxonomy file" if p.is_dir() else "taxonomy file not found"
            raise UserError(str(p), what, "check the path, or name a built-in taxonomy")
        return p
    builtins = builtin_taxonomies()
    if str(name_or_path) not in builtins:
        raise UserError(f"taxonomy '{name_or_path}'", "no such built-in taxonomy",
                        f"use one of: {', '.join(sorted(builtins))}, or a path to a .yaml file")
    return builtins[str(name_or_path)]


def load_taxonomy(name_or_path: str | os.PathLike) -> Taxonomy:
    path = _resolve(name_or_path)
    src = str(path)
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise UserError(src, "expected a mapping with name, version, labels", "see taxonomies/intents.yaml for the format")
    for key in ("name", "version", "labels"):
        if key not in data:
            raise UserError(src, f"missing top-level field '{key}'", "add it (see taxonomies/intents.yaml)")
    domain = data.get("domain", DEFAULT_DOMAIN)
    if not isinstance(domain, str) or not domain.strip():
        raise UserError(src, "'domain' must be a non-empty string",
                        "write who the texts are addressed to, e.g. domain: \"a bank's customer support\"")
    labels: dict[str, Label] = {}

    def walk(nodes: Any, parent: str | None, trail: str) -> list[str]:
        if not isinstance(nodes, list):
            raise UserError(src, f"{trail}: 'labels'/'children' must be a list", "write labels as a YAML list of mappings")
        ids = []
        for i, node in enumerate(nodes):
            where = f"{trail}[{i}]"
            if not isinstance(node, dict) or not node.get("id"):
                raise UserError(src, f"{where}: label without an 'id'", "give every label a unique id")
            lid = str(node["id"])
            if lid in labels:
                raise UserError(src, f"{where}: duplicate label id '{lid}'", "make every id unique")
            if not str(node.get("definition") or "").strip():
                raise UserError(src, f"label '{lid}': missing definition", "add a one-sentence definition")
            sev = node.get("severity")
            if isinstance(sev, int) and not isinstance(sev, bool) and 0 <= sev < len(SEVERITIES):
                sev = SEVERITIES[sev]  # numeric severities 0..4 are accepted as their names
            if sev is not None and sev not in SEVERITIES:
                raise UserError(src, f"label '{lid}': severity '{sev}' unknown", f"use one of {', '.join(SEVERITIES)}")
            # Registered before its children are walked, so a child reusing this id is a duplicate.
            labels[lid] = Label(lid, str(node["definition"]).strip(), tuple(map(str, node.get("examples") or ())),
                                sev, node.get("parent", parent))
            children = walk(node.get("children") or [], lid, f"{where}.children")
            labels[lid] = replace(labels[lid], children=tuple(children))
            ids.append(lid)
        return ids

    walk(data["labels"], None, "labels")
    if not labels:  # pure synthetic would plan 0 tasks, seeded synthetic would aim at nothing, raters pick nothing
        raise UserError(src, "'labels' is empty: the taxonomy has no labels",
                        "add at least one label (id + definition) under labels: (see taxonomies/intents.yaml)")
    for lid, lab in list(labels.items()):  # children declared by `parent:` references (flat files)
        labels[lid] = replace(lab, children=tuple(dict.fromkeys(
            lab.children + tuple(k for k, v in labels.items() if v.parent == lid))))
    for lid, lab in labels.items():  # a `parent:` reference may point anywhere: check it exists and has no cycle
        seen, cur = {lid}, lab.parent
        while cur is not None:
            if cur not in labels:
                raise UserError(src, f"label '{lid}': parent '{cur}' does not exist", "fix the parent id")
            if cur in seen:
                raise UserError(src, f"label '{lid}': cycle through '{cur}'", "a label cannot be its own ancestor")
            seen.add(cur)
            cur = labels[cur].parent
    return Taxonomy(str(data["name"]), str(data["version"]), str(data.get("description", "")), labels, src,
                    " ".join(domain.split()))
