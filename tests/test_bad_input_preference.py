"""`semisynth preference candidates|push|report|export|escalate` and `argilla`: bad input refused before any
engine starts or any server is contacted (no Argilla stack runs here: a case that got as far as connecting
would fail on "no Argilla configured" instead of naming its own mistake). See bad_input_harness."""

from __future__ import annotations

import copy
import json

import pytest
from bad_input_harness import Case, Env, assert_refused, case, params

ITEM = {"id": "4e89e3a4accfa4cc", "kind": "preference",
        "fields": {"prompt": "how do I change my flight?", "response_1": "a", "response_2": "b"},
        "language": "en", "origin": "real",
        "payload": {"prompt_id": "374ad2f02e1e7486",
                    "prompt_messages": [{"role": "user", "content": "how do I change my flight?"}],
                    "candidates": [{"text": "a"}, {"text": "b"}], "lineage": {}}, "gold": None}


def items(e: Env, name: str = "items.jsonl", edit=None) -> str:
    it = copy.deepcopy(ITEM)
    if edit:
        edit(it)
    return e.jsonl(name, [it])


def one_candidate(it: dict) -> None:
    it["fields"].pop("response_2")
    it["payload"]["candidates"] = [{"text": "a"}]


def push(e: Env, *extra: str, input: str | None = None, raters: str = "ann,bob", k: str = "2") -> list[str]:
    return ["preference", "push", "--dataset", "d1", "--kind", "preference", "--input", input or items(e),
            "--raters", raters, "-k", k, *extra]


def cand(e: Env, *extra: str, arms: tuple[str, ...] = ("cold=no-model@0.3", "hot=no-model@1.1"),
         out: str | None = None) -> list[str]:
    argv = ["preference", "candidates", "--prompts", e.seeds(), "--out", e.path("items.jsonl") if out is None else out]
    for a in arms:
        argv += ["--arm", a]
    return [*argv, *extra]


def rep(e: Env, cmd: str = "report", *extra: str) -> list[str]:
    return ["preference", cmd, "--dataset", "d1", *extra]


PUSH: list[Case] = [
    case("no-raters", lambda e: ["preference", "push", "--dataset", "d1", "--kind", "preference", "--input", items(e)],
         "raters", "--raters"),
    case("k-zero", lambda e: push(e, k="0"), "field 'k'", ">= 1"),
    case("k-above-raters", lambda e: push(e, k="3"), "k", "only 2 raters"),
    case("k-not-int", lambda e: push(e, k="two"), "-k", "invalid int value"),
    case("kind-choice", lambda e: ["preference", "push", "--kind", "ranking"], "--kind", "invalid choice"),
    case("no-dataset", lambda e: ["preference", "push", "--kind", "preference", "--input", items(e), "--raters", "a"],
         "field 'dataset'", "add this field"),
    case("input-missing", lambda e: push(e, input=e.path("none.jsonl")), "none.jsonl", "not found"),
    case("input-broken-jsonl", lambda e: push(e, input=e.write("b.jsonl", "{oops\n")), "b.jsonl:1", "broken JSON"),
    case("input-not-items", lambda e: push(e, input=e.jsonl("r.jsonl", [{"text": "hi"}])), "r.jsonl:1",
         "not a curation item"),
    case("item-one-candidate", lambda e: push(e, input=items(e, "one.jsonl", one_candidate)), "one.jsonl",
         "candidate"),
    case("item-wrong-kind", lambda e: push(e, input=items(e, "mod.jsonl", lambda it: it.update(kind="moderation"))),
         "mod.jsonl", "moderation"),
    case("gold-missing", lambda e: push(e, "--gold", e.path("gold.jsonl")), "gold.jsonl", "not found"),
    case("moderation-unknown-taxonomy", lambda e: ["preference", "push", "--dataset", "d1", "--kind", "moderation",
                                                   "--input", e.seeds(), "--raters", "a", "-k", "1", "--taxonomy",
                                                   "nope"], "nope"),
    case("review-seeds-missing", lambda e: ["preference", "push", "--dataset", "d1", "--kind", "review", "--input",
                                            e.seeds(), "--seeds", e.path("s.jsonl"), "--raters", "a", "-k", "1"],
         "s.jsonl", "not found"),
    case("review-rejects-missing", lambda e: ["preference", "push", "--dataset", "d1", "--kind", "review", "--input",
                                              e.seeds(), "--rejects", e.path("run"), "--raters", "a", "-k", "1"],
         "rejects", "no rejects ledger"),
    case("rejects-on-a-preference-push", lambda e: push(e, "--rejects", e.seeds()), "field 'rejects'", "--kind review"),
    case("rejects-sample-zero", lambda e: ["preference", "push", "--dataset", "d1", "--kind", "review", "--input",
                                           e.seeds(), "--rejects", e.seeds(), "--rejects-sample", "0", "--raters", "a",
                                           "-k", "1"], "rejects_sample", ">= 1"),
    case("report-monitor-report-missing", lambda e: ["preference", "report", "--dataset", "d1", "--out", e.path("o"),
                                                     "--monitor-report", e.path("nope.json")],
         "nope.json", "not found"),
    case("report-monitor-report-not-a-report", lambda e: ["preference", "report", "--dataset", "d1", "--out",
                                                          e.path("o"), "--monitor-report", e.seeds()],
         "monitor_report", "fingerprint"),
    case("config-nested-unknown-key", lambda e: push(e, "--config", e.yaml("p.yaml", "argilla: {ur: x}\n")),
         "argilla.ur", "keys of 'argilla': url"),
    case("config-batch-size", lambda e: push(e, "--config", e.yaml("p.yaml", "batch_size: 5000\n")), "batch_size",
         "<= 1000"),
    case("url-without-key", lambda e: push(e, "--url", "http://127.0.0.1:9"), "$ARGILLA_API_KEY"),
]

