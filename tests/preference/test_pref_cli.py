"""The commands end to end on the session stack: review kind through push/report/escalate/export."""

from __future__ import annotations

import json

import pytest

from semisynth.cli import main
from semisynth.records import Record

pytestmark = pytest.mark.argilla


def _write(path, recs):
    path.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in recs))


def test_review_flow_through_the_cli(argilla_stack, conn, tmp_path, capsys):
    from semisynth.preference import curation
    from semisynth.preference.simulator import RaterSimulator, SimulatedRater

    seeds = [Record.create("real", text=f"my bag nevr arrived {i} !!", language="en") for i in range(4)]
    synth = [Record.create("paraphrase", text=f"bag never arrived {i}", parents=[s.id], language="en")
             for i, s in enumerate(seeds)]
    synth.append(Record.create("synthetic", text="habari ya ndege", language="sw"))
    _write(tmp_path / "review_sample.jsonl", synth)
    _write(tmp_path / "seeds.jsonl", seeds)
    sd = str(argilla_stack.state_dir)
    base = ["--state-dir", sd, "--dataset", "rev"]
    assert main(["preference", "push", *base, "--kind", "review", "--input", str(tmp_path / "review_sample.jsonl"),
                 "--seeds", str(tmp_path / "seeds.jsonl"), "--raters", "va,vb", "-k", "2"]) == 0
    pulled = curation.pull(conn, "rev")
    items = list(pulled.items.values())
    assert {it.fields["seed"] for it in items} >= {s.content for s in seeds}
    truth = {it.id: ("changed_meaning" if it.fields["synthetic"].endswith("3") else "acceptable") for it in items}
    RaterSimulator(conn, "rev", [SimulatedRater("va", 0.0), SimulatedRater("vb", 0.0)], truth).run()
    cfg = tmp_path / "policy.yaml"
    cfg.write_text("policy:\n  low_resource_languages: [sw]\n")
    assert main(["preference", "report", *base, "--out", str(tmp_path / "rep")]) == 0
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert rep["overall"]["krippendorff_alpha_nominal"]["value"] == 1.0
    assert (tmp_path / "rep" / "report.html").read_text().startswith("<!doctype html>")
    assert main(["preference", "export", *base, "--config", str(cfg), "--format", "review",
                 "--out", str(tmp_path / "ex")]) == 0
    manifest = json.loads((tmp_path / "ex" / "manifest_review.json").read_text())
    assert manifest["rows"] == 3 and manifest["excluded"] == {"rejected": 1, "escalated_pending": 1}
    out = [json.loads(x) for x in (tmp_path / "ex" / "reviewed.jsonl").read_text().splitlines()]
    assert all(r["meta"]["human_review"]["decision"] == "acceptable" and r["lineage"] is not None for r in out)
    # review.json (what the mix applies) does not take the raters' word on it either
    sw_id = next(r.id for r in synth if r.language == "sw")
    assert main(["preference", "report", *base, "--config", str(cfg), "--out", str(tmp_path / "rep1")]) == 0
    review = json.loads((tmp_path / "rep1" / "review.json").read_text())
    assert review["items"]["awaiting_expert"] == 1 and review["decisions"][sw_id]["verdict"] == "undecided"
    # the Swahili synthetic record goes to the expert; once answered it may be exported
    assert main(["preference", "escalate", *base, "--config", str(cfg), "--experts", "vexpert"]) == 0
    RaterSimulator(conn, "rev-escalation", [SimulatedRater("vexpert", 0.0)], truth).run()
    assert main(["preference", "export", *base, "--config", str(cfg), "--format", "review",
                 "--out", str(tmp_path / "ex2")]) == 0
    assert json.loads((tmp_path / "ex2" / "manifest_review.json").read_text())["rows"] == 4
    assert main(["preference", "report", *base, "--config", str(cfg), "--out", str(tmp_path / "rep2")]) == 0
    review = json.loads((tmp_path / "rep2" / "review.json").read_text())
    assert review["items"]["awaiting_expert"] == 0
    assert (review["decisions"][sw_id]["verdict"], review["decisions"][sw_id]["by"]) == ("accepted", "expert")


