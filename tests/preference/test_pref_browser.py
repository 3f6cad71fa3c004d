"""A rater in a real browser (tests/preference/browser_rater.py: headless Debian Chromium through Debian's
chromium-driver) against the session's local Argilla stack.

Each rater signs in with the password `push` handed over in its 0600 credentials file, sees one
dataset, and in it exactly the records assigned to them (count and server ids read from the DOM);
one rater ranks a pair and submits, and `semisynth preference report` counts that response.
Under CI=true a missing browser, driver or selenium is a failure, not a skip."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import browser_rater
import pytest
from browser_rater import Rater, need_browser

from semisynth.cli import main
from semisynth.preference import curation

pytestmark = [pytest.mark.argilla, pytest.mark.browser]


def test_raters_see_exactly_their_queue_in_the_ui_and_a_submitted_ranking_is_reported(
        argilla_stack, conn, make_items, tmp_path, capsys):
    need_browser()
    from semisynth.preference import curation

    items = make_items(7, prefix="browser")
    gold = [curation.Item(f"br-gold-{i}", "preference", dict(g.fields), g.language, g.origin,
                          {**g.payload, "gold_id": f"br-gold-{i}"}, gold="best:response_1")
            for i, g in enumerate(make_items(2, prefix="browser-gold"))]
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(it.to_dict()) + "\n" for it in items))
    (tmp_path / "gold.jsonl").write_text("".join(json.dumps(g.to_dict()) + "\n" for g in gold))
    creds_file = tmp_path / "handover" / "raters.json"
    raters = ["br-ann", "br-bea", "br-cid"]
    base = ["--state-dir", str(argilla_stack.state_dir), "--dataset", "browser"]
    assert main(["preference", "push", *base, "--kind", "preference", "--input", str(tmp_path / "items.jsonl"),
                 "--gold", str(tmp_path / "gold.jsonl"), "--raters", ",".join(raters), "-k", "2",
                 "--credentials-out", str(creds_file)]) == 0
    printed = capsys.readouterr()
    summary = json.loads(printed.out.strip().splitlines()[-1])
    assert summary["credentials_file"] == str(creds_file)
    assert stat.S_IMODE(creds_file.stat().st_mode) == 0o600
    handed = json.loads(creds_file.read_text())
    passwords = {r["username"]: r["password"] for r in handed["raters"]}
    assert set(passwords) == set(raters) and handed["url"] == conn.url
    assert not any(p in printed.out + printed.err for p in passwords.values())  # handed over in the file only

    pulled = curation.pull(conn, "browser")
    assigned = {r: {pulled.records[i][r] for i in pulled.items if r in pulled.records[i]} for r in raters}
    assert sum(map(len, assigned.values())) == 2 * 9  # k=2 copies of 7 items + 2 gold
    everyone = set().union(*assigned.values())
    shots = tmp_path / "shots"
    shots.mkdir()
    seen: dict[str, list[str]] = {}
    submitted = None
    for r in raters:
        browser = Rater(conn.url, r, passwords[r], shots)
        try:
            links = browser.datasets()
            assert len(links) == 1  # the rater's own copy, nothing else
            seen[r] = browser.queue(links[0])
            if r == raters[0]:
                submitted = browser.rank_and_submit(links[0], ["response_2", "response_1"])
        finally:
            browser.close()
        assert len(seen[r]) == len(set(seen[r])) == len(assigned[r])  # count
        assert set(seen[r]) == assigned[r]  # and ids: exactly the assigned records
        assert not set(seen[r]) & (everyone - assigned[r])  # 0 records assigned to others
    print(json.dumps({"records_seen": {r: len(v) for r, v in seen.items()}}))

    out = tmp_path / "rep"
    assert main(["preference", "report", *base, "--out", str(out)]) == 0
    rep = json.loads((out / "report.json").read_text())
    assert rep["responses"] == 1 and rep["raters"] == [raters[0]]
    item_id = next(i for i, recs in pulled.records.items() if recs.get(raters[0]) == submitted)
    ann = curation.pull(conn, "browser").annotations
    assert [(a.item_id, a.user, a.values["verdict"]) for a in ann] == [(item_id, raters[0], "ranked")]
    assert [v["value"] for v in sorted(ann[0].values["ranking"], key=lambda v: v["rank"])] == \
        ["response_2", "response_1"]


def test_a_missing_browser_fails_under_ci_and_skips_only_outside_it(monkeypatch):
    monkeypatch.setattr(browser_rater, "DRIVER", Path("/nonexistent/chromedriver"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="chromium-driver"):
        need_browser()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        need_browser()


def test_raters_see_the_literal_text_and_the_expert_sees_why_and_what_the_raters_said(
        argilla_stack, conn, make_items, tmp_path, capsys):
    """A response that is Markdown or HTML is shown as the characters the export holds (no blockquote, no
    image, no sandboxed page); the expert's record says why it was escalated and what each rater answered."""
    need_browser()
    from selenium.webdriver.common.by import By

    from semisynth.preference import curation

    it = make_items(1, prefix="literal")[0]
    quote = "> Sure! Here is **the plan**:\n- step one"
    html_text = '<b>bold</b> and <img src="x" onerror="window.__pwned = 1"> done'
    d = it.to_dict()
    d["fields"] |= {"response_1": quote, "response_2": html_text}
    d["payload"]["candidates"][0]["text"], d["payload"]["candidates"][1]["text"] = quote, html_text
    (tmp_path / "items.jsonl").write_text(json.dumps(d) + "\n")
    creds, xcreds = tmp_path / "raters.json", tmp_path / "experts.json"
    base = ["--state-dir", str(argilla_stack.state_dir), "--dataset", "literal"]
    assert main(["preference", "push", *base, "--kind", "preference", "--input", str(tmp_path / "items.jsonl"),
                 "--raters", "lt-ann,lt-bob", "-k", "2", "--credentials-out", str(creds)]) == 0
    passwords = {r["username"]: r["password"] for r in json.loads(creds.read_text())["raters"]}
    shots = tmp_path / "shots"
    shots.mkdir()
    browser = Rater(conn.url, "lt-ann", passwords["lt-ann"], shots)
    try:
        browser.open(browser.datasets()[0])
        r1, r2 = browser.field("response_1"), browser.field("response_2")
        browser.d.save_screenshot(str(shots / "literal.png"))
        for el in (r1, r2):  # nothing rendered: no quote, list, bold, image or sandboxed page
            assert not el.find_elements(By.CSS_SELECTOR, "blockquote, ul, li, strong, b, img, iframe"), \
                el.get_attribute("innerHTML")
        assert "> Sure! Here is **the plan**:" in r1.text and "- step one" in r1.text
        assert r1.text.index("- step one") > r1.text.index("**the plan**:\n")  # the line break is kept
        assert r2.text.strip().endswith(html_text)
        assert browser.d.execute_script("return window.__pwned === undefined")
    finally:
        browser.close()

    pulled = curation.pull(conn, "literal")
    keys = conn.ensure_users(["lt-ann", "lt-bob"])
    conn.submit(pulled.records[it.id]["lt-ann"], keys["lt-ann"], {
        "verdict": "ranked", "confidence": 4, "rationale": "the first one answers",
        "ranking": [{"value": "response_1", "rank": 1}, {"value": "response_2", "rank": 2}]})
    conn.submit(pulled.records[it.id]["lt-bob"], keys["lt-bob"], {"verdict": "tie", "confidence": 3})
    assert main(["preference", "escalate", *base, "--experts", "lt-exp", "--credentials-out", str(xcreds)]) == 0
    expert = Rater(conn.url, "lt-exp", json.loads(xcreds.read_text())["raters"][0]["password"], shots)
    try:
        links = expert.datasets()
        assert len(links) == 1
        expert.open(links[0])
        why = expert.field("Why this came to you").text
        expert.d.save_screenshot(str(shots / "expert.png"))
        assert "Escalated because: the raters disagree" in why
        assert "lt-ann: best:response_1; ranking: response_1=1, response_2=2; confidence 4/5; " \
               "why: the first one answers" in why
        assert "lt-bob: tie; confidence 3/5" in why
        assert "> Sure! Here is **the plan**:" in expert.field("response_1").text  # literal for the expert too
    finally:
        expert.close()