CANDIDATES: list[Case] = [
    case("one-arm", lambda e: cand(e, arms=("cold=no-model@0.3",)), "field 'arms'", "at least 2"),
    case("arm-malformed", lambda e: cand(e, arms=("cold", "hot=m")), "--arm 'cold'", "NAME=MODEL"),
    case("arm-temperature-word", lambda e: cand(e, arms=("cold=m@icy", "hot=m")), "--arm 'cold=m@icy'",
         "not a number"),
    case("arm-temperature-99", lambda e: cand(e, arms=("cold=no-model@99", "hot=no-model")), "temperature", "<= 2"),
    case("arm-temperature-negative", lambda e: cand(e, arms=("cold=m@-1", "hot=m")), "arms.0.temperature", ">= 0"),
    case("arm-names-repeat", lambda e: cand(e, arms=("a=no-model", "a=no-model@1")), "arms", "repeat"),
    case("prompts-missing", lambda e: ["preference", "candidates", "--prompts", e.path("p.jsonl"), "--out",
                                       e.path("o.jsonl"), "--arm", "a=m", "--arm", "b=m"], "p.jsonl", "not found"),
    case("prompts-text-number", lambda e: ["preference", "candidates", "--prompts", e.jsonl("n.jsonl", [{"text": 9}]),
                                           "--out", e.path("o.jsonl"), "--arm", "a=m", "--arm", "b=m"],
         "n.jsonl:1", "'text' is a number"),
    case("prompts-flag-missing", lambda e: ["preference", "candidates", "--out", e.path("o.jsonl"), "--arm", "a=m",
                                            "--arm", "b=m"], "field 'prompts'", "add this field"),
    case("limit-zero", lambda e: cand(e, "--limit", "0"), "field 'limit'", ">= 1"),
    case("max-tokens-zero", lambda e: cand(e, "--max-tokens", "-5"), "max_tokens", ">= 1"),
    case("config-nested-unknown-key", lambda e: ["preference", "candidates", "--config", e.yaml("c.yaml", (
        f"prompts: {e.seeds()}\nout: o.jsonl\narms:\n  - {{name: a, backend: {{model: m}}, temprature: 1}}\n"
        "  - {name: b, backend: {model: m}}\n"))], "arms.0.temprature", "keys of 'arms.0': max_tokens, temperature, top_p, name, backend"),
    case("model-missing", lambda e: cand(e), "no-model"),
    case("out-is-a-folder", lambda e: cand(e, out=e.dir("outdir")), "outdir", "folder"),
    case("out-parent-is-a-file", lambda e: cand(e, out=e.write("f", "x") + "/items.jsonl"), "is a file"),
    case("out-empty-string", lambda e: cand(e, out=""), "out", "empty"),
]

