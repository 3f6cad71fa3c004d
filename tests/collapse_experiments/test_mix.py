"""The training-mix builder: shares, real floor, monitor gates, and every input record accounted for."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest

from semisynth.cli import main
from semisynth.collapse.mix import MixConfig, build_mix, load_mix
from semisynth.errors import UserError
from semisynth.io import read_records
from semisynth.records import Lineage, Record


def _write(path: Path, records: list[Record]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records))


def _run(root: Path, name: str, origin: str, n: int, passed: bool | None = True) -> Path:
    """A run directory (records/ shard) with, optionally, a monitor report."""
    run = root / name
    recs = [Record.create(origin, text=f"{name} text {i}", parents=(f"p{i}",) if origin != "real" else (),
                          lineage=Lineage(generator=name, model="tiny", seed=i, run_id=name,
                                          sampling={"temperature": 0.7}), meta={"i": i})
            for i in range(n)]
    _write(run / "records" / "shard-00000.jsonl", recs)
    if passed is not None:
        (run / "monitor").mkdir()
        (run / "monitor" / "report.json").write_text(json.dumps(
            {"gates": {"passed": passed, "failed": [] if passed else [{"figure": "frechet", "reason": "x"}]}}))
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
    tmp, real, semi, synth = sources
    manifest = build_mix(_cfg(tmp, real, semi, synth, real_floor=0.6))
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
    assert gate["forced"] and gate["passed"] is False


def test_monitor_report_named_in_config_is_used(sources):
    tmp, real, semi, synth = sources
    nogate = _run(tmp, "nogate", "synthetic", 40, passed=None)
    with pytest.raises(UserError, match="no monitor report"):
        build_mix(_cfg(tmp, real, semi, nogate))
    cfg = _cfg(tmp, real, semi, nogate).model_dump()
    cfg["sources"][2]["monitor_report"] = str(synth / "monitor" / "report.json")
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
