"""The mix reads the humans' verdict: `min_accepted` refuses a run without a matching review or with a lower bound
under it, records the review it trusted; rejected records never enter, edited ones enter edited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from monitor_reports import write_report

from semisynth.cli import main
from semisynth.collapse.mix.builder import build_mix
from semisynth.collapse.mix.config import MixConfig
from semisynth.collapse.mix.corpus import load_mix
from semisynth.collapse.monitor.fingerprint import file_sha256
from semisynth.errors import UserError
from semisynth.preference.curation import Annotation, review_item
from semisynth.preference.review import build_review, item_verdicts
from semisynth.records import Lineage, Record


def _write(path: Path, records: list[Record]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records))


@pytest.fixture
def run(tmp_path):
    """A semi-synthetic run of 40 records (two generators) with a passing monitor report."""
    seeds = [Record.create("real", text=f"my order {i} never came", language="en") for i in range(40)]
    recs = [Record.create("paraphrase", text=f"order {i} still not here", parents=[s.id], language="en",
                          lineage=Lineage(generator="paraphrase:keep" if i < 30 else "paraphrase:clean",
                                          style="keep" if i < 30 else "clean"))
            for i, s in enumerate(seeds)]
    run = tmp_path / "run"
    _write(run / "records" / "shard-00000.jsonl", recs)
    _write(tmp_path / "real.jsonl", seeds)
    write_report(run, real=seeds, default_origin="paraphrase")
    return tmp_path, run, recs, seeds


def _review(run: Path, recs: list[Record], seeds: list[Record], accepted: int, n: int = 20) -> dict:
    """Three raters agree on each of the first n records: the first `accepted` acceptable, one edited, the rest
    changed_meaning; review.json written beside the monitor report, as `preference report --monitor-report` does."""
    by_id = {s.id: s for s in seeds}
    items = [review_item(r.evolve(meta={"review_cell": "x", "review_stratum": "s"}), by_id[r.parents[0]])
             for r in recs[:n]]
    anns = []
    for k, it in enumerate(items):
        d = "acceptable" if k < accepted else "edit" if k == accepted else "changed_meaning"
        anns += [Annotation(it.id, u, {"decision": d, "edited": "order still not here, fixed" if d == "edit" else None})
                 for u in ("a", "b", "c")]
    items_map = {it.id: it for it in items}
    report = run / "monitor" / "report.json"
    rep = build_review("rev", items_map, anns, item_verdicts(items_map, anns), n_boot=0,
                       monitor_report=json.loads(report.read_text()), monitor_report_path=str(report))
    (run / "monitor" / "review.json").write_text(json.dumps(rep))
    return rep


def _cfg(tmp: Path, run: Path, **source) -> MixConfig:
    return MixConfig.model_validate({"out": str(tmp / "mix"), "sources": [
        {"path": str(tmp / "real.jsonl"), "kind": "real"},
        {"path": str(run), "kind": "semi_synthetic", **source}]})


def test_min_accepted_refuses_a_run_without_review_or_under_the_bound_and_accepts_it_over(run):
    tmp, path, recs, seeds = run
    with pytest.raises(UserError, match="needs a review, and there is none"):
        build_mix(_cfg(tmp, path, min_accepted=0.5))
    rep = _review(path, recs, seeds, accepted=12)  # 12 of 20: Wilson lower bound 0.387
    assert rep["acceptance"]["overall"]["ci_low"] == pytest.approx(0.3866, abs=1e-3)
    with pytest.raises(UserError, match=r"lower bound under min_accepted 0.5 \(overall 0.38"):
        build_mix(_cfg(tmp, path, min_accepted=0.5))
    assert not (tmp / "mix").exists()
    m = build_mix(_cfg(tmp, path, min_accepted=0.35))
    review = m["sources"][1]["gates"]["review"]
    assert review["review_sha256"] == file_sha256(path / "monitor" / "review.json")
    assert review["fingerprint_match"] and review["trusted_fingerprint"]["records"] == rep["fingerprint"]["population"]["records"]
    assert review["lower_bounds"] == {"overall": rep["acceptance"]["overall"]["ci_low"]}
    assert review["reviewed_in_source"] == review["reviewed"] == 20
    # per generator: only paraphrase:keep was reviewed (the first 20 records); paraphrase:clean has no bound
    with pytest.raises(UserError, match="decided no record of generator.s. paraphrase:clean"):
        build_mix(_cfg(tmp, path, min_accepted=0.35, min_accepted_by="generator").model_copy(update={"overwrite": True}))
    _review(path, recs, seeds, accepted=38, n=40)  # every record reviewed: both generators bounded
    m = build_mix(_cfg(tmp, path, min_accepted=0.35, min_accepted_by="generator").model_copy(update={"overwrite": True}))
    assert set(m["sources"][1]["gates"]["review"]["lower_bounds"]) == {"paraphrase:keep", "paraphrase:clean"}
    # one generator under the bound refuses the source though the overall bound is over it
    rep = _review(path, recs, seeds, accepted=30, n=40)  # keep: 30 of 30 accepted; clean: 0 of 10 (1 edited)
    assert rep["acceptance"]["overall"]["ci_low"] > 0.35 and rep["acceptance"]["by_generator"]["paraphrase:clean"]["ci_low"] == 0
    build_mix(_cfg(tmp, path, min_accepted=0.35).model_copy(update={"overwrite": True}))
    with pytest.raises(UserError, match=r"lower bound under min_accepted 0.35 \(paraphrase:clean 0.0000\)"):
        build_mix(_cfg(tmp, path, min_accepted=0.35, min_accepted_by="generator").model_copy(update={"overwrite": True}))


def test_rejected_records_never_enter_and_edited_enter_edited_with_lineage(run):
    tmp, path, recs, seeds = run
    _review(path, recs, seeds, accepted=12)  # record 12 edited, 13..19 rejected
    m = build_mix(_cfg(tmp, path))  # no min_accepted: the decisions still apply
    corpus = {r.id: r for r in load_mix(tmp / "mix" / "corpus")}
    rejected = {r.id for r in recs[13:20]}
    assert not rejected & set(corpus)
    rejects = [json.loads(x) for x in (tmp / "mix" / "rejects.jsonl").read_text().splitlines()]
    assert {r["id"] for r in rejects if r["reason"] == "human_rejected"} == rejected
    assert all("changed_meaning" in r["detail"] for r in rejects if r["reason"] == "human_rejected")
    assert recs[12].id not in corpus
    edited = [r for r in corpus.values() if r.lineage.edited_from == recs[12].id]
    assert len(edited) == 1 and edited[0].text == "order still not here, fixed"
    assert edited[0].meta["human_review"]["original_text"] == recs[12].text
    assert edited[0].lineage.generator == "paraphrase:keep" and edited[0].parents == recs[12].parents
    assert m["accounting"]["balanced"] and m["rejects_by_reason"]["human_rejected"] == 7
    assert m["sources"][1]["gates"]["review"]["edited_entered"] == 1


def test_a_run_changed_after_review_is_refused_when_review_is_required(run):
    tmp, path, recs, seeds = run
    _review(path, recs, seeds, accepted=19)
    extra = Record.create("paraphrase", text="one more", parents=[seeds[0].id], language="en")
    _write(path / "records" / "shard-00001.jsonl", [extra])
    with pytest.raises(UserError, match="changed since"):  # the monitor gate refuses it first, or the review
        build_mix(_cfg(tmp, path, min_accepted=0.1))
    write_report(path, real=seeds, default_origin="paraphrase")  # monitored again, not reviewed again
    with pytest.raises(UserError, match=r"changed since they were reviewed: the review fingerprinted 40 records"):
        build_mix(_cfg(tmp, path, min_accepted=0.1))
    m = build_mix(_cfg(tmp, path))  # no review required: the decisions of the old review still apply, recorded
    review = m["sources"][1]["gates"]["review"]
    assert not review["fingerprint_match"] and review["reviewed_in_source"] == 20


@pytest.mark.parametrize("bad,where", [("1.5", "min_accepted"), ("-0.1", "min_accepted")])
def test_min_accepted_out_of_range_is_one_line_exit_2(run, tmp_path, capsys, bad, where):
    tmp, path, *_ = run
    cfg = tmp_path / "mix.yaml"
    cfg.write_text(f"out: {tmp / 'mix'}\nsources:\n  - {{path: {path}, kind: semi_synthetic, min_accepted: {bad}}}\n")
    assert main(["mix", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and where in err and "Traceback" not in err


def test_malformed_review_json_is_one_line_exit_2(run, tmp_path, capsys):
    tmp, path, *_ = run
    (path / "monitor" / "review.json").write_text('{"format": "semisynth.review/1", "acceptance": ')
    cfg = tmp_path / "mix.yaml"
    cfg.write_text(f"out: {tmp / 'mix'}\nsources:\n  - {{path: {path}, kind: semi_synthetic, min_accepted: 0.5}}\n")
    assert main(["mix", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "review.json" in err and "fix:" in err and not (tmp / "mix").exists()
    (path / "monitor" / "review.json").write_text('{"format": "something else"}')
    assert main(["mix", "--config", str(cfg)]) == 2
    assert "not a review report" in capsys.readouterr().err


def test_another_runs_review_is_named_as_such_not_as_a_changed_run(run, tmp_path):
    tmp, path, recs, seeds = run
    other = tmp_path / "other"
    others = [Record.create("paraphrase", text=f"parcel {i} lost again", parents=[s.id], language="en",
                            lineage=Lineage(generator="paraphrase:keep", style="keep")) for i, s in enumerate(seeds)]
    _write(other / "records" / "shard-00000.jsonl", others)
    write_report(other, real=seeds, default_origin="paraphrase")
    _review(other, others, seeds, accepted=19)
    (path / "monitor" / "review.json").write_bytes((other / "monitor" / "review.json").read_bytes())
    with pytest.raises(UserError, match=r"the review is of other records: none of the 20 records it decided is in"):
        build_mix(_cfg(tmp, path, min_accepted=0.1))


def test_preference_report_says_the_reviewed_acceptance_on_the_terminal(run):
    from semisynth.preference.commands import review_summary

    tmp, path, recs, seeds = run
    rep = _review(path, recs, seeds, accepted=12)  # 12 of 20 accepted, 1 edited, 7 changed_meaning
    said = review_summary(rep).splitlines()
    assert said[0] == "reviewed acceptance (95% interval): 60.0% [38.7%, 78.1%] of 20"
    assert "  paraphrase:keep: 60.0% [38.7%, 78.1%] of 20" in said  # the first 20 records are all paraphrase:keep
    assert said[-1] == "  commonest failure: changed_meaning (7 of 7 rejected)"