PULL: list[Case] = [  # report / export / escalate read the dataset back from Argilla
    case("report-no-dataset", lambda e: ["preference", "report", "--out", e.path("r")], "field 'dataset'",
         "add this field"),
    case("report-no-out", lambda e: rep(e), "field 'out'", "add this field"),
    case("report-no-server", lambda e: rep(e, "report", "--out", e.path("r")), "no Argilla configured",
         "argilla up"),
    case("report-out-is-a-file", lambda e: rep(e, "report", "--out", e.write("taken", "x")), "taken", "is a file"),
    case("report-policy-nested-unknown", lambda e: rep(e, "report", "--out", "r", "--config", e.yaml(
        "r.yaml", "policy: {max_disagrement: 0.2}\n")), "policy.max_disagrement", "keys of 'policy'"),
    case("report-policy-range", lambda e: rep(e, "report", "--out", "r", "--config", e.yaml(
        "r.yaml", "policy: {min_confidence: 9}\n")), "policy.min_confidence", "<= 5"),
    case("report-bootstrap-negative", lambda e: rep(e, "report", "--out", "r", "--config", e.yaml(
        "r.yaml", "bootstrap: -1\n")), "bootstrap", ">= 0"),
    case("export-format-choice", lambda e: rep(e, "export", "--format", "sft", "--out", "x"), "--format",
         "invalid choice"),
    case("export-no-format", lambda e: rep(e, "export", "--out", e.path("x")), "field 'format'", "add this field"),
    case("export-out-empty", lambda e: rep(e, "export", "--format", "dpo", "--out", ""), "out", "empty"),
    case("export-url-without-key", lambda e: rep(e, "export", "--format", "dpo", "--out", e.path("x"), "--url",
                                                 "http://127.0.0.1:9"), "$ARGILLA_API_KEY"),
    case("escalate-no-experts", lambda e: rep(e, "escalate"), "field 'experts'", "add this field"),
    case("escalate-no-server", lambda e: rep(e, "escalate", "--experts", "eve"), "no Argilla configured"),
    case("argilla-action-choice", lambda e: ["argilla", "restart"], "action", "invalid choice"),
    case("preference-no-action", lambda e: ["preference"], "semisynth preference", "required"),
]


@pytest.mark.parametrize("c", params(PUSH))
def test_preference_push_refuses_bad_input_before_connecting(c: Case, tmp_path, monkeypatch, capsys):
    assert_refused(c, tmp_path, monkeypatch, capsys)


@pytest.mark.parametrize("c", params(CANDIDATES))
def test_preference_candidates_refuses_bad_input_before_any_engine(c: Case, tmp_path, monkeypatch, capsys):
    assert_refused(c, tmp_path, monkeypatch, capsys)


@pytest.mark.parametrize("c", params(PULL))
def test_preference_report_export_escalate_refuse_bad_input(c: Case, tmp_path, monkeypatch, capsys):
    assert_refused(c, tmp_path, monkeypatch, capsys)


def test_item_fixture_is_what_candidates_writes():
    """ITEM above is a real preference item (kept literal so the cases stay readable)."""
    from semisynth.preference.curation import Item, preference_item
    from semisynth.records import Record

    made = preference_item(Record.create("real", text="how do I change my flight?", language="en"),
                           [{"text": "a"}, {"text": "b"}])
    assert Item.from_dict(json.loads(json.dumps(ITEM))).fields == made.fields
