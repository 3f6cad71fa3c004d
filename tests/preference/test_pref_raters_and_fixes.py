"""Through the CLI on the session stack: raters and their one-time credentials, refused pushes that
leave nothing, exports that count malformed items and partial answers instead of crashing, and an
escalation that never re-sends what the expert has (or already holds)."""

from __future__ import annotations

import json
import stat

import httpx
import pytest

from semisynth.cli import main
from semisynth.preference import curation
from semisynth.preference.simulator import RaterSimulator, SimulatedRater

pytestmark = pytest.mark.argilla


def _login(url: str, user: str, password: str) -> int:
    return httpx.post(f"{url}/api/v1/token", data={"username": user, "password": password}).status_code


def _last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_raters_add_list_reset_hand_credentials_over_once(argilla_stack, conn, tmp_path, capsys):
    sd = ["--state-dir", str(argilla_stack.state_dir)]
    out_file = tmp_path / "creds.json"
    assert main(["preference", "raters", "add", "rt-ana", "rt-ben", *sd, "--credentials-out", str(out_file)]) == 0
    res = _last_json(capsys)
    assert res["created"] == ["rt-ana", "rt-ben"] and res["credentials_file"] == str(out_file)
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    creds = {r["username"]: r["password"] for r in json.loads(out_file.read_text())["raters"]}
    assert all(p not in json.dumps(res) for p in creds.values())  # never on stdout
    assert all(_login(conn.url, u, p) == 201 for u, p in creds.items())  # the rater can sign in
    assert res["workspaces"] == {"rt-ana": "semisynth--rt-ana", "rt-ben": "semisynth--rt-ben"}

    # default: a fresh 0600 file under the state dir; a second add changes nobody's password
    assert main(["preference", "raters", "add", "rt-ana", "rt-cat", *sd]) == 0
    res = _last_json(capsys)
    assert res["created"] == ["rt-cat"] and res["already_existed"] == ["rt-ana"]
    assert res["credentials_file"].startswith(str(argilla_stack.state_dir / "raters"))
    assert _login(conn.url, "rt-ana", creds["rt-ana"]) == 201

    # reset, printed once on request
    assert main(["preference", "raters", "reset", "rt-ana", *sd, "--print-credentials"]) == 0
    printed = capsys.readouterr().out
    new = next(line.split("password: ")[1] for line in printed.splitlines() if "rt-ana  password:" in line)
    assert _login(conn.url, "rt-ana", creds["rt-ana"]) == 401 and _login(conn.url, "rt-ana", new) == 201

    # refused before any change: an unknown name, a bad name, an existing credentials file
    assert main(["preference", "raters", "reset", "rt-ben", "nobody-here", *sd]) == 2
    assert "nobody-here" in capsys.readouterr().err
    assert _login(conn.url, "rt-ben", creds["rt-ben"]) == 201
    assert main(["preference", "raters", "add", "Bad Name", *sd]) == 2
    assert main(["preference", "raters", "add", "rt-dan", *sd, "--credentials-out", str(out_file)]) == 2
    assert "rt-dan" not in conn.users()

    assert main(["preference", "raters", "list", *sd]) == 0
    listed = capsys.readouterr().out
    assert all(f"{n}  (annotator, workspace semisynth--{n})" in listed for n in ("rt-ana", "rt-ben", "rt-cat"))