def test_a_submit_while_the_server_is_down_is_announced_and_a_restart_keeps_the_rater_signed_in(
        argilla_stack, conn, make_items, tmp_path, capsys):
    """Argilla's UI moves on after a failed save as if it had worked; the rater must be told, the record
    must stay pending, and the server coming back must not sign the rater out."""
    need_browser()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    items = make_items(2, prefix="offline")
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(it.to_dict()) + "\n" for it in items))
    creds = tmp_path / "raters.json"
    assert main(["preference", "push", "--state-dir", str(argilla_stack.state_dir), "--dataset", "offline",
                 "--kind", "preference", "--input", str(tmp_path / "items.jsonl"), "--raters", "off-ann", "-k", "1",
                 "--credentials-out", str(creds)]) == 0
    shots = tmp_path / "shots"
    shots.mkdir()
    browser = Rater(conn.url, "off-ann", json.loads(creds.read_text())["raters"][0]["password"], shots)
    try:
        link = browser.datasets()[0]
        browser.open(link)
        assert browser.total() == 2
        for _ in range(3):  # the form hydrates after the record shows: a too-early click is lost
            browser.wait("label[title='tie']").click()
            submit = browser.d.find_elements(By.CSS_SELECTOR, "button.button--submit:not([disabled])")
            if submit:
                break
            time.sleep(0.5)
        argilla_stack.kill("server")
        try:
            submit[0].click()
            banner = WebDriverWait(browser.d, 20).until(lambda d: d.find_elements(By.ID, "semisynth-unsaved"))[0]
            browser.d.save_screenshot(str(shots / "unsaved.png"))
            assert "NOT saved" in banner.text and "Pending" in banner.text
        finally:
            argilla_stack.start_server()
            argilla_stack._wait_healthy(120)
        assert curation.pull(conn, "offline").annotations == []  # nothing reached the server ...
        browser.open(link)  # ... the record is still pending, and the rater is still signed in
        assert "/sign-in" not in browser.d.current_url and browser.total() == 2
    finally:
        browser.close()