def test_review_export_takes_review_jsons_verdicts_and_exports_edits_edited(argilla_stack, conn, tmp_path, capsys):
    """export --format review read the 6-way consensus: two failure reasons and an acceptable (review.json:
    rejected) or acceptable / edit / changed_meaning (review.json: accepted) were a tie it escalated, and a
    2-of-3 edit was exported with the generated text. Now the export holds exactly the records review.json
    accepts or edits, the edited one as edited (the record the mix takes in)."""
    from semisynth.collapse.mix.review_gate import edited
    from semisynth.preference import curation
    from semisynth.preference.review import reviewed_record

    seeds = [Record.create("real", text=f"where is my refund {i} ??", language="en") for i in range(5)]
    synth = [Record.create("paraphrase", text=f"where's my refund {i}", parents=[s.id], language="en")
             for i, s in enumerate(seeds)]
    _write(tmp_path / "sample.jsonl", synth)
    _write(tmp_path / "seeds.jsonl", seeds)
    base = ["--state-dir", str(argilla_stack.state_dir), "--dataset", "rev-agree"]
    raters = ["xa", "xb", "xc"]
    assert main(["preference", "push", *base, "--kind", "review", "--input", str(tmp_path / "sample.jsonl"),
                 "--seeds", str(tmp_path / "seeds.jsonl"), "--raters", ",".join(raters), "-k", "3"]) == 0
    pulled = curation.pull(conn, "rev-agree")
    by_text = {it.fields["synthetic"]: it for it in pulled.items.values()}
    answers = [("acceptable", "edit", "edit"),                                # edited
               ("acceptable", "acceptable", "edit"),                          # accepted
               ("changed_meaning", "not_fluent_or_leaked", "acceptable"),     # rejected (changed_meaning)
               ("acceptable", "edit", "changed_meaning"),                     # accepted
               ("changed_meaning", "changed_meaning", "acceptable")]          # rejected
    keys = conn.ensure_users(raters)
    for r, said in zip(synth, answers, strict=True):
        it = by_text[r.text]
        for user, decision in zip(raters, said, strict=True):
            conn.submit(pulled.records[it.id][user], keys[user],
                        {"decision": decision, "edited": "Where is my refund? (fixed)" if decision == "edit" else None})
    assert main(["preference", "report", *base, "--out", str(tmp_path / "rep")]) == 0
    review = json.loads((tmp_path / "rep" / "review.json").read_text())
    verdicts = {rid: d["verdict"] for rid, d in review["decisions"].items()}
    assert [verdicts[r.id] for r in synth] == ["edited", "accepted", "rejected", "accepted", "rejected"]

    capsys.readouterr()
    assert main(["preference", "export", *base, "--format", "review", "--out", str(tmp_path / "ex")]) == 0
    manifest = json.loads((tmp_path / "ex" / "manifest_review.json").read_text())
    assert manifest["rows"] == 3 and manifest["excluded"] == {"rejected": 2}
    out = {json.loads(x)["lineage"].get("edited_from") or json.loads(x)["id"]: json.loads(x)
           for x in (tmp_path / "ex" / "reviewed.jsonl").read_text().splitlines()}
    assert set(out) == {rid for rid, v in verdicts.items() if v in ("accepted", "edited")}  # review.json's records
    assert out[synth[1].id]["text"] == synth[1].text and out[synth[3].id]["text"] == synth[3].text
    assert out[synth[1].id]["meta"]["human_review"]["decision"] == "acceptable"
    ed = out[synth[0].id]  # the edit, in its edited form, saying what it was
    assert ed["text"] == "Where is my refund? (fixed)" and ed["id"] != synth[0].id
    assert ed["lineage"]["edited_from"] == synth[0].id
    assert ed["meta"]["human_review"]["original_text"] == synth[0].text
    assert ed["meta"]["human_review"]["decision"] == "edit" and ed["meta"]["human_review"]["verdict"] == "edited"
    mixed = edited(reviewed_record(by_text[synth[0].text]), "Where is my refund? (fixed)", {}, {})
    assert (ed["id"], ed["text"], ed["lineage"]) == (mixed.id, mixed.text, mixed.lineage.to_dict())  # as the mix