def test_push_refused_for_k_above_raters_or_bad_items_leaves_nothing(argilla_stack, conn, make_items, tmp_path,
                                                                    capsys):
    items = make_items(3, prefix="kref")
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(it.to_dict()) + "\n" for it in items))
    base = ["preference", "push", "--state-dir", str(argilla_stack.state_dir), "--dataset", "kref",
            "--kind", "preference", "--input", str(path)]
    assert main([*base, "--raters", "kr-a,kr-b", "-k", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "k=3" in err and "fix:" in err
    bad = items[1].to_dict()
    bad["payload"].pop("candidates")
    (tmp_path / "bad.jsonl").write_text(json.dumps(items[0].to_dict()) + "\n" + json.dumps(bad) + "\n")
    assert main([*base[:-1], str(tmp_path / "bad.jsonl"), "--raters", "kr-a,kr-b", "-k", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "item 2" in err and "candidates" in err
    # nothing anywhere: no dataset copy, no workspace, no user, no local push state
    assert conn.copies("kref") == {}
    assert not {"kr-a", "kr-b"} & set(conn.users())
    assert not any(w.endswith(("--kr-a", "--kr-b")) for w in conn.workspaces())
    assert not (argilla_stack.state_dir / "push" / "kref").exists()
    # the corrected push then builds the dataset with the overlap asked for
    assert main([*base, "--raters", "kr-a,kr-b", "-k", "2"]) == 0
    assert _last_json(capsys)["queues"] == {"kr-a": 3, "kr-b": 3}


def test_export_counts_items_without_candidates_and_empty_expert_rankings(argilla_stack, conn, make_items,
                                                                         tmp_path, capsys):
    """An item pushed without payload.candidates (an older push accepted it) is a counted exclusion, never a
    crash; an expert "ranked" answer with the ranking left empty (the UI allows it) is not an answer: the
    item stays pending (counted) and goes back to the expert; a second escalate neither re-sends nor
    re-counts what the expert holds or answered."""
    items = make_items(4, prefix="xf")
    low = make_items(2, prefix="xf-sw", language="sw")
    broken = items[0]
    broken = curation.Item(broken.id, broken.kind, broken.fields, broken.language, broken.origin,
                           {k: v for k, v in broken.payload.items() if k != "candidates"})
    every = [broken, *items[1:], *low]
    curation.push(conn, "xfix", curation.dataset_settings("preference", 2), every,
                  curation.assign(every, ["xf-a", "xf-b"], 2), None)
    truth = {it.id: "best:response_1" for it in every}
    RaterSimulator(conn, "xfix", [SimulatedRater("xf-a", 0.0), SimulatedRater("xf-b", 0.0)], truth).run()
    cfg = tmp_path / "policy.yaml"
    cfg.write_text("policy:\n  low_resource_languages: [sw]\n")
    base = ["--state-dir", str(argilla_stack.state_dir), "--dataset", "xfix", "--config", str(cfg)]

    assert main(["preference", "escalate", *base, "--experts", "xf-exp"]) == 0
    assert _last_json(capsys) | {"credentials_file": None} == {
        "escalated": 2, "awaiting_expert": 0, "expert_answered": 0, "resent_incomplete": 0,
        "dataset": "xfix-escalation", "credentials_file": None}
    assert main(["preference", "escalate", *base, "--experts", "xf-exp"]) == 0  # nothing answered yet
    assert _last_json(capsys)["escalated"] == 0 and conn.copies("xfix-escalation").keys() == {"xf-exp"}

    esc = curation.pull(conn, "xfix-escalation")
    key = conn.ensure_users(["xf-exp"])["xf-exp"]
    first, second = (low[0].id, low[1].id)
    conn.submit(esc.records[first]["xf-exp"], key, {"verdict": "ranked", "confidence": 5})  # ranking left empty
    conn.submit(esc.records[second]["xf-exp"], key, {"verdict": "ranked", "confidence": 5, "ranking": [
        {"value": "response_1", "rank": 1}, {"value": "response_2", "rank": 2}]})

    assert main(["preference", "escalate", *base, "--experts", "xf-exp"]) == 0
    assert _last_json(capsys) == {"escalated": 0, "awaiting_expert": 1, "expert_answered": 1,
                                  "resent_incomplete": 1, "dataset": "xfix-escalation"}
    assert len(curation.pull(conn, "xfix-escalation").items) == 2  # nothing re-sent

    assert main(["preference", "export", *base, "--format", "dpo", "--out", str(tmp_path / "ex")]) == 0
    manifest = json.loads((tmp_path / "ex" / "manifest_dpo.json").read_text())
    assert manifest["excluded"] == {"malformed_item_candidates": 1, "escalated_pending": 1}
    assert manifest["rows"] == 4 and manifest["items_total"] == 6  # 3 consensus + 1 expert; 2 counted out
    assert manifest["items_exported"] + sum(manifest["excluded"].values()) == manifest["items_total"]
