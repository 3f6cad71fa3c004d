"""A handful of bad inputs through the installed `semisynth` script: the real exit code, and stderr exactly one
line with nothing else (no library warnings, no progress bars) in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bad_input_harness import snapshot

pytestmark = pytest.mark.slow  # ~3-10 s of imports per process; the in-process tables cover the same ground fast

SCRIPT = str(Path(sys.executable).with_name("semisynth"))


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARGILLA_")}
    return subprocess.run([SCRIPT, *argv], capture_output=True, text=True, cwd=cwd, timeout=300, env=env)


CASES = {
    "generate-text-number": (lambda t: ["generate", "--input", _w(t, "s.jsonl", '{"text": 12}\n'), "--model", "m",
                                        "--out", str(t / "run")], ["s.jsonl:1", "'text' is a number"]),
    "generate-argparse": (lambda t: ["generate", "--limit", "ten"], ["--limit", "invalid int value"]),
    "generate-out-file-with-real-model": (
        lambda t: ["generate", "--input", _w(t, "s.jsonl", '{"text": "bag lost"}\n'), "--model", "TINY", "--out",
                   _w(t, "taken", "x")], ["taken", "exists and is a file"]),
    "monitor-embeddings-text": (
        lambda t: ["monitor", "--real", _w(t, "r.jsonl", '{"text": "a b"}\n'), "--synthetic",
                   _w(t, "s.jsonl", '{"text": "c d"}\n'), "--real-embeddings", _w(t, "e.npy", "1 2\n"),
                   "--synthetic-embeddings", _w(t, "f.npy", "1 2\n"), "--out", str(t / "rep")],
        ["e.npy", "not a .npy array"]),
    "collapse-real-data-too-small": (
        lambda t: ["collapse", "run", "--family", "ngram", "--sample-size", "50", "--real-data",
                   _w(t, "small.jsonl", '{"text": "the flight was late"}\n' * 3), "--out", str(t / "exp")],
        ["small.jsonl", "sample_size 50"]),
    "generate-ray-client-unreachable": (  # Ray's own warnings (up to 6 lines) used to print first, after ~31 s
        lambda t: ["generate", "--input", _w(t, "s.jsonl", '{"text": "bag lost"}\n'), "--model", "m", "--out",
                   str(t / "run"), "--runner", "ray", "--ray-address", f"ray://127.0.0.1:{_closed_port()}"],
        ["runner.address", "nothing answers at 127.0.0.1"]),
    "collapse-ray-head-unreachable": (  # and left experiment.json behind
        lambda t: ["collapse", "run", "--family", "categorical", "--generations", "1", "--seeds", "0", "--out",
                   str(t / "exp"), "--runner", "ray", "--ray-address", f"127.0.0.1:{_closed_port()}"],
        ["runner.address", "nothing answers"]),
    "preference-push-no-raters": (
        lambda t: ["preference", "push", "--dataset", "d", "--kind", "preference", "--input",
                   _w(t, "i.jsonl", "{}\n")], ["raters"]),
}


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _w(t: Path, name: str, text: str) -> str:
    (t / name).write_text(text)
    return str(t / name)


@pytest.mark.parametrize("name", sorted(CASES))
def test_installed_script_exits_2_with_one_line(name, tmp_path, request):
    build, needles = CASES[name]
    argv = build(tmp_path)
    if "TINY" in argv:
        argv[argv.index("TINY")] = str(request.getfixturevalue("tiny_model_dir"))
    before = snapshot(tmp_path)
    started = time.monotonic()
    res = _run(argv, tmp_path)
    took = time.monotonic() - started
    assert res.returncode == 2, res.stderr
    if "ray" in name:  # refused in one line within 10 s, imports included
        assert took < 10, f"{took:.1f} s"
    assert "Traceback" not in res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("semisynth: error: ") and "; fix: " in lines[0]
    for n in needles:
        assert n in lines[0], lines[0]
    assert snapshot(tmp_path) == before
