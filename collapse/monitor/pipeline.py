"""The irregularity and collapse monitor: does the synthetic data keep the real distribution?

`run_monitor(real, synthetic, config, out_dir)` writes report.json (every figure) and report.html,
and returns the report dict. Every embedding figure sits beside a same-distribution baseline: the
real corpus is split in two (A, B) and the comparison is real A vs synthetic at the same n as
real A vs real B, so sample-size bias shows and "close" has a meaning.

The run is `MONITOR_STEPS`, a list of named steps over one `MonitorState`, datatrove-style: each step reads
the fields earlier steps filled and fills its own, so a step can be run (and tested) alone on a state built by
hand. The steps that draw random numbers share the state's one seeded generator in list order; reordering them
keeps every figure valid but changes the draws, hence the exact numbers.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from semisynth.atomic import write_json, write_jsonl
from semisynth.collapse.monitor import irregularity as irr
from semisynth.collapse.monitor import metrics as M
from semisynth.collapse.monitor.comparisons import (
    cap_rows,
    group_metrics,
    mmd2_at,
    norm_text,
    not_enough,
    paired,
    single,
    subsampled,
    two_sample_tests,
)
from semisynth.collapse.monitor.config import ALPHA_SHARES, MonitorConfig
from semisynth.collapse.monitor.embeddings import Embedder, check_embeddings, check_same_dims
from semisynth.collapse.monitor.languages import language_profile, low_resource_languages, record_languages
from semisynth.collapse.monitor.report import evaluate_gates, flat_figures, headline, worst_examples
from semisynth.errors import UserError
from semisynth.records import Record

Counts = tuple[np.ndarray, np.ndarray]


@dataclass
class MonitorState:
    """What the steps share: the inputs, then what each step adds (the step's docstring names its fields)."""

    real: Sequence[Record]
    synthetic: Sequence[Record]
    cfg: MonitorConfig
    out_dir: Path | None = None
    real_embeddings: np.ndarray | None = None  # given rows (.npy), else computed by `embed`
    synthetic_embeddings: np.ndarray | None = None
    inputs: dict[str, dict[str, Any]] | None = None  # where each corpus came from, for the fingerprint
    embedder: Embedder | None = None  # used when embeddings are not given (None: cfg.embedder, built here)
    rng: np.random.Generator = field(init=False)
    real_texts: list[str] = field(init=False)
    syn_texts: list[str] = field(init=False)
    syn_groups: np.ndarray = field(init=False)  # each synthetic record's seed (its first parent; else itself)
    # embed
    R: np.ndarray = field(init=False)
    S: np.ndarray = field(init=False)
    embedder_name: str = "precomputed"
    # split_baseline
    perm: np.ndarray = field(init=False)  # real rows shuffled: A is the first half, the rest is B's pool
    a_idx: np.ndarray = field(init=False)
    b_idx: np.ndarray = field(init=False)
    s_idx: np.ndarray = field(init=False)  # synthetic evaluation sample, same n as B
    # profile_irregularity
    real_counts: Counts = field(init=False)
    syn_counts: Counts = field(init=False)
    real_kinds: dict[str, np.ndarray] = field(init=False)
    syn_kinds: dict[str, np.ndarray] = field(init=False)
    # identify_languages
    real_langs: list[str] = field(init=False)
    real_conf: np.ndarray = field(init=False)
    syn_langs: list[str] = field(init=False)
    # compare_embeddings (memorisation's nearest neighbours feed the worst examples)
    sm_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    nn_cos: np.ndarray = field(default_factory=lambda: np.zeros(0))
    nn_real: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # report sections, in report.json order, then the report itself
    sections: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    review: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.cfg.seed)
        self.real_texts = [r.content for r in self.real]
        self.syn_texts = [r.content for r in self.synthetic]
        self.syn_groups = np.asarray([r.parents[0] if r.parents else r.id for r in self.synthetic], dtype=object)

    @property
    def A(self) -> np.ndarray:
        return self.R[self.a_idx]

    @property
    def B(self) -> np.ndarray:
        return self.R[self.b_idx]

    @property
    def Se(self) -> np.ndarray:
        return self.S[self.s_idx]


Step = Callable[[MonitorState], None]


def _embed_rows(records: Sequence[Record], given: np.ndarray | None, embedder: Embedder | None,
                where: str) -> np.ndarray:
    if given is not None:
        return check_embeddings(given, len(records), where)
    assert embedder is not None
    return check_embeddings(embedder.encode([r.content for r in records]), len(records), where)