def test_bad_input_is_one_line_exit_2(argilla_stack, tmp_path, capsys):
    sd = str(argilla_stack.state_dir)
    rc = main(["preference", "push", "--state-dir", sd, "--dataset", "m", "--kind", "moderation",
               "--input", str(tmp_path / "missing.jsonl"), "--raters", "x"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "fix:" in err
    (tmp_path / "items.jsonl").write_text('{"id": "x", "text": "not an item"}\n')
    rc = main(["preference", "push", "--state-dir", sd, "--dataset", "m", "--kind", "preference",
               "--input", str(tmp_path / "items.jsonl"), "--raters", "x", "-k", "1"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "items.jsonl:1" in err and "fix:" in err
    rc = main(["preference", "report", "--state-dir", str(tmp_path / "nowhere"), "--dataset", "x", "--out", "o"])
    assert rc == 2 and "semisynth argilla up" in capsys.readouterr().err



def test_repushing_items_with_gold_sends_nothing_and_keeps_every_queue(argilla_stack, conn, make_items, tmp_path,
                                                                      capsys):
    from semisynth.preference import curation

    items = make_items(6, prefix="rp")
    gold = [curation.Item(f"rp-gold-{i}", "preference", dict(g.fields), g.language, g.origin,
                          {**g.payload, "gold_id": f"rp-gold-{i}"}, gold="best:response_1")
            for i, g in enumerate(make_items(2, prefix="rpg"))]
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(it.to_dict()) + "\n" for it in items))
    (tmp_path / "gold.jsonl").write_text("".join(json.dumps(g.to_dict()) + "\n" for g in gold))
    args = ["preference", "push", "--state-dir", str(argilla_stack.state_dir), "--dataset", "repush",
            "--kind", "preference", "--input", str(tmp_path / "items.jsonl"), "--gold", str(tmp_path / "gold.jsonl"),
            "--raters", "qa,qb,qc", "-k", "2"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    queues = {i: m["assignees"] for i, m in curation.pull(conn, "repush").meta.items()}
    assert main(args) == 0
    second = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["sent"] == 16 and first["unassigned"] == 0  # 8 items, one copy per rater (k=2)
    assert second["sent"] == 0  # same items, same raters: every batch is already on the server
    pulled = curation.pull(conn, "repush")
    assert len(pulled.items) == 8
    assert {i: m["assignees"] for i, m in pulled.meta.items()} == queues  # nobody lost a record from their queue
    assert all(len(a) == 2 for a in queues.values())


def test_report_refuses_a_taxonomy_bumped_after_labelling(argilla_stack, tmp_path, capsys):
    from semisynth.taxonomy import builtin_taxonomies

    tax_file = tmp_path / "ts.yaml"
    tax_file.write_text(builtin_taxonomies()["trust_safety"].read_text(encoding="utf-8"), encoding="utf-8")
    recs = [Record.create("real", text=f"buy cheap pills {i}", language="en") for i in range(3)]
    _write(tmp_path / "recs.jsonl", recs)
    base = ["--state-dir", str(argilla_stack.state_dir), "--dataset", "mod-bump"]
    assert main(["preference", "push", *base, "--kind", "moderation", "--input", str(tmp_path / "recs.jsonl"),
                 "--taxonomy", str(tax_file), "--raters", "ta,tb", "-k", "2"]) == 0
    assert main(["preference", "report", *base, "--taxonomy", str(tax_file), "--out", str(tmp_path / "rep1")]) == 0
    tax_file.write_text(tax_file.read_text().replace('version: "1.0.0"', 'version: "1.1.0"'))
    capsys.readouterr()
    assert main(["preference", "report", *base, "--taxonomy", str(tax_file), "--out", str(tmp_path / "rep2")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "1.0.0" in err and "1.1.0" in err
    assert not (tmp_path / "rep2").exists()
    assert main(["preference", "export", *base, "--taxonomy", "intents", "--format", "moderation",
                 "--out", str(tmp_path / "ex")]) == 2  # another taxonomy than the one labelled under
    assert "trust_safety" in capsys.readouterr().err and not (tmp_path / "ex").exists()
