"""Against the real local Argilla stack (osmem engine): queues, idempotent push, simulated raters
end to end, escalation, faults and bad input."""

from __future__ import annotations

import threading
import time

import pytest

from semisynth.errors import UserError
from semisynth.preference import curation
from semisynth.preference.client import Connection
from semisynth.preference.consensus import Policy, resolve
from semisynth.preference.export import export
from semisynth.preference.report import build_report
from semisynth.preference.simulator import RaterSimulator, SimulatedRater

pytestmark = pytest.mark.argilla


def _dataset(conn, name, k=2, n=2):
    return curation.ensure_dataset(conn, name, curation.dataset_settings("preference", n, min_submitted=k))


def _ids_in(conn, name) -> list[str]:
    return [it for it in curation.pull(conn, name).items]


def test_annotator_queue_pending_and_submitted_per_user(conn, make_items):
    ds = _dataset(conn, "queue", k=2)
    items = make_items(4, prefix="q")
    keys = conn.ensure_users(["qa", "qb", "qc"])
    curation.push(conn, ds, items, {it.id: ["qa", "qb"] for it in items}, None)
    ds_id = conn.dataset_id("queue")
    sid = curation.pull(conn, "queue").server_ids
    vals = {"verdict": "tie", "confidence": 3}
    for it in items[:2]:
        conn.submit(sid[it.id], keys["qa"], vals)

    def q(user, status, assignee=True):
        return {r["external_id"] for r in conn.annotator_queue(ds_id, keys[user], status, user if assignee else None)}

    ids = [it.id for it in items]
    assert q("qa", "pending") == set(ids[2:]) and q("qa", "submitted") == set(ids[:2])
    assert q("qb", "pending") == set(ids) and q("qb", "submitted") == set()
    conn.submit(sid[ids[0]], keys["qb"], vals)  # record 0 now has k=2 submissions: complete
    assert q("qb", "pending") == set(ids[1:]) and q("qb", "submitted") == {ids[0]}
    assert q("qc", "pending", assignee=False) == set(ids[1:])  # complete records leave every queue
    assert q("qc", "pending") == set()  # nothing assigned to qc


def test_push_is_idempotent_and_resumable(conn, make_items, tmp_path):
    ds = _dataset(conn, "idem")
    items = make_items(30, prefix="i")
    assign = curation.assign(items, ["ia", "ib", "ic"], 2)
    ledger = tmp_path / "ledger.txt"
    first = curation.push(conn, ds, items, assign, ledger, batch_size=8)
    again = curation.push(conn, ds, items, assign, ledger, batch_size=8)
    assert first.sent == 30 and again.sent == 0 and again.skipped_batches == 4
    curation.push(conn, ds, items, assign, None, batch_size=8)  # no ledger: upserts, still no duplicates
    partial = curation.push(conn, ds, items, {i: r for i, r in assign.items() if i != items[0].id}, None, 8)
    assert partial.unassigned == 1 and partial.sent == 29  # an item without raters is counted, not lost
    ids = _ids_in(conn, "idem")
    assert len(ids) == 30 and set(ids) == {it.id for it in items}
    pulled = curation.pull(conn, "idem")
    it = items[0]
    assert pulled.items[it.id].payload["lineage"]["model"] == "tiny" and pulled.items[it.id] == it
    assert set(pulled.meta[it.id]["assignees"]) == set(assign[it.id])


def test_simulated_raters_end_to_end_gold_agreement_escalation_export(conn, make_items, tmp_path):
    ds = _dataset(conn, "e2e", k=3)
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
    curation.push(conn, ds, [*items, *gold], assignment, None)
    sim = RaterSimulator(conn, "e2e", [SimulatedRater("ra", 0.0), SimulatedRater("rb", 0.0),
                                      SimulatedRater("rc", 0.1), SimulatedRater("rbad", 1.0)], truth, seed=3)
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
    for iid, r in res.items():
        if r.status == "consensus":
            assert r.answer == truth[iid]
    exp_ds = curation.ensure_dataset(conn, "e2e-escalation", curation.dataset_settings("preference", 2, min_submitted=1))
    curation.push(conn, exp_ds, [pulled.items[i] for i in esc], curation.assign(
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
    ds = curation.ensure_dataset(conn, "mod", curation.dataset_settings("moderation", taxonomy=tax, min_submitted=2))
    curation.push(conn, ds, items, curation.assign(items, ["ma", "mb"], 2), None)
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


def test_schema_mismatch_with_existing_dataset_is_a_user_error(conn):
    _dataset(conn, "schema", n=2)
    with pytest.raises(UserError, match="schema mismatch"):
        _dataset(conn, "schema", n=3)


@pytest.mark.slow
def test_server_killed_mid_push_then_rerun_has_no_duplicates_or_gaps(conn, argilla_stack, make_items, tmp_path):
    ds = _dataset(conn, "crash")
    items = make_items(400, prefix="c")
    assign = curation.assign(items, ["ca", "cb"], 2)
    ledger = tmp_path / "ledger.txt"
    errors: list[BaseException] = []

    def run():
        try:
            curation.push(conn, ds, items, assign, ledger, batch_size=20)
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
    curation.push(conn, ds, items, assign, ledger, batch_size=20)  # the rerun
    ids = _ids_in(conn, "crash")
    assert len(ids) == 400 and set(ids) == {it.id for it in items}


@pytest.mark.slow
def test_stack_restart_reindexes_and_keeps_queues(conn, argilla_stack, make_items):
    ds = _dataset(conn, "restart", k=2)
    items = make_items(5, prefix="s")
    keys = conn.ensure_users(["sa", "sb"])
    curation.push(conn, ds, items, {it.id: ["sa", "sb"] for it in items}, None)
    sid = curation.pull(conn, "restart").server_ids
    conn.submit(sid[items[0].id], keys["sa"], {"verdict": "tie"})
    url = argilla_stack.url()
    assert argilla_stack.down() == ["worker", "server", "redis", "osmem"]
    argilla_stack.up()
    assert argilla_stack.url() == url  # same ports: existing connections keep working
    ds_id = conn.dataset_id("restart")
    pending = {r["external_id"] for r in conn.annotator_queue(ds_id, keys["sa"], "pending", "sa")}
    assert pending == {it.id for it in items[1:]}  # osmem starts empty: the queue comes from the reindex
    assert len(curation.pull(conn, "restart").annotations) == 1