def configured_embedder(cfg: MonitorConfig) -> Embedder:
    """cfg.embedder with its cache, encoding here or, with `runner: {kind: ray}`, on a Ray actor pool (the same
    batches, so the same bits at the workers' thread count; Ray is imported only then)."""
    cache = os.path.expanduser(cfg.cache_dir) if cfg.cache_dir else None
    if cfg.runner.kind == "ray":
        from semisynth.ray_runner import ray_embedder

        return ray_embedder(cfg.embedder, cfg.batch_size, cache, config=cfg.runner)
    return Embedder(cfg.embedder, cfg.batch_size, cache)


def embed(st: MonitorState) -> None:
    """R, S, embedder_name: one row per record, given or encoded (through the embedder's content-hash cache)."""
    cfg = st.cfg
    if st.real_embeddings is None or st.synthetic_embeddings is None:
        if st.embedder is None:
            st.embedder = configured_embedder(cfg)
        st.embedder_name = cfg.embedder
    try:
        st.R = _embed_rows(st.real, st.real_embeddings, st.embedder, "real embeddings")
        st.S = _embed_rows(st.synthetic, st.synthetic_embeddings, st.embedder, "synthetic embeddings")
    finally:  # a Ray embedder's private Ray: started once for both encodes, stopped here
        getattr(st.embedder, "close", lambda: None)()
    check_same_dims(st.R, st.S)


def split_baseline(st: MonitorState) -> None:
    """perm, a_idx, b_idx, s_idx: real split A | B; B and the synthetic evaluation sample have the same n."""
    n_r, n_s = len(st.R), len(st.S)
    st.perm = st.rng.permutation(n_r)
    half = n_r // 2
    n_eval = min(n_r - half, n_s)
    st.a_idx, st.b_idx = st.perm[:half], st.perm[half:half + n_eval]
    st.s_idx = np.sort(st.rng.choice(n_s, n_eval, replace=False)) if n_eval else np.arange(0)


def profile_irregularity(st: MonitorState) -> None:
    """Counts, kinds, sections["irregularity"]: rates on all texts; the baseline is real A vs real B."""
    cfg, a_idx, b_idx = st.cfg, st.a_idx, st.b_idx
    st.real_counts = real_counts = irr.profile_counts(st.real_texts, cfg.vocab_lang)
    bounds = irr.length_tail_bounds(irr.length_words(real_counts[0]))
    st.syn_counts = irr.profile_counts(st.syn_texts, cfg.vocab_lang, length_bounds=bounds)
    st.real_kinds = real_kinds = irr.kind_counts(st.real_texts, cfg.vocab_lang)
    st.syn_kinds = irr.kind_counts(st.syn_texts, cfg.vocab_lang)
    kw = dict(n_boot=cfg.n_boot, ci=cfg.ci, seed=cfg.seed, smoothed_below=cfg.smoothed_below,
              exaggerated_above=cfg.exaggerated_above, min_events=cfg.min_events, min_expected=cfg.min_expected,
              power=cfg.power, alpha=cfg.alpha * ALPHA_SHARES["features"],
              index_alpha=cfg.alpha * ALPHA_SHARES["smoothing_index"], n_perm=cfg.n_perm)
    profile = irr.corpus_profile([], [], real_counts=real_counts, synthetic_counts=st.syn_counts,
                                 real_kinds=real_kinds, synthetic_kinds=st.syn_kinds, synthetic_groups=st.syn_groups,
                                 **kw)
    base_profile = irr.corpus_profile([], [], real_counts=(real_counts[0][a_idx], real_counts[1][a_idx]),
                                      synthetic_counts=(real_counts[0][b_idx], real_counts[1][b_idx]),
                                      real_kinds={k: v[a_idx] for k, v in real_kinds.items()},
                                      synthetic_kinds={k: v[b_idx] for k, v in real_kinds.items()}, **kw) \
        if len(a_idx) and len(b_idx) else {"smoothing_index": None, "features": {}, "kinds": {}}
    profile["baseline_smoothing_index"] = base_profile.get("smoothing_index")
    profile["baseline_exaggeration_index"] = base_profile.get("exaggeration_index")
    for name, f in profile["features"].items():
        bf = base_profile.get("features", {}).get(name, {})
        f["baseline_ratio"] = bf.get("ratio")
        f["baseline_verdict"] = bf.get("verdict")
    for name, f in profile["kinds"].items():
        f["baseline_verdict"] = base_profile.get("kinds", {}).get(name, {}).get("verdict")
    st.sections["irregularity"] = profile


