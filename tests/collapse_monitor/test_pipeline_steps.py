"""The monitor is a list of named steps over one state: the list is what runs, and a step runs alone."""

from __future__ import annotations

import numpy as np

from semisynth.collapse.monitor import metrics as M
from semisynth.collapse.monitor.calibration import sample_tweets
from semisynth.collapse.monitor.config import MonitorConfig
from semisynth.collapse.monitor.pipeline import (
    MONITOR_STEPS,
    MonitorState,
    compare_text_diversity,
    run_monitor,
    split_baseline,
)
from semisynth.records import Lineage, Record

from .conftest import gaussian

CHEAP = dict(n_boot=20, n_perm=100, subsample_n=20, subsample_repeats=2, cache_dir=None, c2st=False, html=False)


def _corpora(n: int = 40) -> tuple[list[Record], list[Record]]:
    texts = sample_tweets()[:n]
    real = [Record.create("real", text=t) for t in texts]
    syn = [Record.create("paraphrase", text=t.lower(), parents=(r.id,), lineage=Lineage(generator="paraphrase"))
           for t, r in zip(texts, real, strict=True)]
    return real, syn


def test_the_step_list_is_what_runs_in_order_and_gives_the_same_report():
    real, syn = _corpora()
    cfg = MonitorConfig(**CHEAP)
    R, S = gaussian(len(real), 8, seed=1), gaussian(len(syn), 8, seed=2)
    ran: list[str] = []

    def traced(step):
        def run(state: MonitorState) -> None:
            ran.append(step.__name__)
            step(state)
        return run

    report = run_monitor(real, syn, cfg, None, R, S, steps=[traced(s) for s in MONITOR_STEPS])
    assert ran == [s.__name__ for s in MONITOR_STEPS]
    assert ran == ["embed", "split_baseline", "profile_irregularity", "identify_languages", "compare_embeddings",
                   "compare_text_diversity", "classify_real_vs_synthetic", "break_down", "flag_low_resource",
                   "assemble_report", "pick_worst_examples", "draw_review_sample", "write_outputs"]
    assert report == run_monitor(real, syn, cfg, None, R, S)
    assert list(report)[:3] == ["n_real", "n_synthetic", "embedder"] and report["embedder"] == "precomputed"


def test_a_run_without_the_write_step_leaves_nothing_on_disk(tmp_path):
    real, syn = _corpora(30)
    steps = [s for s in MONITOR_STEPS if s.__name__ != "write_outputs"]
    report = run_monitor(real, syn, MonitorConfig(**CHEAP), tmp_path / "out", gaussian(30, 8, seed=1),
                         gaussian(30, 8, seed=2), steps=steps)
    assert "gates" in report and not (tmp_path / "out").exists()


def test_split_baseline_alone_gives_disjoint_real_halves_and_a_synthetic_sample_of_bs_size():
    real, syn = _corpora(25)
    state = MonitorState(real, syn[:9], MonitorConfig(**CHEAP))
    state.R, state.S = gaussian(25, 4), gaussian(9, 4)
    split_baseline(state)
    assert len(state.a_idx) == 12 and len(state.b_idx) == len(state.s_idx) == 9
    assert not set(state.a_idx) & set(state.b_idx)
    assert list(state.s_idx) == sorted(state.s_idx) and len(set(state.s_idx)) == 9


def test_text_diversity_alone_is_the_metric_on_the_chosen_rows():
    real, syn = _corpora(12)
    state = MonitorState(real, syn, MonitorConfig(**CHEAP))
    state.s_idx, state.b_idx = np.arange(6), np.arange(6, 12)
    compare_text_diversity(state)
    d1 = state.sections["text_diversity"]["distinct_1"]
    assert d1["value"] == M.distinct_n([s.content for s in syn[:6]], 1)
    assert d1["baseline"] == M.distinct_n([r.content for r in real[6:]], 1)
