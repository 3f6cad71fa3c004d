"""Quiet runs (issue 23): a run's terminal holds the progress bar, the summary and semisynth's own warnings;
the engine's and libraries' chatter (vLLM's per-weight dtype warnings, torch's C++ notes on fd 2) goes to
RUN/logs/engine.log, and `-v` shows it on the terminal too."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

SAMPLE = Path(__file__).resolve().parents[1] / "semisynth" / "data" / "sample_conversations.jsonl"
ENGINE_LINE = "Attempted to load weight"  # vLLM, once per float32 weight cast to bfloat16: the tiny model has 11
CHATTER = (ENGINE_LINE, "WARNING", "NUMA", "set_num_threads", "FutureWarning", "Triton")


def _run(argv: list[str], cwd: Path, tmp: Path) -> subprocess.CompletedProcess:
    res = subprocess.run([sys.executable, "-m", "semisynth.cli", *argv], capture_output=True, cwd=cwd, timeout=600,
                         env={**os.environ, "TMPDIR": str(tmp)})  # where the log is until the run folder exists
    # decoded by hand: text=True would turn the progress bar's \r into line breaks
    res.stdout, res.stderr = res.stdout.decode(errors="replace"), res.stderr.decode(errors="replace")
    return res


def _terminal_lines(res: subprocess.CompletedProcess) -> list[str]:
    """What a terminal shows: stdout and stderr, each progress-bar redraw (\\r) counted as the line it ends on."""
    lines = (res.stdout + res.stderr).split("\n")  # not splitlines(): it splits at \r too
    return [line.rstrip("\r").rsplit("\r", 1)[-1] for line in lines if line.strip("\r ")]


@pytest.mark.slow
def test_engine_chatter_goes_to_the_run_log_not_the_terminal(tmp_path, tiny_model_dir):
    out = tmp_path / "run"
    cfg = {"input": {"path": str(SAMPLE), "text_field": "text", "messages_field": "messages", "limit": 4},
           "backend": {"kind": "vllm", "model": str(tiny_model_dir)},
           "generators": [{"kind": "paraphrase", "variants": 1, "style": "keep_irregularities"}],
           "sampling": {"max_tokens": 8, "max_tokens_ratio": None, "attempts": 1}, "out": str(out)}
    (tmp_path / "gen.yaml").write_text(yaml.safe_dump(cfg))
    (tmp_path / "tmp").mkdir()

    res = _run(["generate", "--config", "gen.yaml"], tmp_path, tmp_path / "tmp")
    assert res.returncode == 0, res.stderr[-3000:]
    lines = _terminal_lines(res)
    assert [line for line in lines if any(c in line for c in CHATTER)] == []
    assert len(lines) == 2, lines  # the progress bar and the summary
    assert res.stdout.startswith("complete: 4 input rows -> 4 seeds -> 4 tasks")
    log = (out / "logs" / "engine.log").read_text()
    assert log.count(ENGINE_LINE) >= 11, log[-2000:]
    assert list((tmp_path / "tmp").iterdir()) == []  # the temporary log, beside the run, moved into it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gen.yaml", "run", "tmp"]


SCRIPT = textwrap.dedent("""
    import logging, os, sys, warnings
    from semisynth.engine_log import EngineLog
    logging.basicConfig(level=logging.DEBUG if sys.argv[2] == "show" else logging.WARNING)
    with EngineLog(quiet=sys.argv[2] == "quiet") as log:
        os.write(2, b"c-level note on fd 2\\n")
        os.write(1, b"c-level note on fd 1\\n")
        print("a library's print")
        warnings.warn("a library's warning", FutureWarning)
        logging.getLogger("semisynth.stage").warning("semisynth's own warning")
        log.settle(sys.argv[1])
        os.write(2, b"after settle\\n")
        logging.getLogger("semisynth.stage").error("semisynth's error")
    print("the summary")
""")
IN_LOG = ("c-level note on fd 2", "c-level note on fd 1", "a library's print", "a library's warning",
          "semisynth's own warning", "after settle", "semisynth's error")


@pytest.mark.parametrize("mode, terminal", [
    ("default", ["WARNING semisynth.stage: semisynth's own warning", "ERROR semisynth.stage: semisynth's error"]),
    ("quiet", ["ERROR semisynth.stage: semisynth's error"]),
])
def test_fd_level_chatter_goes_to_the_log_and_semisynths_own_lines_to_the_terminal(tmp_path, mode, terminal):
    log = tmp_path / "run" / "logs" / "engine.log"
    res = subprocess.run([sys.executable, "-c", SCRIPT, str(log), mode], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONWARNINGS": "default"})
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["the summary"] and res.stderr.splitlines() == terminal
    text = log.read_text()
    assert all(s in text for s in IN_LOG), text


def test_v_shows_the_chatter_on_the_terminal_and_appends_to_the_log(tmp_path):
    log = tmp_path / "engine.log"
    log.write_text("an earlier run\n")  # a resumed run appends
    res = subprocess.run([sys.executable, "-c", SCRIPT, str(log), "show"], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONWARNINGS": "default"})
    assert res.returncode == 0, res.stderr
    shown, text = res.stdout + res.stderr, log.read_text()
    assert all(s in shown and s in text for s in IN_LOG), (shown, text)
    assert text.startswith("an earlier run\n")