def identify_languages(st: MonitorState) -> None:
    """real_langs, real_conf, syn_langs, sections["language"]: language mix and code-switching."""
    st.real_langs, st.real_conf, real_src = record_languages(st.real, st.cfg, st.rng)
    st.syn_langs, _, syn_src = record_languages(st.synthetic, st.cfg, st.rng)
    prof = language_profile(st.real, st.synthetic, st.real_langs, st.syn_langs, st.cfg, st.rng, st.syn_groups)
    prof["sources"] = {"real": real_src, "synthetic": syn_src}
    st.sections["language"] = prof


def compare_embeddings(st: MonitorState) -> None:
    """sections["embedding"] (Frechet, MMD, Vendi, PRDC, MAUVE, memorisation, tail coverage), nearest neighbours."""
    cfg, mn, A, B, Se, S, R = st.cfg, st.cfg.min_n_for, st.A, st.B, st.Se, st.S, st.R
    bw = M.median_bandwidth(A, B if len(B) else A, seed=cfg.seed) if len(A) > 1 else 1.0
    emb: dict[str, Any] = {
        "frechet": paired(M.frechet_distance, A, Se, B, mn("frechet")),
        "mmd": paired(mmd2_at(cfg, bw), A, Se, B, mn("mmd")),
        "vendi": single(M.vendi_score, Se, B, mn("vendi"), higher_is_more_diverse=True),
        "prdc": subsampled(lambda x, y: M.prdc(x, y, cfg.prdc_k), A, Se, B, cfg.subsample_n, cfg.subsample_repeats,
                           cfg.seed, max(mn("prdc"), cfg.prdc_k + 2)),
        "mauve": subsampled(lambda x, y: {"mauve": M.mauve(x, y, seed=cfg.seed)["mauve"]}, A, Se, B,
                            cfg.subsample_n, cfg.subsample_repeats, cfg.seed, mn("mauve")),
    }
    if emb["mmd"]["status"] == "ok":
        emb["mmd"]["bandwidth"] = bw
        emb["mmd"]["method"] = M.mmd_method(len(A), len(Se), cfg.mmd_exact_max_n)

    # Memorisation: nearest real neighbour of each synthetic record (capped), baseline B -> A.
    Sm, st.sm_idx = cap_rows(S, cfg.nn_max_synthetic, st.rng)
    Rm, rm_idx = cap_rows(R, cfg.nn_max_real, st.rng)
    if len(Sm) >= mn("memorisation") and len(B) >= mn("memorisation") and len(A):
        mem = M.memorisation_rate(Rm, Sm, cfg.memorisation_threshold)
        st.nn_cos, st.nn_real = mem["nn_cosine"], rm_idx[mem["nn_index"]]
        base_mem = M.memorisation_rate(A[: cfg.nn_max_real], B[: cfg.nn_max_synthetic], cfg.memorisation_threshold)
        real_set = {norm_text(t) for t in st.real_texts}
        a_set = {norm_text(st.real_texts[i]) for i in st.a_idx}
        exact = float(np.mean([norm_text(st.syn_texts[i]) in real_set for i in st.sm_idx]))
        exact_base = float(np.mean([norm_text(st.real_texts[i]) in a_set for i in st.b_idx]))
        emb["memorisation"] = {"status": "ok", "value": mem["rate"], "baseline": base_mem["rate"],
                               "threshold_cosine": cfg.memorisation_threshold, "mean_nn_cosine": mem["mean_nn_cosine"],
                               "exact_copy_rate": exact, "exact_copy_baseline": exact_base,
                               "n_synthetic_checked": len(Sm), "n_real_searched": len(Rm)}
    else:
        emb["memorisation"] = not_enough(mn("memorisation"), min(len(Sm), len(B)))
    if min(len(A), len(Se), len(B)) >= mn("tail_coverage"):
        tc = M.tail_coverage(A, Se, cfg.tail_clusters, cfg.tail_mass, cfg.seed)
        tcb = M.tail_coverage(A, B, cfg.tail_clusters, cfg.tail_mass, cfg.seed)
        emb["tail_coverage"] = {"status": "ok", "value": tc["coverage"], "baseline": tcb["coverage"],
                                **{k: v for k, v in tc.items() if k != "coverage"},
                                "baseline_tail_mass_ratio": tcb["tail_mass_ratio"]}
    else:
        emb["tail_coverage"] = not_enough(mn("tail_coverage"), min(len(A), len(Se), len(B)))
    st.sections["embedding"] = emb


