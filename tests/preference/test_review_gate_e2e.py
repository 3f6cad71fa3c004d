"""Issue 22's done-when, through the real Argilla server: a real run (the tiny model through vLLM) is monitored,
its review sample and a few of its rejects are pushed, three raters answer with their own credentials (one of them
in a real browser: Chromium in Argilla's UI, signed in with the password push handed over; two through the SDK with
their own API keys), `report`
gives acceptance per generator with intervals equal to statsmodels' Wilson interval, and `mix` refuses the run
when the lower bound is under min_accepted and accepts it (recording the review) when over; rejected records are
absent from the mix and the edited one is present as edited."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import yaml
from browser_rater import Rater, need_browser
from statsmodels.stats.proportion import proportion_confint

from semisynth.cli import main

pytestmark = [pytest.mark.argilla, pytest.mark.slow, pytest.mark.browser]

SAMPLE = Path(__file__).resolve().parents[2] / "semisynth" / "data" / "sample_conversations.jsonl"


def _lines(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines() if line.strip())


def test_review_of_a_real_run_gates_the_mix(argilla_stack, conn, tiny_model_dir, tmp_path, capsys):
    from semisynth.collapse.mix.corpus import load_mix
    from semisynth.collapse.monitor.fingerprint import file_sha256
    from semisynth.preference import curation
    from semisynth.preference.simulator import RaterSimulator, SimulatedRater

    need_browser()
    run = tmp_path / "run"
    cfg = tmp_path / "gen.yaml"
    cfg.write_text(yaml.safe_dump({
        "input": {"path": str(SAMPLE), "text_field": "text", "messages_field": "messages", "limit": 40},
        "backend": {"kind": "vllm", "model": str(tiny_model_dir)},
        "generators": [{"kind": "paraphrase", "variants": 1, "style": "keep_irregularities"},
                       {"kind": "paraphrase", "variants": 1, "style": "clean"}],
        "sampling": {"max_tokens": 16, "temperature": 0.9, "stop": ["e", "a"]},
        "out": str(run), "seed": 5, "shard_size": 16,
        "checks": {"min_chars": 1, "language_check": False, "meaning_min_similarity": 0.0, "min_length_ratio": 0.0,
                   "max_length_ratio": 100.0, "fact_checks": False}}))
    res = subprocess.run([sys.executable, "-m", "semisynth.cli", "generate", "--config", str(cfg), "--quiet"],
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    n_syn = sum(_lines(p) for p in (run / "records").glob("*.jsonl"))
    assert n_syn >= 12
    rng = np.random.default_rng(0)
    np.save(tmp_path / "r.npy", rng.standard_normal((_lines(run / "seeds.jsonl"), 16)).astype(np.float32))
    np.save(tmp_path / "s.npy", rng.standard_normal((n_syn, 16)).astype(np.float32))
    (tmp_path / "monitor.yaml").write_text("n_boot: 50\nn_perm: 100\nc2st: false\ncache_dir: null\n"
                                           "gates:\n  - {figure: distinct_1, min: 0.0}\n")
    assert main(["monitor", "--real", str(run / "seeds.jsonl"), "--synthetic", str(run), "--out", str(run / "monitor"),
                 "--real-embeddings", str(tmp_path / "r.npy"), "--synthetic-embeddings", str(tmp_path / "s.npy"),
                 "--config", str(tmp_path / "monitor.yaml"), "--review-sample", "10"]) == 0
    sample = [json.loads(x) for x in (run / "monitor" / "review_sample.jsonl").read_text().splitlines()]
    cells = {r["meta"]["review_cell"] for r in sample}
    assert cells == {"paraphrase:keep_irregularities|keep_irregularities", "paraphrase:clean|clean"}

    sd = str(argilla_stack.state_dir)
    base = ["--state-dir", sd, "--dataset", "rev-gate"]
    assert main(["preference", "push", *base, "--kind", "review", "--input", str(run / "monitor" / "review_sample.jsonl"),
                 "--seeds", str(run / "seeds.jsonl"), "--rejects", str(run), "--rejects-sample", "4",
                 "--raters", "ga,gb,gc", "-k", "3", "--credentials-out", str(tmp_path / "raters.json")]) == 0
    pulled = curation.pull(conn, "rev-gate")
    kept = sorted((it for it in pulled.items.values() if not it.payload.get("auto_rejected")),
                  key=lambda it: it.payload["record"]["id"])
    rejected_items = [it for it in pulled.items.values() if it.payload.get("auto_rejected")]
    assert len(kept) == len(sample) and all(it.payload["reject_reason"] for it in rejected_items)
    # what the three raters answer: per generator, every third record changed_meaning, one record edited
    truth, by_gen = {}, defaultdict(list)
    for k, it in enumerate(kept):
        truth[it.id] = "edit" if k == 0 else "changed_meaning" if k % 3 == 1 else "acceptable"
        by_gen[it.payload["record"]["lineage"]["generator"]].append(truth[it.id] == "acceptable")
    for k, it in enumerate(rejected_items):
        truth[it.id] = "not_fluent_or_leaked" if k % 2 == 0 else "acceptable"
    done = RaterSimulator(conn, "rev-gate", [SimulatedRater(u, 0.0) for u in ("ga", "gb")], truth).run()
    assert sum(done.values()) == 2 * len(pulled.items)  # ga and gb, with their own API keys, answered every record
    # gc answers in the UI: signs in with the password push handed over, clicks each record's label, types the edit
    item_of = {recs["gc"]: iid for iid, recs in pulled.records.items()}
    password = {r["username"]: r["password"] for r in json.loads((tmp_path / "raters.json").read_text())["raters"]}
    (tmp_path / "shots").mkdir()
    t0 = time.monotonic()
    browser = Rater(conn.url, "gc", password["gc"], tmp_path / "shots")
    try:
        links = browser.datasets()
        assert len(links) == 1
        answered = browser.review_queue(links[0], lambda rid: (
            truth[item_of[rid]], "fixed text" if truth[item_of[rid]] == "edit" else None))
    finally:
        browser.close()
    with capsys.disabled():
        print(json.dumps({"browser_rater": "gc", "answered": len(answered), "seconds": round(time.monotonic() - t0, 1)}))
    assert sorted(item_of[r] for r in answered) == sorted(pulled.items)  # every record of gc's queue, once
    in_ui = {a.item_id: a.values for a in curation.pull(conn, "rev-gate").annotations if a.user == "gc"}
    assert {i: v["decision"] for i, v in in_ui.items()} == truth  # what the server stored from the browser
    assert [v.get("edited") for i, v in in_ui.items() if truth[i] == "edit"] == ["fixed text"]

    report = run / "monitor" / "report.json"
    assert main(["preference", "report", *base, "--out", str(tmp_path / "rep"), "--monitor-report", str(report)]) == 0
    review = json.loads((run / "monitor" / "review.json").read_text())
    assert review == json.loads((tmp_path / "rep" / "review.json").read_text())
    o = review["acceptance"]["overall"]  # the terminal says the figure, not only the paths it wrote
    said = capsys.readouterr().out
    assert f"reviewed acceptance (95% interval): {o['rate']:.1%} [{o['ci_low']:.1%}, {o['ci_high']:.1%}] of {o['n']}" \
        in said, said
    for gen, acc in by_gen.items():  # one cell per generator: Wilson on the counts, computed here by statsmodels
        got = review["acceptance"]["by_generator"][gen]
        lo, hi = proportion_confint(sum(acc), len(acc), alpha=0.05, method="wilson")
        assert (got["accepted"], got["n"]) == (sum(acc), len(acc))
        assert got["ci_low"] == pytest.approx(lo, abs=1e-6) and got["ci_high"] == pytest.approx(hi, abs=1e-6)
    with capsys.disabled():
        print(json.dumps({g: [r["accepted"], r["n"], round(r["ci_low"], 4), round(r["ci_high"], 4)]
                          for g, r in review["acceptance"]["by_generator"].items()}))
    assert review["failure_reasons"]["changed_meaning"]["n"] == sum(truth[it.id] == "changed_meaning" for it in kept)
    assert review["agreement"]["decision"]["pairwise_agreement"] == 1.0
    assert review["fingerprint"]["population"]["records"] == json.loads(report.read_text())["fingerprint"]["synthetic"]["records"]
    assert set(review["calibration"]["reject_reasons"]["reasons"]) == {it.payload["reject_reason"] for it in rejected_items}
    assert "Checks calibrated on the reviewers" in (run / "monitor" / "report.html").read_text()
    o = review["acceptance"]["overall"]  # the run's dataset card, rewritten by report, quotes the acceptance
    assert f"accepted as generated {o['rate']:.3f} [{o['ci_low']:.3f}, {o['ci_high']:.3f}] of {o['n']}" in \
        (run / "README.md").read_text()

    low = review["acceptance"]["overall"]["ci_low"]
    mix_cfg = tmp_path / "mix.yaml"

    def mix(minimum: float, out: str) -> int:
        mix_cfg.write_text(f"sources:\n  - {{path: {run / 'seeds.jsonl'}, kind: real}}\n"
                           f"  - {{path: {run}, kind: semi_synthetic, min_accepted: {minimum}}}\n")
        return main(["mix", "--config", str(mix_cfg), "--out", str(tmp_path / out)])

    capsys.readouterr()
    assert mix(round(low + 0.01, 4), "refused") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "lower bound under min_accepted" in err and not (tmp_path / "refused").exists()
    assert mix(round(low - 0.01, 4), "mix") == 0
    manifest = json.loads((tmp_path / "mix" / "manifest.json").read_text())
    trusted = manifest["sources"][1]["gates"]["review"]
    assert trusted["review_sha256"] == file_sha256(run / "monitor" / "review.json") and trusted["fingerprint_match"]
    assert trusted["trusted_fingerprint"]["records"] == review["fingerprint"]["population"]["records"]
    corpus = load_mix(tmp_path / "mix" / "corpus")
    ids = {r.id for r in corpus}
    rejected_ids = {it.payload["record"]["id"] for it in kept if truth[it.id] == "changed_meaning"}
    assert rejected_ids and not rejected_ids & ids
    edited_from = kept[0].payload["record"]["id"]
    edited = [r for r in corpus if r.lineage.edited_from == edited_from]
    assert edited_from not in ids and len(edited) == 1 and edited[0].text == "fixed text"
    assert manifest["rejects_by_reason"]["human_rejected"] == len(rejected_ids)
