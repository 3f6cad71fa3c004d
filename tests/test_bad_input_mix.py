"""`semisynth mix`: every bad input refused before any source is read (see bad_input_harness)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bad_input_harness import Case, Env, assert_refused, case, params
from monitor_reports import write_report

from semisynth.io import read_records


def mix(e: Env, body: str | None = None, *extra: str, out: str | None = None) -> list[str]:
    if body is None:
        real = e.seeds("real.jsonl")
        body = f"sources:\n  - {{path: {real}, kind: real}}\n"
    return ["mix", "--config", e.yaml("mix.yaml", body), "--out", e.path("mixed") if out is None else out, *extra]


def run_with_report(e: Env, passed: bool | None) -> str:
    run = e.dir("run1")
    e.jsonl("run1/records/shard-00000.jsonl", [{"id": "s1", "origin": "paraphrase", "text": "bag lost again"}])
    if passed is not None:
        write_report(Path(run), passed=passed, real=read_records(e.seeds("real.jsonl")))
    return run


def report_variant(e: Env, change, passed: bool = True) -> str:
    """A mix config over one semi-synthetic run whose report.json `change` rewrites (given its path)."""
    run = run_with_report(e, passed)
    change(Path(run) / "monitor" / "report.json")
    return f"sources: [{{path: {run}, kind: semi_synthetic}}]\n"


def edit(key: str, value):
    def change(path: Path) -> None:
        d = json.loads(path.read_text())
        d[key] = value
        path.write_text(json.dumps(d))
    return change


def edit_fp(key: str, value):
    def change(path: Path) -> None:
        d = json.loads(path.read_text())
        d["fingerprint"]["synthetic"][key] = value
        path.write_text(json.dumps(d))
    return change


CASES: list[Case] = [
    case("no-config-flag", lambda e: ["mix", "--out", e.path("o")], "required", "--config"),
    case("config-missing-file", lambda e: ["mix", "--config", e.path("none.yaml")], "none.yaml", "not found"),
    case("config-invalid-yaml", lambda e: ["mix", "--config", e.yaml("b.yaml", "sources: [\n")], "b.yaml:",
         "invalid YAML"),
    case("sources-empty", lambda e: mix(e, "sources: []\n"), "field 'sources'", "at least 1"),
    case("sources-missing", lambda e: mix(e, "real_floor: 0.2\n"), "field 'sources'", "add this field"),
    case("source-unknown-key", lambda e: mix(e, "sources: [{path: a, kind: real, shar: 1}]\n"), "sources.0.shar",
         "keys of 'sources.0': path, kind, share"),
    case("source-kind", lambda e: mix(e, "sources: [{path: a, kind: fake}]\n"), "sources.0.kind", "'real'"),
    case("shares-not-summing", lambda e: mix(e, "sources: [{path: a, kind: real, share: 0.5}, "
                                                "{path: b, kind: real, share: 0.2}]\n"), "sum to 0.7"),
    case("share-above-one", lambda e: mix(e, "sources: [{path: a, kind: real, share: 1.5}]\n"),
         "sources.0.share", "<= 1"),
    case("real-floor-flag", lambda e: mix(e, None, "--real-floor", "2"), "real_floor", "<= 1"),
    case("real-floor-above-real-share", lambda e: mix(e, "sources: [{path: a, kind: real, share: 0.5}, "
                                                         "{path: b, kind: synthetic, share: 0.5}]\nreal_floor: 0.9\n"),
         "field 'real_floor'", "above the real sources' share 0.5", "from 0 to 0.5"),
    case("size-zero", lambda e: mix(e, None, "--size", "0"), "field 'size'", ">= 1"),
    case("source-path-missing", lambda e: mix(e, f"sources: [{{path: {e.path('gone.jsonl')}, kind: real}}]\n"),
         "gone.jsonl", "not found"),
    case("source-text-number", lambda e: mix(e, f"sources: [{{path: {e.jsonl('n.jsonl', [{'text': 5}])}, "
                                                "kind: real}]\n"), "n.jsonl:1", "'text' is a number"),
    case("semi-synthetic-without-report", lambda e: mix(e, f"sources: [{{path: {run_with_report(e, None)}, "
                                                           "kind: semi_synthetic}]\n"), "no monitor report"),
    case("semi-synthetic-failed-gates", lambda e: mix(e, f"sources: [{{path: {run_with_report(e, False)}, "
                                                         "kind: semi_synthetic}]\n"), "failed its monitor gates",
         "mmd"),
    case("report-binary", lambda e: mix(e, report_variant(e, lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff"))),
         "report.json", "not a monitor report", "not UTF-8"),
    case("report-fingerprint-number", lambda e: mix(e, report_variant(e, edit("fingerprint", 42))),
         "has no fingerprint of the records it judged", "rerun `semisynth monitor`"),
    case("report-fingerprint-list", lambda e: mix(e, report_variant(e, edit("fingerprint", [1, 2]))),
         "has no fingerprint of the records it judged"),
    case("report-synthetic-records-list", lambda e: mix(e, report_variant(e, edit_fp("records", ["x"]))),
         "has no fingerprint of the records it judged"),
    case("report-synthetic-records-number", lambda e: mix(e, report_variant(e, edit_fp("records", 5))),
         "has no fingerprint of the records it judged"),  # a TypeError traceback before 00cd4e4
    case("report-figures-missing", lambda e: mix(e, report_variant(e, edit("figures", None))),
         "not a monitor report this semisynth can check", "figures"),
    case("report-gate-unknown-figure", lambda e: mix(e, report_variant(e, edit("config", {"gates": [
        {"figure": "nonsense", "max": 1}]}))), "its gates cannot be evaluated from its figures"),
    case("report-passed-edited", lambda e: mix(e, report_variant(e, edit("gates", {"passed": True, "status": "passed",
                                                                                   "evaluated": 1, "failed": []}),
                                                                 passed=False)),
         "says its gates passed, but its own figures fail them", "(and 1 more problem(s))"),
    case("forced-source-path-missing", lambda e: mix(e, f"sources: [{{path: {e.path('gone')}, kind: synthetic}}]\n",
                                                     "--force"), "gone", "not found"),
    # the case: a gated kind, so --force has a gate to force past (a 'forced past' warning came first)
    case("forced-semi-synthetic-path-missing", lambda e: mix(e, f"sources: [{{path: {e.path('gone')}, "
                                                                "kind: semi_synthetic}]\n", "--force"),
         "gone", "not found"),
    case("out-is-a-file", lambda e: mix(e, out=e.write("taken", "x")), "taken", "exists and is a file"),
    case("out-parent-is-a-file", lambda e: mix(e, out=e.write("f", "x") + "/m"), "is a file, not a folder"),
    case("out-dangling-symlink", lambda e: mix(e, out=e.dangling()), "dangling symlink"),
    case("out-empty-string", lambda e: mix(e, out=""), "out (--out)", "empty"),
    case("out-exists", lambda e: mix(e, out=e.dir("already")), "already", "exists", "--overwrite"),
    case("seed-not-int", lambda e: mix(e, None, "--seed", "x"), "--seed", "invalid int value"),
]


@pytest.mark.parametrize("c", params(CASES))
def test_mix_refuses_bad_input(c: Case, tmp_path, monkeypatch, capsys):
    assert_refused(c, tmp_path, monkeypatch, capsys)
