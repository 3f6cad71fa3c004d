"""The experiment runner reproduces the known collapse results and keeps its run directory honest."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from semisynth.cli import main
from semisynth.collapse.experiments import closed_forms as cf
from semisynth.collapse.experiments.chains import ancestry, run_experiment
from semisynth.collapse.experiments.config import RESULT_COLUMNS, ExperimentConfig
from semisynth.collapse.experiments.results import read_results_csv
from semisynth.errors import UserError
from semisynth.records import Record


def _by(rows, metric):
    """(mode, seed) -> [value per generation]"""
    out = defaultdict(dict)
    for r in rows:
        if r["metric"] == metric:
            out[(r["mode"], r["seed"])][r["generation"]] = r["value"]
    return {k: [v[g] for g in sorted(v)] for k, v in out.items()}


def test_ngram_replace_loses_tails_and_perplexity_rises_every_generation(ngram_run):
    cfg, res = ngram_run
    ppl, tail = _by(res.rows, "heldout_ppl"), _by(res.rows, "tail_coverage")
    for seed in cfg.seeds:
        p, t = ppl[("replace", seed)], tail[("replace", seed)]
        assert all(b > a for a, b in zip(p, p[1:], strict=False)), p
        assert all(b < a for a, b in zip(t, t[1:], strict=False)), t
        assert p[-1] > 2 * p[0]


def test_ngram_orderings_replace_worse_than_mix_worse_than_accumulate_in_every_seed(ngram_run):
    cfg, res = ngram_run
    ppl, tail = _by(res.rows, "heldout_ppl"), _by(res.rows, "tail_coverage")
    vocab = _by(res.rows, "vocab_size")
    for seed in cfg.seeds:
        last = {m: ppl[(m, seed)][-1] for m in ("replace", "mix", "accumulate")}
        assert last["replace"] > last["mix"] > last["accumulate"], last
        cover = {m: tail[(m, seed)][-1] for m in ("replace", "mix", "accumulate")}
        assert cover["replace"] < cover["mix"] < cover["accumulate"], cover
        assert vocab[("replace", seed)][-1] < vocab[("accumulate", seed)][-1]


def test_ngram_accumulate_error_stays_bounded(ngram_run):
    cfg, res = ngram_run
    ppl = _by(res.rows, "heldout_ppl")
    for seed in cfg.seeds:
        acc, rep = ppl[("accumulate", seed)], ppl[("replace", seed)]
        # growth shrinks generation after generation, and stays far below replace's
        steps = np.diff(acc)
        assert steps[-1] < steps[0]
        assert acc[-1] < 1.5 * acc[0] < rep[-1]


def test_results_csv_is_tidy_long_and_report_has_curves(ngram_run):
    cfg, res = ngram_run
    out = Path(cfg.out)
    with (out / "results.csv").open() as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == RESULT_COLUMNS
        rows = list(reader)
    metrics = {r["metric"] for r in rows}
    assert {"heldout_ppl", "vocab_size", "tail_coverage", "distinct_1", "distinct_2", "vendi", "frechet",
            "mmd2", "smoothing_index", "frechet_real_baseline"} <= metrics
    assert {(r["mode"], r["real_fraction"]) for r in rows} == {("replace", "0.0"), ("accumulate", "0.0"),
                                                               ("mix", "0.2")}
    assert {int(r["generation"]) for r in rows} == {0, 1, 2, 3}
    assert len(read_results_csv(out / "results.csv")) == len(rows)
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 8 and "heldout_ppl" in html and "mix f=0.2" in html


def test_mix_generations_hold_the_real_fraction_and_lineage_reaches_generation_0(ngram_run):
    cfg, res = ngram_run
    chain = Path(cfg.out) / "runs" / "mix-f0.200" / "seed0"
    data = [Record.from_dict(json.loads(line)) for line in (chain / "gen002" / "data.jsonl").open()]
    assert sum(r.origin.value == "real" for r in data) == round(0.2 * cfg.sample_size)
    synth = [r for r in data if r.origin.value == "synthetic"]
    model1 = json.loads((chain / "gen001" / "model.json").read_text())
    assert {r.lineage.model for r in synth} == {model1["model_id"]}
    assert all(r.lineage.run_id and r.meta["generation"] == 2 for r in synth)
    anc = ancestry(chain, 3)
    assert set(anc) == {0, 1, 2, 3} and anc[0] == {"real": cfg.sample_size}


def test_categorical_runner_follows_the_closed_form_over_seeds(tmp_path):
    n, g = 100, 4
    cfg = ExperimentConfig(out=str(tmp_path / "cat"), family="categorical", mode="replace,mix,accumulate",
                           real_fraction=0.1, generations=g, seeds=list(range(30)), sample_size=n,
                           categories=20, progress=False)
    rows = run_experiment(cfg).rows
    p0 = cf.zipf_distribution(20, cfg.zipf_exponent)
    sq = _by(rows, "sq_distance")
    for mode in ("replace", "mix", "accumulate"):
        vals = np.array([sq[(mode, s)] for s in cfg.seeds])  # (seeds, generations)
        for t in range(g + 1):  # generation t's model has been fit t+1 times since p0
            expected = cf.expected_sq_distance(mode, p0, n, t + 1, 0.1)
            se = vals[:, t].std(ddof=1) / np.sqrt(len(vals))
            assert abs(vals[:, t].mean() - expected) < 4 * se + 0.1 * expected, (mode, t)
    last = {m: np.mean([sq[(m, s)][-1] for s in cfg.seeds]) for m in ("replace", "mix", "accumulate")}
    assert last["replace"] > last["mix"] > last["accumulate"]
    closed = {m: cf.expected_sq_distance(m, p0, n, g + 1, 0.1) for m in last}
    assert closed["replace"] > closed["mix"] > closed["accumulate"]
    support = _by(rows, "support_size")
    assert np.mean([support[("replace", s)][-1] for s in cfg.seeds]) < np.mean(
        [support[("replace", s)][0] for s in cfg.seeds])


def test_gaussian_runner_variance_shrinks(tmp_path):
    cfg = ExperimentConfig(out=str(tmp_path / "g"), family="gaussian", mode="replace", generations=6,
                           seeds=list(range(20)), sample_size=10, progress=False)
    var = _by(run_experiment(cfg).rows, "variance")
    mean_var = np.mean([var[("replace", s)] for s in cfg.seeds], axis=0)
    assert mean_var[-1] < mean_var[0]
    # E var_t = sigma0^2 ((n-1)/n)^(t+1); the spread over 20 chains is wide, so only check the direction
    assert mean_var[-1] == pytest.approx(cf.gaussian_replace_variance(1.0, 10, 7), rel=0.5)


def test_rerun_resumes_skipping_done_generations_and_matches_a_fresh_run(tmp_path):
    kw = dict(family="ngram", mode="mix", real_fraction=0.5, seeds=[4], sample_size=150, metric_sample=50,
              progress=False)
    first = run_experiment(ExperimentConfig(out=str(tmp_path / "a"), generations=1, **kw))
    assert len(first.timings) == 2
    done = tmp_path / "a" / "runs" / "mix-f0.500" / "seed4" / "gen001" / "DONE"
    stamp = done.stat().st_mtime_ns
    resumed = run_experiment(ExperimentConfig(out=str(tmp_path / "a"), generations=3, **kw))
    assert [t["generation"] for t in resumed.timings] == [2, 3]  # 0 and 1 were skipped
    assert done.stat().st_mtime_ns == stamp
    # a generation killed before its DONE marker is redone
    (tmp_path / "a" / "runs" / "mix-f0.500" / "seed4" / "gen003" / "DONE").unlink()
    again = run_experiment(ExperimentConfig(out=str(tmp_path / "a"), generations=3, **kw))
    assert [t["generation"] for t in again.timings] == [3]
    fresh = run_experiment(ExperimentConfig(out=str(tmp_path / "b"), generations=3, **kw))
    assert fresh.rows == again.rows
    for name in ("data.jsonl", "samples.jsonl"):
        a = (tmp_path / "a" / "runs" / "mix-f0.500" / "seed4" / "gen003" / name).read_text()
        b = (tmp_path / "b" / "runs" / "mix-f0.500" / "seed4" / "gen003" / name).read_text()
        assert a == b


def test_a_different_experiment_in_the_same_folder_is_refused(tmp_path):
    run_experiment(ExperimentConfig(out=str(tmp_path / "r"), family="categorical", generations=1, seeds=[0],
                                    sample_size=20, progress=False))
    with pytest.raises(UserError, match="different experiment"):
        run_experiment(ExperimentConfig(out=str(tmp_path / "r"), family="categorical", generations=1,
                                        seeds=[0], sample_size=30, progress=False))


@pytest.mark.parametrize("flags", [["--mode", "sideways"], ["--mode", "mix", "--real-fraction", "1.5"],
                                   ["--generations", "0"], ["--seeds", "1,1"], ["--sample-size", "1"],
                                   ["--family", "hf_lm"]])
def test_bad_flags_exit_2_with_one_line(tmp_path, capsys, flags):
    assert main(["collapse", "run", "--out", str(tmp_path / "x"), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("semisynth: error:") and "\n" not in err and "fix:" in err


def test_yaml_config_with_flag_override_runs_from_the_cli(tmp_path, capsys):
    cfg = tmp_path / "exp.yaml"
    cfg.write_text("family: categorical\nmode: [replace, accumulate]\ngenerations: 2\nseeds: [0, 1]\n"
                   "sample_size: 50\nprogress: false\n")
    assert main(["collapse", "run", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 0
    assert "replace: sq_distance" in capsys.readouterr().out
    assert (tmp_path / "o" / "results.csv").exists() and (tmp_path / "o" / "report.html").exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text("family: categorical\nreal_fractoin: 0.1\n")
    assert main(["collapse", "run", "--config", str(bad), "--out", str(tmp_path / "o2")]) == 2


def test_sample_size_larger_than_the_real_pool_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="sample_size"):
        run_experiment(ExperimentConfig(out=str(tmp_path / "big"), family="categorical", generations=1,
                                        seeds=[0], sample_size=10**6, progress=False))
