"""The record contract: deterministic ids, frozen records, lossless round trips."""

import dataclasses

import pytest

from semisynth.records import Lineage, Message, Origin, Record, Reject


def test_id_is_a_hash_of_content_and_parents():
    a = Record.create("paraphrase", text="hi there", parents=["p1"])
    b = Record.create("paraphrase", text="hi there", parents=["p1"])
    c = Record.create("paraphrase", text="hi there", parents=["p2"])
    d = Record.create("paraphrase", text="hi there!", parents=["p1"])
    assert a.id == b.id
    assert len({a.id, c.id, d.id}) == 3


def test_lineage_does_not_change_the_id_but_origin_does():
    a = Record.create("synthetic", text="x", lineage=Lineage(model="m1"))
    b = Record.create("synthetic", text="x", lineage=Lineage(model="m2"))
    assert a.id == b.id
    assert Record.create("real", text="x").id != a.id


def test_records_are_frozen():
    r = Record.create("real", text="x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.text = "y"
    with pytest.raises(TypeError):
        r.meta["k"] = 1


def test_round_trip_with_messages_and_lineage():
    r = Record.create("paraphrase", messages=[{"role": "user", "content": "hey"}, Message("assistant", "yo")],
                      parents=["s"], language="en",
                      lineage=Lineage(generator="paraphrase", template="t", template_hash="h", model="m",
                                      sampling={"temperature": 0.7}, seed=3, run_id="r", task_id="t1", variant=0),
                      meta={"source": "f:1"})
    d = r.to_dict()
    assert d["messages"][1] == {"role": "assistant", "content": "yo"}
    assert d["lineage"]["sampling"] == {"temperature": 0.7}
    assert Record.from_dict(d) == r
    assert r.content == "hey\nyo"


def test_evolve_recomputes_id_on_content_change():
    r = Record.create("real", text="a")
    assert r.evolve(text="b").id == Record.create("real", text="b").id
    assert r.evolve(language="de").id == r.id


def test_record_without_content_is_refused():
    with pytest.raises(ValueError):
        Record(id="x", origin=Origin.REAL)


def test_reject_round_trip():
    j = Reject("i", ("p",), "truncated", detail="d", task_id="t")
    assert Reject.from_dict(j.to_dict()) == j


def test_atomic_writes_get_umask_permissions_not_mkstemps_0600(tmp_path):
    import os
    import stat

    from semisynth.atomic import atomic_dir, write_json

    mask = os.umask(0o022)
    os.umask(mask)
    write_json(tmp_path / "r.json", {"a": 1})
    with atomic_dir(tmp_path / "d") as d:
        (d / "x").write_text("x")
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o777 & ~mask