def test_both_responses_at_rank_1_in_the_ui_export_as_a_tie_not_a_pair(argilla_stack, conn, make_items, tmp_path,
                                                                      capsys):
    """The UI lets a rater choose "ranked" and put both responses at rank 1; that is a tie, not a preference
    for the response stored first (it was exported as a DPO pair with agreement 1.0)."""
    need_browser()
    items = make_items(2, prefix="uitie")  # a second record for the UI to move on to after the submit
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(it.to_dict()) + "\n" for it in items))
    creds = tmp_path / "raters.json"
    base = ["--state-dir", str(argilla_stack.state_dir), "--dataset", "uitie"]
    assert main(["preference", "push", *base, "--kind", "preference", "--input", str(tmp_path / "items.jsonl"),
                 "--raters", "ut-ann", "-k", "1", "--credentials-out", str(creds)]) == 0
    shots = tmp_path / "shots"
    shots.mkdir()
    browser = Rater(conn.url, "ut-ann", json.loads(creds.read_text())["raters"][0]["password"], shots)
    try:
        browser.rank_and_submit(browser.datasets()[0], ["response_2", "response_1"], ranks=[1, 1])
    finally:
        browser.close()
    ann = curation.pull(conn, "uitie").annotations
    assert [sorted((v["value"], v["rank"]) for v in a.values["ranking"]) for a in ann] == \
        [[("response_1", 1), ("response_2", 1)]]  # what the UI stored
    cfg = tmp_path / "one.yaml"
    cfg.write_text("policy:\n  min_raters: 1\n")
    assert main(["preference", "export", *base, "--config", str(cfg), "--format", "dpo",
                 "--out", str(tmp_path / "ex")]) == 0
    manifest = json.loads((tmp_path / "ex" / "manifest_dpo.json").read_text())
    assert manifest["rows"] == 0 and manifest["excluded"] == {"tie": 1, "unresolved": 1}
