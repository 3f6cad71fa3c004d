"""Gates bind to the data they judged, through the CLI: a run resumed after monitoring is refused by
`semisynth mix` (accepted and recorded with --force); gates skipped for lack of data never pass."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from semisynth.cli import main
from semisynth.records import Record

SAMPLE = Path(__file__).resolve().parents[2] / "semisynth" / "data" / "sample_conversations.jsonl"
MONITOR_CFG = "n_boot: 50\nn_perm: 100\nc2st: false\ncache_dir: null\nhtml: false\n" \
              "gates:\n  - {figure: distinct_1, min: 0.0}\n"


def _generate(cfg: Path, *extra: str) -> None:
    res = subprocess.run([sys.executable, "-m", "semisynth.cli", "generate", "--config", str(cfg), "--quiet", *extra],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]


def _lines(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines() if line.strip())


def _monitor(tmp: Path, real: Path, synthetic: Path, out: Path, *extra: str) -> int:
    """`semisynth monitor` with random embeddings of the right shape (the gates here do not use them)."""
    n_real = _lines(real) if real.is_file() else 0
    n_syn = sum(_lines(p) for p in sorted((synthetic / "records").glob("*.jsonl"))) if synthetic.is_dir() \
        else _lines(synthetic)
    rng = np.random.default_rng(0)
    np.save(tmp / "r.npy", rng.standard_normal((n_real, 16)).astype(np.float32))
    np.save(tmp / "s.npy", rng.standard_normal((n_syn, 16)).astype(np.float32))
    return main(["monitor", "--real", str(real), "--synthetic", str(synthetic), "--out", str(out),
                 "--real-embeddings", str(tmp / "r.npy"), "--synthetic-embeddings", str(tmp / "s.npy"), *extra])


@pytest.mark.slow
def test_mix_refuses_a_run_resumed_after_monitoring_and_records_a_forced_use(tmp_path, tiny_model_dir, capsys):
    run = tmp_path / "run"
    cfg = tmp_path / "gen.yaml"
    cfg.write_text(yaml.safe_dump({
        "input": {"path": str(SAMPLE), "text_field": "text", "messages_field": "messages", "limit": 12},
        "backend": {"kind": "vllm", "model": str(tiny_model_dir)},
        "generators": [{"kind": "paraphrase", "variants": 1, "style": "keep_irregularities"}],
        # the tiny model rarely ends on its own: stop strings end its outputs, and the checks let them through
        "sampling": {"max_tokens": 16, "temperature": 0.9, "stop": ["e", "a"]}, "out": str(run), "seed": 3,
        "shard_size": 4, "token_budget": 300,  # one shard of three, then the budget stops the run
        "checks": {"min_chars": 1, "language_check": False, "meaning_min_similarity": 0.0, "min_length_ratio": 0.0,
                   "max_length_ratio": 100.0, "fact_checks": False}}))
    _generate(cfg)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"].startswith("stopped: token_budget"), manifest["status"]
    (tmp_path / "monitor.yaml").write_text(MONITOR_CFG)
    assert _monitor(tmp_path, run / "seeds.jsonl", run, run / "monitor", "--config", str(tmp_path / "monitor.yaml"),
                    "--fail-on-gate") == 0
    report = json.loads((run / "monitor" / "report.json").read_text())
    judged = report["fingerprint"]["synthetic"]
    assert report["gates"]["status"] == "passed" and judged["n"] == report["n_synthetic"] > 0
    assert judged["read_as"] == {"path": str(run), "text_field": "text", "default_origin": "synthetic"}
    mix_cfg = tmp_path / "mix.yaml"
    mix_cfg.write_text(f"sources:\n  - {{path: {run / 'seeds.jsonl'}, kind: real}}\n"
                       f"  - {{path: {run}, kind: semi_synthetic}}\n")
    capsys.readouterr()
    assert main(["mix", "--config", str(mix_cfg), "--out", str(tmp_path / "before")]) == 0  # as judged: accepted

    _generate(cfg, "--token-budget", "100000000")  # the run is resumed after monitoring
    assert json.loads((run / "manifest.json").read_text())["status"] == "complete"
    capsys.readouterr()
    assert main(["mix", "--config", str(mix_cfg), "--out", str(tmp_path / "mix")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "records changed since the monitor judged them" in err
    assert f"fingerprinted {judged['n']} records" in err and "--force" in err
    assert not (tmp_path / "mix").exists()

    assert main(["mix", "--config", str(mix_cfg), "--out", str(tmp_path / "mix"), "--force"]) == 0
    mixed = json.loads((tmp_path / "mix" / "manifest.json").read_text())
    gate = next(s["gates"] for s in mixed["sources"] if s["kind"] == "semi_synthetic")
    assert gate["forced"] and gate["fingerprint_match"] is False and "records changed" in gate["forced_past"][0]
    assert gate["report"] == str(run / "monitor" / "report.json") and len(gate["report_sha256"]) == 64
    assert gate["trusted_fingerprint"]["records"] == judged["records"] != gate["fingerprint_now"]
    assert gate["trusted_fingerprint"]["config"] == report["fingerprint"]["config"]


def test_gates_all_skipped_never_pass_and_mix_refuses_them(tmp_path, capsys):
    """A 1-record corpus: every default gate is skipped for lack of data."""
    real = tmp_path / "real.jsonl"
    real.write_text(json.dumps(Record.create("real", text="@united where is my bag??").to_dict()) + "\n")
    run = tmp_path / "run"
    (run / "records").mkdir(parents=True)
    (run / "records" / "shard-00000.jsonl").write_text(
        json.dumps(Record.create("synthetic", text="Where is my bag?").to_dict()) + "\n")
    (tmp_path / "monitor.yaml").write_text("n_boot: 50\nn_perm: 100\nc2st: false\ncache_dir: null\nhtml: false\n")
    assert _monitor(tmp_path, real, run, run / "monitor", "--config", str(tmp_path / "monitor.yaml"),
                    "--fail-on-gate") == 3
    err = capsys.readouterr().err
    assert "gates not passed: no gate could be evaluated: all 4 skipped for lack of data" in err
    assert err.count("gate skipped: ") == 4
    gates = json.loads((run / "monitor" / "report.json").read_text())["gates"]
    assert gates["passed"] is False and gates["status"] == "not_evaluated" and gates["evaluated"] == 0

    mix_cfg = tmp_path / "mix.yaml"
    mix_cfg.write_text(f"sources:\n  - {{path: {real}, kind: real}}\n  - {{path: {run}, kind: synthetic}}\n")
    assert main(["mix", "--config", str(mix_cfg), "--out", str(tmp_path / "mix")]) == 2
    err = capsys.readouterr().err
    assert "no monitor gate was evaluated" in err and "force: true" in err and not (tmp_path / "mix").exists()
    assert main(["mix", "--config", str(mix_cfg), "--out", str(tmp_path / "mix"), "--force"]) == 0
    gate = json.loads((tmp_path / "mix" / "manifest.json").read_text())["sources"][1]["gates"]
    assert gate["forced"] and gate["evaluated"] == 0 and len(gate["skipped"]) == 4


def test_a_plain_file_read_from_another_directory_keeps_its_fingerprint(tmp_path, monkeypatch, capsys):
    """Rows without ids become records whose meta.source is the path as typed: the fingerprint leaves it out, and
    mix re-reads the file as the monitor did (default origin "synthetic", not the mix's "paraphrase"), so only a
    content change counts."""
    monkeypatch.chdir(tmp_path)
    rows = [{"text": f"my flight {i} was delayed again, no one at the desk"} for i in range(30)]
    Path("syn.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    Path("real.jsonl").write_text("".join(json.dumps({"text": f"@united flight {i} late!! no1 at the desk"}) + "\n"
                                          for i in range(30)))
    Path("monitor.yaml").write_text(MONITOR_CFG)
    assert _monitor(tmp_path, Path("real.jsonl"), Path("syn.jsonl"), Path("mon"), "--config", "monitor.yaml") == 0
    mix_cfg = tmp_path / "mix.yaml"
    mix_cfg.write_text(f"sources:\n  - {{path: {tmp_path / 'syn.jsonl'}, kind: semi_synthetic, "
                       f"monitor_report: {tmp_path / 'mon' / 'report.json'}}}\n")
    monkeypatch.chdir(tmp_path / "mon")
    capsys.readouterr()
    # the report measured the file against real.jsonl: without it in the mix nothing says what it was judged against
    assert main(["mix", "--config", str(mix_cfg), "--out", str(tmp_path / "mix")]) == 2
    assert "neither the run's seeds nor a real source of this mix" in capsys.readouterr().err
    mix_cfg.write_text(mix_cfg.read_text() + f"  - {{path: {tmp_path / 'real.jsonl'}, kind: real}}\n")
    capsys.readouterr()
    assert main(["mix", "--config", str(mix_cfg), "--out", str(tmp_path / "mix")]) == 0, capsys.readouterr().err
    gate = json.loads((tmp_path / "mix" / "manifest.json").read_text())["sources"][0]["gates"]
    assert gate["fingerprint_match"] and "forced" not in gate and gate["real_reference"] == "real source 'real.jsonl'"
    with (tmp_path / "syn.jsonl").open("a") as f:
        f.write(json.dumps({"text": "one more row"}) + "\n")
    assert main(["mix", "--config", str(mix_cfg), "--out", str(tmp_path / "mix2")]) == 2
    assert "now holds 31" in capsys.readouterr().err


def test_mix_ingests_the_column_the_monitor_judged_and_refuses_a_report_on_the_run_itself(tmp_path, monkeypatch,
                                                                                         capsys):
    """A file monitored on its `body` column enters the mix as `body` (the `text` column was never judged), and a
    report that compared the file with itself is refused: it says nothing about the real distribution."""
    monkeypatch.chdir(tmp_path)
    rows = [{"text": f"UNJUDGED draft {i}", "body": f"my flight {i} was delayed again, no one at the desk"}
            for i in range(30)]
    Path("syn.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    real = [f"@united flight {i} late!! no1 at the desk" for i in range(30)]
    Path("real.jsonl").write_text("".join(json.dumps({"text": t, "body": t}) + "\n" for t in real))
    Path("monitor.yaml").write_text(MONITOR_CFG + "text_field: body\n")
    assert _monitor(tmp_path, Path("real.jsonl"), Path("syn.jsonl"), Path("mon"), "--config", "monitor.yaml") == 0
    mix_cfg = tmp_path / "mix.yaml"
    mix_cfg.write_text(f"sources:\n  - {{path: {tmp_path / 'real.jsonl'}, kind: real}}\n"
                       f"  - {{path: {tmp_path / 'syn.jsonl'}, kind: semi_synthetic, "
                       f"monitor_report: {tmp_path / 'mon' / 'report.json'}}}\n")
    capsys.readouterr()
    assert main(["mix", "--config", str(mix_cfg), "--out", str(tmp_path / "mix")]) == 0, capsys.readouterr().err
    from semisynth.collapse.mix.corpus import load_mix

    texts = [r.content for r in load_mix(tmp_path / "mix" / "corpus") if r.origin.value != "real"]
    assert len(texts) == 30 and all(t.startswith("my flight") for t in texts)
    gate = json.loads((tmp_path / "mix" / "manifest.json").read_text())["sources"][1]["gates"]
    assert gate["ingested_as"]["text_field"] == "body" and gate["fingerprint_match"]

    # the same file as its own real reference
    Path("self.yaml").write_text(MONITOR_CFG)
    assert _monitor(tmp_path, Path("syn.jsonl"), Path("syn.jsonl"), Path("mon2"), "--config", "self.yaml") == 0
    mix_cfg.write_text(f"sources:\n  - {{path: {tmp_path / 'syn.jsonl'}, kind: semi_synthetic, "
                       f"monitor_report: {tmp_path / 'mon2' / 'report.json'}}}\n")
    assert main(["mix", "--config", str(mix_cfg), "--out", str(tmp_path / "mix2")]) == 2
    err = capsys.readouterr().err
    assert "compared the run with itself" in err and not (tmp_path / "mix2").exists()
