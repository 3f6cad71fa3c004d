"""The raters' side of issue 22 through the CLI on the session stack (real argilla-server): a tie inside a
ranking, hand-written items exported conversationally, the gold answer format, incomplete rankings from
raters and experts, a push cut off by `argilla down`, and what `raters reset` and a restart do to sign-ins."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import types

import httpx
import pytest

from semisynth.cli import main
from semisynth.preference import curation
from semisynth.preference.simulator import RaterSimulator, SimulatedRater

pytestmark = pytest.mark.argilla


def _write(path, dicts) -> None:
    path.write_text("".join(json.dumps(d) + "\n" for d in dicts))


def _last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def _push(stack, dataset: str, path, raters: list[str], k: int = 2, *extra: str) -> int:
    return main(["preference", "push", "--state-dir", str(stack.state_dir), "--dataset", dataset, "--kind",
                 "preference", "--input", str(path), "--raters", ",".join(raters), "-k", str(k), *extra])


def _docs_examples() -> tuple[dict, dict, dict]:
    """docs/preference.md's hand-written preference item (its json block), moderation record and moderation gold
    line (the comments of the push example), parsed from the page as a reader would copy them."""
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "preference.md").read_text(encoding="utf-8")
    section = page[page.index("**Hand-written items, gold items, moderation input.**"):]
    item = json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])
    bash = section.split("```bash\n", 1)[1].split("```", 1)[0]
    record = json.loads(bash.split("one per line: ", 1)[1].split("\n", 1)[0])
    gold_lines = bash.split("# gold line: ", 1)[1].split("\nsemisynth", 1)[0]
    gold = json.loads(" ".join(line.lstrip("# ") for line in gold_lines.splitlines()))
    return item, record, gold


def _ranked(*order: tuple[str, int]) -> dict:
    return {"verdict": "ranked", "confidence": 4, "ranking": [{"value": v, "rank": r} for v, r in order]}


def test_a_tie_inside_a_ranking_is_a_tie_and_never_a_dpo_pair(argilla_stack, conn, make_items, tmp_path, capsys):
    items = make_items(2, prefix="rtie")
    _write(tmp_path / "items.jsonl", [it.to_dict() for it in items])
    assert _push(argilla_stack, "rtie", tmp_path / "items.jsonl", ["rt-a", "rt-b"]) == 0
    pulled = curation.pull(conn, "rtie")
    keys = conn.ensure_users(["rt-a", "rt-b"])
    for r in ("rt-a", "rt-b"):  # both answers at rank 1, the second stored first; then a real preference
        conn.submit(pulled.records[items[0].id][r], keys[r], _ranked(("response_2", 1), ("response_1", 1)))
        conn.submit(pulled.records[items[1].id][r], keys[r], _ranked(("response_1", 1), ("response_2", 2)))
    base = ["--state-dir", str(argilla_stack.state_dir), "--dataset", "rtie"]
    assert main(["preference", "export", *base, "--format", "dpo", "--out", str(tmp_path / "ex")]) == 0
    manifest = json.loads((tmp_path / "ex" / "manifest_dpo.json").read_text())
    assert manifest["rows"] == 1 and manifest["excluded"] == {"tie": 1}
    import datasets

    assert datasets.load_from_disk(str(tmp_path / "ex" / "dpo"))["id"] == [items[1].id]
    assert main(["preference", "report", *base, "--out", str(tmp_path / "rep")]) == 0
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert sorted(rep["overall"]["categories"]) == ["best:response_1", "tie"]


def test_dpo_conversational_exports_hand_written_items_without_prompt_messages(argilla_stack, conn, make_items,
                                                                             tmp_path, capsys):
    from trl.data_utils import is_conversational

    items = make_items(3, prefix="conv")
    rows = [it.to_dict() for it in items]
    for d in rows[:2]:  # hand-written: no payload.prompt_messages
        d["payload"].pop("prompt_messages")
    _write(tmp_path / "items.jsonl", rows)
    assert _push(argilla_stack, "conv", tmp_path / "items.jsonl", ["cv-a", "cv-b"]) == 0
    truth = {it.id: "best:response_1" for it in items}
    RaterSimulator(conn, "conv", [SimulatedRater("cv-a", 0.0), SimulatedRater("cv-b", 0.0)], truth).run()
    out = tmp_path / "ex"
    assert main(["preference", "export", "--state-dir", str(argilla_stack.state_dir), "--dataset", "conv",
                 "--format", "dpo_conversational", "--out", str(out)]) == 0
    import datasets

    ds = datasets.load_from_disk(str(out / "dpo_conversational"))
    assert len(ds) == 3 and all(is_conversational(r) for r in ds)
    by_id = {r["id"]: r for r in ds}
    for it in items:  # from the stored prompt when the item has no turns; the turns themselves otherwise
        assert by_id[it.id]["prompt"] == [{"role": "user", "content": it.fields["prompt"]}]
        assert by_id[it.id]["chosen"] == [{"role": "assistant", "content": it.fields["response_1"]}]

    bad = json.loads(json.dumps(rows[2]))
    bad["payload"]["prompt_messages"] = "how do I change my flight?"  # not chat turns
    _write(tmp_path / "bad.jsonl", [rows[0], bad])
    capsys.readouterr()
    assert _push(argilla_stack, "conv-bad", tmp_path / "bad.jsonl", ["cv-a", "cv-b"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "item 2" in err and "prompt_messages" in err and "role" in err
    assert conn.copies("conv-bad") == {}


@pytest.mark.parametrize("gold,allowed", [
    ("response_1", "best:response_1, best:response_2, tie, both_bad"),
    ("best:response_3", "best:response_1, best:response_2, tie, both_bad"),
    (None, "best:response_1, best:response_2, tie, both_bad"),
])
def test_a_gold_answer_outside_the_answer_format_is_refused_at_push(argilla_stack, conn, make_items, tmp_path,
                                                                   capsys, gold, allowed):
    items = make_items(2, prefix="gfmt")
    g = make_items(1, prefix="gfmt-gold")[0].to_dict() | {"gold": gold}
    _write(tmp_path / "items.jsonl", [it.to_dict() for it in items])
    _write(tmp_path / "gold.jsonl", [g])
    assert _push(argilla_stack, "gfmt", tmp_path / "items.jsonl", ["gf-a", "gf-b"], 2,
                 "--gold", str(tmp_path / "gold.jsonl")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "gold.jsonl" in err and "item 1" in err and allowed in err
    assert conn.copies("gfmt") == {} and not {"gf-a", "gf-b"} & set(conn.users())


def test_moderation_and_review_gold_answers_are_checked_too(argilla_stack, tmp_path, capsys):
    from semisynth.preference.curation import Item

    mod = Item("mg1", "moderation", {"text": "buy cheap pills"}, "en", "real", {"taxonomy": "trust_safety"},
               gold=["spam", "not_a_label"])
    _write(tmp_path / "recs.jsonl", [{"text": "hello", "language": "en"}])
    _write(tmp_path / "gold.jsonl", [mod.to_dict()])
    assert main(["preference", "push", "--state-dir", str(argilla_stack.state_dir), "--dataset", "mgold",
                 "--kind", "moderation", "--input", str(tmp_path / "recs.jsonl"), "--gold", str(tmp_path / "gold.jsonl"),
                 "--raters", "mg-a", "-k", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not_a_label" in err and "spam" in err
    # the docs' moderation input and gold lines, as written there, are accepted
    item, record, gold = _docs_examples()
    (tmp_path / "records.jsonl").write_text(json.dumps(record) + "\n")
    (tmp_path / "mod_gold.jsonl").write_text(json.dumps(gold) + "\n")
    assert main(["preference", "push", "--state-dir", str(argilla_stack.state_dir), "--dataset", "mgold",
                 "--kind", "moderation", "--input", str(tmp_path / "records.jsonl"), "--gold",
                 str(tmp_path / "mod_gold.jsonl"), "--taxonomy", "trust_safety", "--raters", "mg-a", "-k", "1"]) == 0
    assert _last_json(capsys) | {"credentials_file": None} == {
        "dataset": "mgold", "items": 1, "gold": 1, "sent": 2, "skipped_batches": 0, "unassigned": 0,
        "queues": {"mg-a": 2}, "credentials_file": None}
    # the docs' hand-written preference item, and the same item as a gold item, push as written
    _write(tmp_path / "items.jsonl", [item])
    _write(tmp_path / "pgold.jsonl", [item | {"id": "flight-gold-1", "gold": "best:response_1"}])
    assert _push(argilla_stack, "docs-pref", tmp_path / "items.jsonl", ["mg-a"], 1,
                 "--gold", str(tmp_path / "pgold.jsonl")) == 0
    assert _last_json(capsys)["queues"] == {"mg-a": 2}
    rev = Item("rg1", "review", {"synthetic": "x", "seed": "y"}, "en", "paraphrase", {}, gold="accepted")
    _write(tmp_path / "rgold.jsonl", [rev.to_dict()])
    assert main(["preference", "push", "--state-dir", str(argilla_stack.state_dir), "--dataset", "rgold",
                 "--kind", "review", "--input", str(tmp_path / "recs.jsonl"), "--gold", str(tmp_path / "rgold.jsonl"),
                 "--raters", "rg-a", "-k", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'accepted'" in err and ", ".join(curation.REVIEW_DECISIONS) in err


def test_an_empty_ranking_from_a_rater_escalates_and_from_the_expert_is_sent_back(argilla_stack, conn, make_items,
                                                                                 tmp_path, capsys):
    items = make_items(3, prefix="empt")
    _write(tmp_path / "items.jsonl", [it.to_dict() for it in items])
    assert _push(argilla_stack, "empt", tmp_path / "items.jsonl", ["em-a", "em-b"]) == 0
    pulled = curation.pull(conn, "empt")
    keys = conn.ensure_users(["em-a", "em-b"])
    full = _ranked(("response_1", 1), ("response_2", 2))
    for it in items:
        conn.submit(pulled.records[it.id]["em-a"], keys["em-a"], full)
    conn.submit(pulled.records[items[0].id]["em-b"], keys["em-b"], {"verdict": "ranked", "confidence": 4})  # empty
    conn.submit(pulled.records[items[1].id]["em-b"], keys["em-b"], {"verdict": "ranked", "confidence": 4})  # empty
    conn.submit(pulled.records[items[2].id]["em-b"], keys["em-b"], full)
    base = ["--state-dir", str(argilla_stack.state_dir), "--dataset", "empt"]
    assert main(["preference", "report", *base, "--out", str(tmp_path / "rep")]) == 0
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert rep["resolutions"] == {"consensus": 1, "escalated": 2} and rep["escalation_reasons"] == {
        "incomplete_answer": 2}  # not "unresolved" without anyone told
    assert main(["preference", "escalate", *base, "--experts", "em-exp"]) == 0
    assert _last_json(capsys) | {"credentials_file": None} == {
        "escalated": 2, "awaiting_expert": 0, "expert_answered": 0, "resent_incomplete": 0,
        "dataset": "empt-escalation", "credentials_file": None}

    esc = curation.pull(conn, "empt-escalation")
    xkey = conn.ensure_users(["em-exp"])["em-exp"]
    conn.submit(esc.records[items[0].id]["em-exp"], xkey, {"verdict": "ranked", "confidence": 5})  # empty again
    conn.submit(esc.records[items[1].id]["em-exp"], xkey, _ranked(("response_2", 1), ("response_1", 2)))
    assert main(["preference", "escalate", *base, "--experts", "em-exp"]) == 0
    assert _last_json(capsys) == {"escalated": 0, "awaiting_expert": 1, "expert_answered": 1, "resent_incomplete": 1,
                                  "dataset": "empt-escalation"}
    pending = conn.annotator_queue(esc.datasets["em-exp"], xkey, "pending")
    assert [r["external_id"] for r in pending] == [items[0].id]  # back in the expert's queue, nothing else
    assert main(["preference", "export", *base, "--format", "dpo", "--out", str(tmp_path / "ex")]) == 0
    manifest = json.loads((tmp_path / "ex" / "manifest_dpo.json").read_text())
    assert manifest["rows"] == 2 and manifest["excluded"] == {"escalated_pending": 1}  # counted, not dropped
    conn.submit(pending[0]["id"], xkey, _ranked(("response_1", 1), ("response_2", 2)))
    assert main(["preference", "escalate", *base, "--experts", "em-exp"]) == 0
    assert _last_json(capsys)["expert_answered"] == 2


@pytest.mark.slow
def test_a_push_cut_off_by_argilla_down_is_one_line_saying_rerun_and_the_rerun_finishes(
        argilla_stack, conn, make_items, tmp_path, capsys, monkeypatch):
    from semisynth.preference import client

    items = make_items(300, prefix="down")
    _write(tmp_path / "items.jsonl", [it.to_dict() for it in items])
    # the retries give up at once once the stack is gone (their waits are not what is tested here): ours, and
    # the SDK's transport's connect retries under each of ours (httpcore backs off 0.5+1+2+4 s: 68 s of this test)
    import httpcore._sync.connection as httpcore_connection

    monkeypatch.setattr(client, "time", types.SimpleNamespace(sleep=lambda s: None))
    monkeypatch.setattr(httpcore_connection, "RETRIES_BACKOFF_FACTOR", 0.0)
    ledger = argilla_stack.state_dir / "push" / "pdown" / "ledger.txt"
    rc: list[int] = []
    t = threading.Thread(target=lambda: rc.append(_push(argilla_stack, "pdown", tmp_path / "items.jsonl",
                                                        ["pd-a", "pd-b"], 2, "--batch-size", "10")))
    t.start()
    while t.is_alive() and (not ledger.exists() or len(ledger.read_text().split()) < 3):
        threading.Event().wait(0.05)
    assert main(["argilla", "down", "--state-dir", str(argilla_stack.state_dir)]) == 0
    t.join(timeout=300)
    monkeypatch.undo()
    err = capsys.readouterr().err
    argilla_stack.up()  # before any assert: the later tests need the stack
    assert rc == [2]
    said = [line for line in err.splitlines() if line.strip() and not line.startswith("Sending records")]  # SDK bars
    assert len(said) == 1 and "Traceback" not in err
    assert "Argilla: stopped answering while pushing" in said[0] and "rerun the same command" in said[0]
    assert "semisynth argilla up" in said[0]
    assert _push(argilla_stack, "pdown", tmp_path / "items.jsonl", ["pd-a", "pd-b"], 2, "--batch-size", "10") == 0
    assert _last_json(capsys)["skipped_batches"] >= 3
    pulled = curation.pull(conn, "pdown")
    assert set(pulled.items) == {it.id for it in items} and sum(map(len, pulled.records.values())) == 600


def _token(url: str, user: str, password: str) -> str:
    r = httpx.post(f"{url}/api/v1/token", data={"username": user, "password": password})
    assert r.status_code == 201, r.text
    return r.json()["access_token"]


def _me(url: str, token: str | None = None, key: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {"X-Argilla-Api-Key": key}
    return httpx.get(f"{url}/api/v1/me", headers=headers).status_code


def test_raters_reset_invalidates_the_old_api_key_and_sign_ins(argilla_stack, conn, tmp_path, capsys):
    sd = ["--state-dir", str(argilla_stack.state_dir)]
    creds = tmp_path / "c.json"
    assert main(["preference", "raters", "add", "rs-ana", "rs-ben", *sd, "--credentials-out", str(creds)]) == 0
    pw = {r["username"]: r["password"] for r in json.loads(creds.read_text())["raters"]}
    users = conn.users()
    old_key, ben_key = users["rs-ana"]["api_key"], users["rs-ben"]["api_key"]
    old_token, ben_token = _token(conn.url, "rs-ana", pw["rs-ana"]), _token(conn.url, "rs-ben", pw["rs-ben"])
    assert _me(conn.url, token=old_token) == 200 and _me(conn.url, key=old_key) == 200
    assert main(["preference", "raters", "reset", "rs-ana", *sd, "--credentials-out", str(tmp_path / "n.json")]) == 0
    new = json.loads((tmp_path / "n.json").read_text())["raters"][0]["password"]
    assert _me(conn.url, token=old_token) == 401 and _me(conn.url, key=old_key) == 401  # both dead
    assert _me(conn.url, token=_token(conn.url, "rs-ana", new)) == 200
    assert conn.users()["rs-ana"]["api_key"] != old_key
    assert _me(conn.url, token=ben_token) == 200 and _me(conn.url, key=ben_key) == 200  # nobody else signed out


@pytest.mark.slow
def test_a_restart_keeps_raters_signed_in_and_up_puts_no_secret_on_a_command_line(argilla_stack, conn, tmp_path,
                                                                                  monkeypatch, capsys):
    from semisynth.preference import stack as stack_mod

    sd = ["--state-dir", str(argilla_stack.state_dir)]
    creds = tmp_path / "c.json"
    assert main(["preference", "raters", "add", "rr-ana", *sd, "--credentials-out", str(creds)]) == 0
    token = _token(conn.url, "rr-ana", json.loads(creds.read_text())["raters"][0]["password"])
    argv: list[list[str]] = []
    real_run, real_popen = subprocess.run, subprocess.Popen

    def run(cmd, *a, **kw):  # records every command line `up` starts, then runs it for real
        argv.append([str(x) for x in cmd])
        return real_run(cmd, *a, **kw)

    class Popen(real_popen):
        def __init__(self, cmd, *a, **kw):
            argv.append([str(x) for x in cmd])
            super().__init__(cmd, *a, **kw)

    monkeypatch.setattr(stack_mod.subprocess, "run", run)
    monkeypatch.setattr(stack_mod.subprocess, "Popen", Popen)
    assert main(["argilla", "down", *sd]) == 0
    assert main(["argilla", "up", *sd]) == 0
    monkeypatch.undo()
    owner = argilla_stack.credentials()
    assert argv and not [a for a in argv if owner["password"] in " ".join(a) or owner["api_key"] in " ".join(a)]
    assert _me(conn.url, token=token) == 200  # the session outlived the restart
    secret = argilla_stack.state_dir / "jwt_secret"
    assert oct(os.stat(secret).st_mode & 0o777) == "0o600" and len(secret.read_text().strip()) >= 32
    out = capsys.readouterr().out
    assert owner["password"] not in out and owner["api_key"] not in out


def test_a_dataset_made_with_markdown_fields_is_refused_in_one_line(argilla_stack, conn, make_items, tmp_path,
                                                                   capsys):
    """Datasets pushed before raters saw literal text render Markdown; a push into one is refused (one line,
    naming the markdown fields), not mixed with literal records."""
    import argilla as rg

    items = make_items(1, prefix="oldmd")
    old = curation.dataset_settings("preference", 2)
    old.fields["prompt"].use_markdown = True
    curation.push(conn, "oldmd", old, items, {items[0].id: ["om-a"]}, None)
    assert isinstance(old.fields["prompt"], rg.TextField)
    _write(tmp_path / "items.jsonl", [it.to_dict() for it in make_items(2, prefix="oldmd-new")])
    capsys.readouterr()
    assert _push(argilla_stack, "oldmd", tmp_path / "items.jsonl", ["om-a"], 1) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "markdown_fields: existing ['prompt'] vs wanted []" in err
    assert "push to a new --dataset name" in err
