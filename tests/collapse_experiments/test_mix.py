"""The training-mix builder: shares, real floor, monitor gates, and every input record accounted for."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import datasets
import pytest
from monitor_reports import write_report

from semisynth.cli import main
from semisynth.collapse.mix.builder import build_mix
from semisynth.collapse.mix.config import MixConfig
from semisynth.collapse.mix.corpus import load_mix
from semisynth.errors import UserError
from semisynth.io import read_records
from semisynth.records import Lineage, Record


def _write(path: Path, records: list[Record]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records))


def _report(run: Path, passed: bool = True, skipped: tuple[str, ...] = (), evaluated: bool = True,
            path: Path | None = None) -> Path:
    """A monitor report on the run's records as they are now, measured against the real.jsonl beside the run
    (a real source of the mixes below)."""
    real_file = run.parent / "real.jsonl"
    real = read_records(real_file) if real_file.is_file() else None
    return write_report(run, path, passed=passed, skipped=skipped, evaluated=evaluated, real=real)


def _run(root: Path, name: str, origin: str, n: int, passed: bool | None = True) -> Path:
    """A run directory (records/ shard) with, optionally, a monitor report."""
    run = root / name
    recs = [Record.create(origin, text=f"{name} text {i}", parents=(f"p{i}",) if origin != "real" else (),
                          lineage=Lineage(generator=name, model="tiny", seed=i, run_id=name,
                                          sampling={"temperature": 0.7}), meta={"i": i})
            for i in range(n)]
    _write(run / "records" / "shard-00000.jsonl", recs)
    if passed is not None:
        _report(run, passed)
    return run


@pytest.fixture
def sources(tmp_path):
    real = tmp_path / "real.jsonl"
    _write(real, [Record.create("real", text=f"real text {i}", lineage=Lineage(source=f"real.jsonl:{i}"))
                  for i in range(100)])
    semi = _run(tmp_path, "semi", "paraphrase", 80)
    synth = _run(tmp_path, "synth", "synthetic", 300)
    return tmp_path, real, semi, synth


def _cfg(tmp_path, real, semi, synth, **kw):
    base = dict(out=str(tmp_path / "mix"), sources=[
        {"path": str(real), "kind": "real", "share": 0.4},
        {"path": str(semi), "kind": "semi_synthetic", "share": 0.2},
        {"path": str(synth), "kind": "synthetic", "share": 0.4}])
    return MixConfig.model_validate(base | kw)


def _input_ids(*paths):
    return [r.id for p in paths for r in read_records(p)]


def test_mix_hits_target_shares_and_accounts_for_every_input(sources):
    tmp, real, semi, synth = sources
    manifest = build_mix(_cfg(tmp, real, semi, synth))
    assert manifest["size"] == 250  # real 100 / 0.4 limits the total
    shares = {s["name"]: s["realised_share"] for s in manifest["sources"]}
    assert shares == {"real.jsonl": 0.4, "semi": 0.2, "synth": 0.4}
    corpus = load_mix(tmp / "mix" / "corpus")
    rejects = [json.loads(line) for line in (tmp / "mix" / "rejects.jsonl").open()]
    assert sorted([r.id for r in corpus] + [r["id"] for r in rejects]) == sorted(_input_ids(real, semi, synth))
    assert {r["reason"] for r in rejects} == {"over_share_cap"}
    assert manifest["accounting"]["balanced"] and manifest["rejects_by_reason"] == {"over_share_cap": 230}


def test_corpus_loads_with_datasets_and_keeps_origin_and_lineage(sources):
    tmp, real, semi, synth = sources
    build_mix(_cfg(tmp, real, semi, synth))
    ds = datasets.load_from_disk(str(tmp / "mix" / "corpus"))
    assert {"origin", "lineage", "parents", "mix_source"} <= set(ds.column_names)
    assert sorted(set(ds["origin"])) == ["paraphrase", "real", "synthetic"]
    row = next(r for r in ds if r["origin"] == "synthetic")
    assert row["lineage"]["run_id"] == "synth" and row["lineage"]["seed"] is not None and row["parents"]
    originals = {r.id: r for p in (real, semi, synth) for r in read_records(p)}
    for rec in load_mix(tmp / "mix" / "corpus"):
        assert rec == originals[rec.id]  # lossless, sampling and meta included
    assert len(read_records(tmp / "mix" / "corpus")) == len(ds)  # the generic reader takes it too


def test_real_floor_drops_non_real_records_with_a_reason(sources):
    """Without shares every record is taken (real share 100/480); the floor drops synthetic ones to meet it.
    (A floor above the real sources' given shares is a contradiction, refused at config load.)"""
    tmp, real, semi, synth = sources
    manifest = build_mix(MixConfig.model_validate(dict(out=str(tmp / "mix"), real_floor=0.6, sources=[
        {"path": str(real), "kind": "real"}, {"path": str(semi), "kind": "semi_synthetic"},
        {"path": str(synth), "kind": "synthetic"}])))
    assert manifest["realised_real_share"] >= 0.6
    assert manifest["rejects_by_reason"]["real_floor"] > 0 and manifest["notes"]
    assert manifest["accounting"]["balanced"]


def test_failed_gates_refuse_the_run_unless_forced(sources):
    tmp, real, semi, _ = sources
    bad = _run(tmp, "bad", "synthetic", 50, passed=False)
    with pytest.raises(UserError, match="failed its monitor gates"):
        build_mix(_cfg(tmp, real, semi, bad))
    assert not (tmp / "mix").exists()
    cfg = MixConfig.model_validate({**_cfg(tmp, real, semi, bad).model_dump(), "sources": [
        {"path": str(real), "kind": "real", "share": 0.5},
        {"path": str(bad), "kind": "synthetic", "share": 0.5, "force": True}]})
    manifest = build_mix(cfg)
    gate = next(s["gates"] for s in manifest["sources"] if s["name"] == "bad")
    assert gate["forced"] and gate["passed"] is False and "failed its monitor gates" in gate["forced_past"][0]


def test_monitor_report_named_in_config_is_used(sources):
    tmp, real, semi, synth = sources
    nogate = _run(tmp, "nogate", "synthetic", 40, passed=None)
    with pytest.raises(UserError, match="no monitor report"):
        build_mix(_cfg(tmp, real, semi, nogate))
    cfg = _cfg(tmp, real, semi, nogate).model_dump()
    cfg["sources"][2]["monitor_report"] = str(synth / "monitor" / "report.json")  # another run's report
    with pytest.raises(UserError, match="records changed since the monitor judged them"):
        build_mix(MixConfig.model_validate(cfg))
    cfg["sources"][2]["monitor_report"] = str(_report(nogate, path=tmp / "reports" / "nogate.json"))
    assert build_mix(MixConfig.model_validate(cfg))["accounting"]["balanced"]


def test_duplicate_ids_across_sources_are_ledgered(sources):
    tmp, real, semi, synth = sources
    cfg = MixConfig.model_validate({"out": str(tmp / "m2"), "sources": [
        {"path": str(real), "kind": "real", "name": "a"}, {"path": str(real), "kind": "real", "name": "b"}]})
    manifest = build_mix(cfg)
    assert manifest["size"] == 100 and manifest["rejects_by_reason"] == {"duplicate_id": 100}


@pytest.mark.parametrize("yaml_text, match", [
    ("sources: [{path: R, kind: real, share: 0.5}, {path: S, kind: synthetic, share: 0.4}]", "sum to"),
    ("sources: [{path: R, kind: real, share: 0.5}, {path: S, kind: synthetic}]", "every source"),
    ("sources: [{path: R, kind: real}]\nreal_floor: 1.5", "real_floor"),
    ("sources: [{path: R, kind: human}]", "kind"),
    ("sources: [{path: MISSING, kind: real}]", "not found"),
])
def test_bad_mix_configs_exit_2(sources, capsys, yaml_text, match):
    tmp, real, _, synth = sources
    cfg = tmp / "mix.yaml"
    cfg.write_text(yaml_text.replace("MISSING", str(tmp / "nope.jsonl")).replace("R", str(real))
                   .replace("S", str(synth)))
    assert main(["mix", "--config", str(cfg), "--out", str(tmp / "o")]) == 2
    assert match in capsys.readouterr().err


def test_cli_mix_prints_realised_shares_and_refuses_an_existing_folder(sources, capsys):
    tmp, real, semi, synth = sources
    cfg = tmp / "mix.yaml"
    cfg.write_text(f"sources:\n  - {{path: {real}, kind: real, share: 0.5}}\n"
                   f"  - {{path: {synth}, kind: synthetic, share: 0.5}}\nreal_floor: 0.5\n")
    assert main(["mix", "--config", str(cfg), "--out", str(tmp / "o")]) == 0
    assert json.loads(capsys.readouterr().out)["realised_real_share"] == 0.5
    assert main(["mix", "--config", str(cfg), "--out", str(tmp / "o")]) == 2
    assert main(["mix", "--config", str(cfg), "--out", str(tmp / "o"), "--overwrite", "--size", "10"]) == 0
    assert len(datasets.load_from_disk(str(tmp / "o" / "corpus"))) == 10


def test_manifest_names_the_report_and_fingerprint_it_trusted(sources):
    tmp, real, semi, synth = sources
    manifest = build_mix(_cfg(tmp, real, semi, synth))
    gate = next(s["gates"] for s in manifest["sources"] if s["name"] == "synth")
    report = synth / "monitor" / "report.json"
    fp = json.loads(report.read_text())["fingerprint"]
    assert gate["report"] == str(report) and gate["report_sha256"] == hashlib.sha256(report.read_bytes()).hexdigest()
    assert gate["trusted_fingerprint"]["records"] == fp["synthetic"]["records"] == gate["fingerprint_now"]
    assert gate["trusted_fingerprint"]["n"] == 300 and gate["fingerprint_match"] and "forced" not in gate


def _append_shard(run: Path, n: int = 3) -> None:
    _write(run / "records" / "shard-00001.jsonl",
           [Record.create("synthetic", text=f"later text {i}", lineage=Lineage(run_id=run.name)) for i in range(n)])


def test_a_run_extended_after_monitoring_is_refused_unless_forced(sources):
    tmp, real, semi, synth = sources
    _append_shard(synth)
    with pytest.raises(UserError, match="records changed since the monitor judged them") as e:
        build_mix(_cfg(tmp, real, semi, synth))
    assert "300 records" in str(e.value) and "now holds 303" in str(e.value) and "\n" not in str(e.value)
    assert not (tmp / "mix").exists()
    manifest = build_mix(_cfg(tmp, real, semi, synth, force=True))
    gate = next(s["gates"] for s in manifest["sources"] if s["name"] == "synth")
    assert gate["forced"] and gate["fingerprint_match"] is False and "records changed" in gate["forced_past"][0]
    _report(synth)  # monitored again as it is now: accepted without force
    gate = next(s["gates"] for s in build_mix(_cfg(tmp, real, semi, synth, out=str(tmp / "m3")))["sources"]
                if s["name"] == "synth")
    assert gate["fingerprint_match"] and "forced" not in gate


def test_an_edited_record_changes_the_fingerprint(sources):
    tmp, real, semi, synth = sources
    shard = synth / "records" / "shard-00000.jsonl"
    lines = shard.read_text().splitlines()
    row = json.loads(lines[5])
    row["meta"]["i"] = 999  # same id, same text: only the meta changed
    shard.write_text("\n".join([*lines[:5], json.dumps(row), *lines[6:]]) + "\n")
    with pytest.raises(UserError, match="records changed"):
        build_mix(_cfg(tmp, real, semi, synth))


@pytest.mark.parametrize("kw, match", [
    (dict(skipped=("frechet",), passed=True), "monitor gates skipped for lack of data \\(frechet\\)"),
    (dict(skipped=("frechet", "irregularity.typo_rate.ratio"), evaluated=False), "no monitor gate was evaluated"),
])
def test_skipped_gates_are_refused_unless_forced(sources, kw, match):
    tmp, real, semi, synth = sources
    _report(synth, **kw)
    with pytest.raises(UserError, match=match):
        build_mix(_cfg(tmp, real, semi, synth))
    cfg = _cfg(tmp, real, semi, synth).model_dump()
    cfg["sources"][2]["force"] = True
    gate = next(s["gates"] for s in build_mix(MixConfig.model_validate(cfg))["sources"] if s["name"] == "synth")
    assert gate["forced"] and gate["skipped"]


def test_a_report_without_fingerprint_is_refused(sources):
    tmp, real, semi, synth = sources
    report = json.loads(_report(synth).read_text())
    del report["fingerprint"]
    (synth / "monitor" / "report.json").write_text(json.dumps(report))
    with pytest.raises(UserError, match="no fingerprint of the records it judged"):
        build_mix(_cfg(tmp, real, semi, synth))


def test_a_source_declared_real_holding_synthetic_records_is_refused(sources, capsys):
    tmp, real, semi, synth = sources
    cfg = tmp / "mix.yaml"
    cfg.write_text(f"sources:\n  - {{path: {real}, kind: real}}\n  - {{path: {synth}, kind: real}}\n")
    assert main(["mix", "--config", str(cfg), "--out", str(tmp / "o"), "--force"]) == 2  # never forceable
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"{synth}/records/shard-00000.jsonl:1" in err
    assert "declared kind: real but 300 of 300 records are not origin: real (synthetic x300)" in err
    assert "declare it kind: synthetic" in err and not (tmp / "o").exists()


def test_the_mix_is_its_step_list_and_a_step_runs_alone(sources):
    from semisynth.collapse.mix.builder import MIX_STEPS, MixState, plan_shares

    assert [s.__name__ for s in MIX_STEPS] == [
        "refuse_existing_output", "check_reports", "check_reviews", "load_sources", "drop_duplicate_ids",
        "apply_reviews", "plan_shares",
        "select_by_share", "keep_real_floor", "account", "write_mix"]
    tmp, real, semi, synth = sources
    cfg = _cfg(tmp, real, semi, synth)
    manifest = build_mix(cfg, steps=[s for s in MIX_STEPS if s.__name__ != "write_mix"])
    assert manifest["accounting"]["balanced"] and not Path(cfg.out).exists()  # no write step, nothing on disk
    # plan_shares alone: 100 real at share 0.4 allow 250 in all; 80 semi at 0.2 allow 400: real limits the total
    state = MixState(cfg)
    state.eligible = [[None] * 100, [None] * 80, [None] * 300]
    plan_shares(state)
    assert (state.total, state.counts) == (250, [100, 50, 100])
    assert build_mix(cfg)["size"] == 250 and load_mix(Path(cfg.out) / "corpus")