def compare_text_diversity(st: MonitorState) -> None:
    """sections["text_diversity"]: distinct-1/2 and self-BLEU of the synthetic sample beside real B."""
    cfg, mn = st.cfg, st.cfg.min_n_for
    syn = [st.syn_texts[i] for i in st.s_idx]
    real_b = [st.real_texts[i] for i in st.b_idx]
    st.sections["text_diversity"] = {
        "distinct_1": single(lambda t: M.distinct_n(t, 1), syn, real_b, mn("distinct_n")),
        "distinct_2": single(lambda t: M.distinct_n(t, 2), syn, real_b, mn("distinct_n")),
        "self_bleu": single(lambda t: M.self_bleu(t, seed=cfg.seed), syn, real_b, mn("self_bleu"),
                            note="higher = less diverse; on <= 1000 texts"),
    }


def classify_real_vs_synthetic(st: MonitorState) -> None:
    """sections["two_sample"]: the classifier two-sample tests (or {"status": "off"})."""
    half = len(st.R) // 2
    st.sections["two_sample"] = (
        two_sample_tests(st.R, st.S, st.real_texts, st.syn_texts, st.a_idx, st.perm[half:],
                         [r.id for r in st.synthetic], st.cfg, real_ids=[r.id for r in st.real],
                         synthetic_groups=list(st.syn_groups))
        if st.cfg.c2st else {"status": "off"})


def break_down(st: MonitorState) -> None:
    """sections["breakdown"]: each origin, language, taxonomy leaf, generator and style slice against its real
    reference (the slice's parents when there are enough, else all real; a language against its real records)."""
    cfg = st.cfg
    real_pos = {r.id: i for i, r in enumerate(st.real)}
    all_real = np.arange(len(st.R))

    def reference(idx: np.ndarray) -> np.ndarray:
        parents = sorted({real_pos[p] for i in idx for p in st.synthetic[i].parents if p in real_pos})
        return np.asarray(parents) if len(parents) >= cfg.breakdown_min_n else all_real

    breakdown: dict[str, dict[str, Any]] = {"origin": {}, "language": {}, "taxonomy_leaf": {}, "generator": {},
                                            "style": {}}
    groups: dict[str, dict[str, list[int]]] = {k: defaultdict(list) for k in breakdown}
    for i, r in enumerate(st.synthetic):
        groups["origin"][r.origin.value].append(i)
        groups["language"][st.syn_langs[i]].append(i)
        if r.lineage.taxonomy_leaf:
            groups["taxonomy_leaf"][r.lineage.taxonomy_leaf].append(i)
        if r.lineage.generator:
            groups["generator"][r.lineage.generator].append(i)
        if r.lineage.style:
            groups["style"][r.lineage.style].append(i)
    real_by_lang: dict[str, list[int]] = defaultdict(list)
    for i, lang in enumerate(st.real_langs):
        real_by_lang[lang].append(i)
    slices = [(kind, key, np.asarray(members),
               np.asarray(real_by_lang.get(key, [])) if kind == "language" else reference(np.asarray(members)))
              for kind, g in groups.items() for key, members in sorted(g.items())]
    judged = sum(len(idx) >= cfg.breakdown_min_n and len(ref) >= cfg.breakdown_min_n for _, _, idx, ref in slices)
    # Every slice is a family of its own at an even part of the breakdown's alpha (Bonferroni across slices), so
    # the report's flags, slices included, stay within cfg.alpha.
    slice_alpha = cfg.alpha * ALPHA_SHARES["breakdown"] / max(judged, 1)
    for kind, key, idx, ref in slices:
        breakdown[kind][key] = group_metrics(idx, ref, st.syn_counts, st.real_counts, st.R, st.S, cfg, st.rng,
                                             st.real_kinds, st.syn_kinds, alpha=slice_alpha,
                                             synthetic_groups=st.syn_groups[idx] if len(idx) else None)
    st.sections["breakdown"] = breakdown
    st.sections["breakdown_family"] = {"alpha_per_slice": slice_alpha, "slices_judged": judged,
                                       "rule": "each judged slice at alpha x breakdown share / slices judged"}


def flag_low_resource(st: MonitorState) -> None:
    """sections["low_resource"]: languages whose synthetic records always go to human review."""
    st.sections["low_resource"] = low_resource_languages(st.real_langs, st.real_conf, st.syn_langs, st.cfg)


