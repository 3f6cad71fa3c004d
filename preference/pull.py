"""Reading a pushed dataset back: every rater's copy pulled and merged by item id (one judgment per item and
user), its kind and taxonomy checked, consensus resolved (expert answers win); `report` and `export` are
built on it."""

from __future__ import annotations

from typing import Any

from semisynth.errors import UserError
from semisynth.paths import check_output_dir
from semisynth.preference.client import connect
from semisynth.preference.configs import ExportConfig, ReportConfig


def pull_dataset(conn, dataset: str, taxonomy: str | None = None):
    """The pulled dataset, its one kind and (moderation) its taxonomy; a dataset semisynth did not
    push (records of another or several kinds) is a UserError, not a crash in the consensus code."""
    from semisynth.preference import curation
    from semisynth.taxonomy import load_taxonomy

    pulled = curation.pull(conn, dataset)
    kinds = sorted({it.kind for it in pulled.items.values()})
    if len(kinds) > 1 or not set(kinds) <= set(curation.KINDS):
        raise UserError(f"Argilla dataset '{dataset}'", f"holds records of kind {', '.join(kinds)}",
                        f"use a dataset made by `semisynth preference push` (one of {', '.join(curation.KINDS)})")
    kind = kinds[0] if kinds else "preference"
    if kind != "moderation":
        return pulled, kind, None
    names = {it.payload["taxonomy"] for it in pulled.items.values() if "taxonomy" in it.payload}
    if len(names) != 1:
        raise UserError(f"Argilla dataset '{dataset}'", f"moderation items name {len(names)} taxonomies",
                        "push one taxonomy per dataset")
    name = names.pop()
    tax = load_taxonomy(taxonomy or name)
    if tax.name != name:
        raise UserError(f"Argilla dataset '{dataset}'", f"items were labelled under taxonomy '{name}', "
                        f"not '{tax.name}'", f"pass --taxonomy with the '{name}' YAML used at push")
    versions = sorted({str(it.payload.get("taxonomy_version")) for it in pulled.items.values() if it.gold is None})
    if versions != [str(tax.version)]:  # labels made under another version would be read against the wrong ids
        raise UserError(f"Argilla dataset '{dataset}'", f"items were labelled under taxonomy '{name}' version(s) "
                        f"{', '.join(versions)} but it is now version {tax.version}",
                        "restore that taxonomy version, or push the records to a new dataset under the new one")
    return pulled, kind, tax


def expert_annotations(conn, dataset: str) -> list:
    from semisynth.preference import curation

    return curation.pull(conn, f"{dataset}-escalation").annotations if conn.copies(f"{dataset}-escalation") else []


def resolved(cfg: ReportConfig):
    from semisynth.preference.consensus import resolve
    from semisynth.taxonomy import load_taxonomy

    if cfg.taxonomy:  # a missing or broken --taxonomy is bad input: named before connecting and pulling
        load_taxonomy(cfg.taxonomy)
    conn = connect(cfg.argilla)
    pulled, kind, tax = pull_dataset(conn, cfg.dataset, cfg.taxonomy)
    return pulled, kind, tax, resolve(pulled.items, pulled.annotations, cfg.policy.policy(),
                                      expert_annotations(conn, cfg.dataset))


def run_report(cfg: ReportConfig) -> tuple:
    """Agreement report (JSON + HTML) of a pushed dataset, and for a review dataset review.json (preference/review.py);
    returns the paths written."""
    from semisynth.preference.report import build_report, write_report
    from semisynth.preference.review import read_monitor_report, write_review_report

    check_output_dir(cfg.out, "out (--out)")  # before connecting to Argilla
    monitor = read_monitor_report(cfg.monitor_report)
    pulled, kind, tax, res = resolved(cfg)
    labels = [lab.id for lab in tax.leaves] if tax else None
    rep = build_report(kind, pulled.items, pulled.annotations, res, labels, cfg.bootstrap)
    paths = write_report(rep, cfg.out)
    return (*paths, *write_review_report(cfg, pulled, monitor)) if kind == "review" else paths


def run_export(cfg: ExportConfig) -> dict[str, Any]:
    """Consensus-only export in cfg.format; returns the export's manifest summary."""
    from semisynth.preference.export import export
    from semisynth.preference.review import trusted_verdicts

    check_output_dir(cfg.out, "out (--out)")  # before connecting to Argilla
    pulled, kind, _, res = resolved(cfg)
    verdicts = None
    if kind == "review":  # the verdicts review.json reports (preference/review.py), not the 6-way consensus
        experts = expert_annotations(connect(cfg.argilla), cfg.dataset)
        verdicts = trusted_verdicts(pulled.items, pulled.annotations, cfg.policy.policy(), experts)
    return export(cfg.format, pulled.items, res, cfg.policy.policy(), cfg.out, verdicts)
