"""`semisynth model`, `semisynth demo` and the top-level parser: bad input refused before any model is built or
loaded (see bad_input_harness)."""

from __future__ import annotations

import pytest
from bad_input_harness import Case, Env, assert_refused, case, params


def demo(e: Env, *extra: str, out: str | None = None) -> list[str]:
    return ["demo", "--quiet", "--out", e.path("demo") if out is None else out, *extra]


MODEL: list[Case] = [
    case("no-subcommand", lambda e: ["model"], "semisynth model", "required"),
    case("tiny-no-dir", lambda e: ["model", "tiny"], "semisynth model tiny", "required", "dir"),
    case("tiny-dir-is-a-file", lambda e: ["model", "tiny", e.write("taken", "x")], "DIR", "exists and is a file"),
    case("tiny-parent-is-a-file", lambda e: ["model", "tiny", e.write("f", "x") + "/m"], "is a file, not a folder"),
    case("tiny-dir-empty", lambda e: ["model", "tiny", ""], "DIR", "empty"),
    case("tiny-dir-dangling", lambda e: ["model", "tiny", e.dangling()], "dangling symlink"),
    case("tiny-read-only", lambda e: ["model", "tiny", e.readonly_dir() + "/m"], "not writable"),
    case("tiny-seed-not-int", lambda e: ["model", "tiny", e.path("m"), "--seed", "x"], "--seed", "invalid int value"),
    case("prepare-unknown-name", lambda e: ["model", "prepare", "gpt-5"], "name", "invalid choice"),
    case("prepare-cache-dir-is-a-file", lambda e: ["model", "prepare", "--cache-dir", e.write("c", "x")],
         "--cache-dir", "is a file"),
]

DEMO: list[Case] = [
    case("out-is-a-file", lambda e: demo(e, out=e.write("taken", "x")), "--out", "exists and is a file"),
    case("out-parent-is-a-file", lambda e: demo(e, out=e.write("f", "x") + "/d"), "is a file, not a folder"),
    case("out-dangling-symlink", lambda e: demo(e, out=e.dangling()), "dangling symlink"),
    case("out-read-only", lambda e: demo(e, out=e.readonly_dir() + "/d"), "not writable"),
    case("out-empty", lambda e: demo(e, out=""), "--out", "empty"),
    case("limit-zero", lambda e: demo(e, "--limit", "0"), "--limit", "1 or more"),
    case("limit-not-int", lambda e: demo(e, "--limit", "few"), "--limit", "invalid int value"),
    case("model-missing", lambda e: demo(e, "--model", e.path("no-model")), "no-model"),
    case("unknown-flag", lambda e: demo(e, "--fast"), "unrecognized arguments: --fast"),
]

TOP: list[Case] = [
    case("no-command", lambda e: [], "semisynth", "required", "COMMAND"),
    case("unknown-command", lambda e: ["generat"], "invalid choice: 'generat'"),
    case("unknown-global-flag", lambda e: ["--loud", "generate"], "unrecognized arguments: --loud"),
]


@pytest.mark.parametrize("c", params(MODEL))
def test_model_refuses_bad_input(c: Case, tmp_path, monkeypatch, capsys):
    assert_refused(c, tmp_path, monkeypatch, capsys)


@pytest.mark.parametrize("c", params(DEMO))
def test_demo_refuses_bad_input_before_the_model_loads(c: Case, tmp_path, monkeypatch, capsys):
    assert_refused(c, tmp_path, monkeypatch, capsys)


@pytest.mark.parametrize("c", params(TOP))
def test_top_level_parser_refuses_in_one_line(c: Case, tmp_path, monkeypatch, capsys):
    assert_refused(c, tmp_path, monkeypatch, capsys)


def test_help_still_prints_the_usage(capsys):
    from semisynth.cli import main

    assert main(["generate", "--help"]) == 0
    assert "usage: semisynth generate" in capsys.readouterr().out