def assemble_report(st: MonitorState) -> None:
    """report: the sections in report.json order, then fingerprint, flat figures, gates and headline verdict."""
    from semisynth.collapse.monitor.fingerprint import monitor_fingerprint

    s = st.sections
    report: dict[str, Any] = {
        "n_real": len(st.R), "n_synthetic": len(st.S), "embedder": st.embedder_name,
        "baseline": {"method": "real split in two halves; metrics compare real A with synthetic at the same n as "
                               "real A with real B", "n_real_a": len(st.a_idx), "n_eval": len(st.s_idx)},
        **{k: s[k] for k in ("irregularity", "language", "embedding", "text_diversity", "two_sample", "breakdown",
                             "breakdown_family", "low_resource") if k in s},
        # where it ran is not what was judged: a Ray run's report (and fingerprint) is the local one's
        "config": st.cfg.model_dump(mode="json", exclude={"runner"}),
    }
    report["fingerprint"] = monitor_fingerprint(st.real, st.synthetic, report["config"], st.inputs)
    report["figures"] = flat_figures(report)
    report["gates"] = evaluate_gates(st.cfg.gates, report["figures"])
    report["verdict"] = headline(report)
    st.report = report


def pick_worst_examples(st: MonitorState) -> None:
    """report["examples"]: near-copies, most smoothed against their parent, farthest from any real text."""
    syn_score = irr.irregularity_score(irr.rates(*st.syn_counts))
    real_score = irr.irregularity_score(irr.rates(*st.real_counts))
    real_pos = {r.id: i for i, r in enumerate(st.real)}
    st.report["examples"] = worst_examples(st.synthetic, st.real, st.sm_idx, st.nn_cos, st.nn_real, syn_score,
                                           real_score, real_pos, st.cfg.worst_examples)


def draw_review_sample(st: MonitorState) -> None:
    """review, report["review_sample"]: records for human review, when cfg.review_sample asks for them."""
    if st.cfg.review_sample is None:
        return
    from semisynth.collapse.monitor.review_sample import select_review_sample

    syn_score = irr.irregularity_score(irr.rates(*st.syn_counts))
    low = st.sections["low_resource"]["languages"]
    st.review = select_review_sample(st.synthetic, st.S, st.syn_langs, syn_score, low, st.cfg)
    st.report["review_sample"] = st.review["summary"]


def write_outputs(st: MonitorState) -> None:
    """report.json, review_sample.jsonl and report.html in out_dir (nothing when out_dir is None)."""
    if st.out_dir is None:
        return
    out = Path(st.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if st.review is not None:
        write_jsonl(out / "review_sample.jsonl", st.review["rows"])
        st.report["review_sample"]["path"] = str(out / "review_sample.jsonl")
    write_json(out / "report.json", st.report)
    if st.cfg.html:
        from semisynth.collapse.monitor.report_html import write_report_html

        write_report_html(out / "report.html", st.report, A=st.A, S=st.Se,
                          real_words=irr.length_words(st.real_counts[0]),
                          syn_words=irr.length_words(st.syn_counts[0]))


MONITOR_STEPS: tuple[Step, ...] = (
    embed, split_baseline, profile_irregularity, identify_languages, compare_embeddings, compare_text_diversity,
    classify_real_vs_synthetic, break_down, flag_low_resource, assemble_report, pick_worst_examples, draw_review_sample,
    write_outputs,
)


def run_monitor(real_records: Sequence[Record], synthetic_records: Sequence[Record], config: MonitorConfig | None,
                out_dir: str | os.PathLike | None, real_embeddings: np.ndarray | None = None,
                synthetic_embeddings: np.ndarray | None = None,
                inputs: dict[str, dict[str, Any]] | None = None, *, embedder: Embedder | None = None,
                steps: Sequence[Step] = MONITOR_STEPS) -> dict[str, Any]:
    """Compare the corpora, write report.json / report.html (and review_sample.jsonl) to out_dir.

    `inputs` says where each corpus came from ({"real"|"synthetic": {"path", "text_field", "default_origin"}});
    it goes into the report's fingerprint so `semisynth mix` can re-read the same data the same way.
    `embedder` replaces the configured one (same model: e.g. one that encodes on a Ray cluster)."""
    if not real_records:
        raise UserError("real corpus", "no records", "give a real corpus with at least one record")
    if not synthetic_records:
        raise UserError("synthetic corpus", "no records", "give a synthetic corpus with at least one record")
    state = MonitorState(real_records, synthetic_records, config or MonitorConfig(),
                         Path(out_dir) if out_dir is not None else None, real_embeddings, synthetic_embeddings,
                         inputs, embedder)
    for step in steps:
        step(state)
    return state.report
