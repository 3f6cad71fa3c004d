"""Against the real local Argilla stack (osmem engine): queues, idempotent push, simulated raters
end to end, escalation, faults and bad input."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from semisynth.cli import main
from semisynth.errors import UserError
from semisynth.preference import curation
from semisynth.preference.client import Connection
from semisynth.preference.consensus import Policy, resolve
from semisynth.preference.export import export
from semisynth.preference.report import build_report
from semisynth.preference.simulator import RaterSimulator, SimulatedRater

pytestmark = pytest.mark.argilla


def _settings(n=2):
    return curation.dataset_settings("preference", n, min_submitted=1)


def _ids_in(conn, name) -> list[str]:
    return [it for it in curation.pull(conn, name).items]


def test_each_rater_queue_holds_exactly_their_records_pending_and_submitted(conn, make_items):
    items = make_items(4, prefix="q")
    keys = conn.ensure_users(["qa", "qb", "qc"])
    assign = {it.id: ["qa", "qb"] for it in items[:3]} | {items[3].id: ["qb", "qc"]}
    res = curation.push(conn, "queue", _settings(), items, assign, None)
    assert res.sent == 8 and res.per_rater == {"qa": 3, "qb": 4, "qc": 1}
    pulled = curation.pull(conn, "queue")
    assert set(pulled.datasets) == {"qa", "qb", "qc"}
    vals = {"verdict": "tie", "confidence": 3}
    for it in items[:2]:
        conn.submit(pulled.records[it.id]["qa"], keys["qa"], vals)

    def q(user, status, copy=None):
        return {r["external_id"] for r in conn.annotator_queue(pulled.datasets[copy or user], keys[user], status)}

    ids = [it.id for it in items]
    assert q("qa", "pending") == {ids[2]} and q("qa", "submitted") == set(ids[:2])
    assert q("qb", "pending") == set(ids) and q("qb", "submitted") == set()  # qa's answers leave qb's queue alone
    assert q("qc", "pending") == {ids[3]}
    with pytest.raises(httpx.HTTPStatusError) as e:  # another rater's copy is closed to qc
        q("qc", "pending", copy="qa")
    assert e.value.response.status_code == 403
    with conn.http(keys["qc"]) as c:  # and the UI's dataset list shows qc only datasets of their own workspace
        listed = c.get("/api/v1/me/datasets").json()["items"]
    assert pulled.datasets["qc"] in {d["id"] for d in listed}
    assert {d["workspace_id"] for d in listed} == {conn.workspace_id("semisynth--qc")}
    assert len(curation.pull(conn, "queue").annotations) == 2


def test_push_is_idempotent_and_resumable(conn, make_items, tmp_path):
    items = make_items(30, prefix="i")
    assign = curation.assign(items, ["ia", "ib", "ic"], 2)
    ledger = tmp_path / "ledger.txt"
    first = curation.push(conn, "idem", _settings(), items, assign, ledger, batch_size=8)
    again = curation.push(conn, "idem", _settings(), items, assign, ledger, batch_size=8)
    assert first.sent == 60 and again.sent == 0 and again.skipped_batches == first.batches
    curation.push(conn, "idem", _settings(), items, assign, None, batch_size=8)  # no ledger: upserts, no duplicates
    partial = curation.push(conn, "idem", _settings(), items, {i: r for i, r in assign.items() if i != items[0].id},
                            None, 8)
    assert partial.unassigned == 1 and partial.sent == 58  # an item without raters is counted, not lost
    pulled = curation.pull(conn, "idem")
    assert len(pulled.items) == 30 and set(pulled.items) == {it.id for it in items}
    assert {i: sorted(r) for i, r in pulled.records.items()} == {i: sorted(r) for i, r in assign.items()}
    it = items[0]
    assert pulled.items[it.id].payload["lineage"]["model"] == "tiny" and pulled.items[it.id] == it
    assert set(pulled.meta[it.id]["assignees"]) == set(assign[it.id])


def test_simulated_raters_end_to_end_gold_agreement_escalation_export(conn, make_items, tmp_path):
    items = make_items(24, prefix="e")
    truth = {it.id: ("tie" if i % 8 == 7 else "best:response_1") for i, it in enumerate(items)}
    gold = [curation.Item(f"gold-{i}", "preference", dict(g.fields), g.language, g.origin,
                          {**g.payload, "gold_id": f"gold-{i}"}, gold="best:response_1")
            for i, g in enumerate(make_items(4, prefix="g"))]
    raters = ["ra", "rb", "rc", "rbad"]
    seen: dict[str, list[str]] = {}
    assignment = curation.assign([*items, *gold], raters, 3, gold_seen=seen)
    assert all(len(set(v)) == len(v) == 3 for v in seen.values())
    seen_before = {g: list(v) for g, v in seen.items()}
    again = curation.assign(gold, raters, 3, gold_seen=seen)  # a second push of the same gold answers
    assert all(len(v) == 1 and v[0] not in seen_before[g] for g, v in again.items())  # only the 4th rater
    assert curation.assign(gold, raters, 3, gold_seen=seen) == {}  # nobody gets the same gold twice
    curation.push(conn, "e2e", _settings(), [*items, *gold], assignment, None)
    sim = RaterSimulator(conn, "e2e", [SimulatedRater("ra", 0.0), SimulatedRater("rb", 0.0),
                                      SimulatedRater("rc", 0.5), SimulatedRater("rbad", 1.0)], truth, seed=3)
    done = sim.run()
    assert sum(done.values()) == 24 * 3 + 4 * 3
    pulled = curation.pull(conn, "e2e")
    assert len(pulled.annotations) == 24 * 3 + 12
    pol = Policy(min_gold_items=3)
    res = resolve(pulled.items, pulled.annotations, pol)
    rep = build_report("preference", pulled.items, pulled.annotations, res, n_boot=50)
    assert rep["gold_accuracy"]["ra"]["accuracy"] == 1.0 and rep["gold_accuracy"]["rbad"]["accuracy"] == 0.0
    kappas = rep["overall"]["per_rater_kappa_vs_rest"]
    assert min(kappas, key=lambda u: kappas[u]["value"]) == "rbad"
    # items whose trusted raters disagree or are too few go to the experts; the expert's answer wins
    esc = [i for i, r in res.items() if r.status == "escalated"]
    assert esc  # rc at 50% noise and the failed-gold rbad leave items the trusted raters do not settle
    for iid, r in res.items():
        if r.status == "consensus":
            assert r.answer == truth[iid]
    curation.push(conn, "e2e-escalation", _settings(), [pulled.items[i] for i in esc], curation.assign(
        [pulled.items[i] for i in esc], ["expert1"], 1), None)
    RaterSimulator(conn, "e2e-escalation", [SimulatedRater("expert1", 0.0)], truth).run()
    experts = curation.pull(conn, "e2e-escalation").annotations
    res = resolve(pulled.items, pulled.annotations, pol, experts)
    assert all(r.status in ("consensus", "expert") for r in res.values())
    assert all(r.answer == truth[i] for i, r in res.items())
    m = export("dpo", pulled.items, res, pol, tmp_path)
    assert m["rows"] == 21 and m["excluded"] == {"gold_excluded": 4, "tie": 3}


def test_moderation_labels_carry_taxonomy_version(conn, tmp_path):
    import datasets

    from semisynth.records import Record
    from semisynth.taxonomy import load_taxonomy

    tax = load_taxonomy("trust_safety")
    recs = [Record.create("real", text=f"message {i}", language="en") for i in range(6)]
    items = [curation.moderation_item(r, tax) for r in recs]
    curation.push(conn, "mod", curation.dataset_settings("moderation", taxonomy=tax), items,
                  curation.assign(items, ["ma", "mb"], 2), None)
    truth = {it.id: (["spam"] if i % 2 else ["safe"]) for i, it in enumerate(items)}
    labels = [lab.id for lab in tax.leaves]
    RaterSimulator(conn, "mod", [SimulatedRater("ma", 0.0), SimulatedRater("mb", 0.0)], truth, labels).run()
    pulled = curation.pull(conn, "mod")
    res = resolve(pulled.items, pulled.annotations, Policy())
    rep = build_report("moderation", pulled.items, pulled.annotations, res, labels, n_boot=20)
    assert rep["per_label"]["spam"]["krippendorff_alpha_nominal"]["value"] == 1.0
    export("moderation", pulled.items, res, Policy(), tmp_path)
    out = datasets.load_from_disk(str(tmp_path / "moderation"))
    assert len(out) == 6 and set(out["taxonomy_version"]) == {tax.version}
    assert sorted(map(tuple, out["labels"])) == sorted(tuple(v) for v in truth.values())


def test_wrong_credentials_and_unreachable_url_are_one_clear_line(conn):
    with pytest.raises(UserError, match="rejected the API key") as e:
        Connection(conn.url, "not-the-key").check()
    assert "not-the-key" not in str(e.value)
    with pytest.raises(UserError, match="unreachable"):
        Connection("http://127.0.0.1:9", "k").check()


def test_schema_mismatch_with_existing_dataset_is_a_user_error(conn, make_items):
    items = make_items(1, prefix="sch")
    curation.push(conn, "schema", _settings(2), items, {items[0].id: ["sch-a"]}, None)
    with pytest.raises(UserError, match="schema mismatch"):
        curation.push(conn, "schema", _settings(3), items, {items[0].id: ["sch-b", "sch-a"]}, None)
    assert set(conn.copies("schema")) == {"sch-a"}  # checked for every rater before any copy is made


@pytest.mark.slow
def test_server_killed_mid_push_then_rerun_has_no_duplicates_or_gaps(conn, argilla_stack, make_items, tmp_path):
    items = make_items(400, prefix="c")
    assign = curation.assign(items, ["ca", "cb"], 2)
    ledger = tmp_path / "ledger.txt"
    errors: list[BaseException] = []

    def run():
        try:
            curation.push(conn, "crash", _settings(), items, assign, ledger, batch_size=20)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    t = threading.Thread(target=run)
    t.start()
    while not ledger.exists() or len(ledger.read_text().split()) < 3:
        time.sleep(0.05)
    argilla_stack.kill("server")  # SIGKILL mid-push
    time.sleep(1.0)
    argilla_stack.start_server()
    t.join(timeout=240)
    curation.push(conn, "crash", _settings(), items, assign, ledger, batch_size=20)  # the rerun
    ids = _ids_in(conn, "crash")
    assert len(ids) == 400 and set(ids) == {it.id for it in items}


@pytest.mark.slow
def test_stack_restart_reindexes_and_keeps_queues_and_status_says_stopped(conn, argilla_stack, make_items, capsys):
    items = make_items(5, prefix="s")
    keys = conn.ensure_users(["sa", "sb"])
    curation.push(conn, "restart", _settings(), items, {it.id: ["sa", "sb"] for it in items}, None)
    pulled = curation.pull(conn, "restart")
    conn.submit(pulled.records[items[0].id]["sa"], keys["sa"], {"verdict": "tie"})
    url = argilla_stack.url()
    assert argilla_stack.down() == ["worker", "server", "redis", "osmem"]
    assert main(["argilla", "status", "--state-dir", str(argilla_stack.state_dir)]) == 3
    out = capsys.readouterr().out
    assert "stopped" in out and "NOT healthy" not in out and "semisynth argilla up" in out
    argilla_stack.up()
    assert argilla_stack.url() == url  # same ports: existing connections keep working
    pending = {r["external_id"] for r in conn.annotator_queue(pulled.datasets["sa"], keys["sa"], "pending")}
    assert pending == {it.id for it in items[1:]}  # osmem starts empty: the queue comes from the reindex
    assert len(curation.pull(conn, "restart").annotations) == 1
