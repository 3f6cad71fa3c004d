"""`semisynth demo` end to end: the installed script, the packaged SmolLM2 (converted once into the user's
model cache, shared with `make demo` and tests/test_models.py), the bundled real sample cut to a few seeds,
generation then monitoring. And a demo whose monitor stage is missing exits non-zero before any work, the
fault injected through the CLI's entry-point discovery (semisynth.cli.entry_points)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

LIMIT = 8  # seeds: enough for every generator kind, quick on CPU


def _rows(folder: Path) -> list[dict]:
    rows = []
    for shard in sorted(folder.glob("shard-*.jsonl")):
        rows += [json.loads(line) for line in shard.read_text().splitlines() if line.strip()]
    return rows


@pytest.mark.slow
def test_demo_runs_end_to_end_with_the_packaged_model(tmp_path):
    out = tmp_path / "demo"
    script = Path(sys.executable).with_name("semisynth")
    res = subprocess.run([str(script), "demo", "--quiet", "--limit", str(LIMIT), "--out", str(out)],
                         capture_output=True, text=True, timeout=1800, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "[1/2]" in res.stdout and "[2/2]" in res.stdout
    # quiet runs (issue 23): the engine's chatter (vLLM's per-weight dtype warnings, ...) is in the run's log,
    # the terminal holds the demo's own lines (the monitor's summary and gate lines among them)
    shown = (res.stdout + res.stderr).splitlines()
    assert len(shown) <= 20 and not [line for line in shown if "Attempted to load weight" in line], shown
    assert "Attempted to load weight" in (out / "generate" / "logs" / "engine.log").read_text()

    gen = out / "generate"
    manifest = json.loads((gen / "manifest.json").read_text())
    c = manifest["counts"]
    assert manifest["status"] == "complete" and manifest["invariant"]["holds"]
    assert c["seeds"] == LIMIT and c["outputs"] > 0
    # the invariant, counted again from the files: every task once, in records/ or rejects/
    task_ids = [r["lineage"]["task_id"] for r in _rows(gen / "records")] + \
        [r["task_id"] for r in _rows(gen / "rejects")]
    assert len(task_ids) == len(set(task_ids)) == c["tasks"] == c["outputs"] + c["rejected"]

    report = json.loads((gen / "monitor" / "report.json").read_text())
    # the run's dataset card quotes this report (it reads <run>/monitor), not "no monitor report yet"
    card = (gen / "README.md").read_text()
    assert "No monitor report yet" not in card
    v = report["verdict"]
    assert f"- gates: {report['gates']['status']}" in card and f": {v['smoothing_index_verdict']}" in card, card
    assert report["gates"]["status"] in ("passed", "failed", "not_evaluated")
    assert report["gates"]["passed"] == (report["gates"]["status"] == "passed")
    sample = gen / "monitor" / "review_sample.jsonl"
    assert sample.is_file()
    rows = [json.loads(line) for line in sample.read_text().splitlines() if line.strip()]
    assert rows and len(rows) == report["review_sample"]["n"]
    assert all(r["origin"] in ("paraphrase", "synthetic") and "review_stratum" in r["meta"] for r in rows)


def _without_monitor(real):
    def entry_points(*, group: str):
        return [ep for ep in real(group=group) if ep.name != "monitor"]

    return entry_points


def _broken_monitor(real):
    def entry_points(*, group: str):
        eps = [ep for ep in real(group=group) if ep.name != "monitor"]
        return [*eps, EntryPoint("monitor", "semisynth.no_such_stage:register", group)]

    return entry_points


@pytest.mark.parametrize("fault,words", [(_without_monitor, "is not installed"), (_broken_monitor, "could not be loaded")],
                         ids=["monitor-not-installed", "monitor-fails-to-import"])
def test_demo_without_its_monitor_stage_exits_non_zero_before_any_work(fault, words, tmp_path, monkeypatch, capsys):
    import semisynth.cli as cli

    monkeypatch.setattr(cli, "entry_points", fault(cli.entry_points))
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "demo"
    # a model path that does not exist: had the demo gone as far as loading it, the error would name the model
    rc = cli.main(["demo", "--quiet", "--limit", "2", "--out", str(out), "--model", str(tmp_path / "no-model")])
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert rc != 0
    assert len(err) == 1 and "stage 'monitor'" in err[0] and words in err[0], err
    assert not out.exists() and list(tmp_path.iterdir()) == []
