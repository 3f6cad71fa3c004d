"""Blind reading audit of a `semisynth generate` run (issue 20 item 8).

A reader labels seed/record pairs without knowing which generator, template or model made them; the key
that says so stays in a separate file until the labels are scored.

  .venv/bin/python scripts/audit.py sample runs/heldout-h2 --n 200 --seed 0 --out audits/h2/
  (label audits/h2/pairs.tsv in a spreadsheet or editor, following audits/h2/rules.md)
  .venv/bin/python scripts/audit.py score audits/h2/
  .venv/bin/python scripts/audit.py score audits/h2/ --pairs audits/h2/pairs-reader2.tsv
  .venv/bin/python scripts/audit.py merge audits/h2/pairs.tsv audits/h2/pairs-reader2.tsv

sample: plain random (not stratified) over the kept records, sorted by id first, so the same run and
--seed give the same sample; the per-generator counts of the sample are printed and kept in sample.json.
score: OK share with a 95 % Wilson score interval, overall and per generator; also score.json.
merge: two readers' labels of the same items: agreement, Cohen's kappa, the items to adjudicate.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from semisynth.atomic import atomic_open, write_json
from semisynth.cli import OneLineParser
from semisynth.errors import UserError
from semisynth.io import read_records
from semisynth.records import Origin, Record

LABELS = ("OK", "DRIFT", "JUNK", "COPY")
PAIR_COLUMNS = ("item", "seed", "record", "label")
KEY_COLUMNS = ("item", "record_id", "seed_id", "generator", "template", "attempt", "model", "leaf", "run_dir")
NEWLINE = " ⏎ "
Z95 = 1.959963984540054  # two-sided 95 % normal quantile
# the paraphrase generators' names are "paraphrase:<style>"; every other generator writes a new message
NEW_LIKE, NEW_ABOUT = "[new like this]", "[new about:"

RULES = f"""# Reading rules

Each row of `pairs.tsv` is one item: `seed` is what the model was given, `record` is what it wrote. Write one
label in the `label` column: OK, DRIFT, JUNK or COPY. A line break inside a message is shown as `{NEWLINE.strip()}`;
a conversation is one `customer: ...` / `agent: ...` turn per line. Label each row on its own; do not open
`key.tsv` (which generator made which row) before the labels are scored. One label per row: when two apply,
take the first of JUNK, DRIFT, COPY, OK.

## Rewrites (the seed column is a message, with no bracketed lead)

- OK: a plausible message that says what the seed said; same intent and key facts.
- DRIFT: fluent, but a key fact, the request, the speaker or the sentence type changed.
- JUNK: not fluent, empty, truncated, repeated tokens, leaked prompt material, wrong language.
- COPY: the seed with trivial edits.

## New messages (the seed column starts with `{NEW_LIKE}` or `{NEW_ABOUT} ...]`)

The record was asked to be a new message, not a rewrite. `{NEW_LIKE}` is followed by the seed, whose style
the new message copies (`{NEW_LIKE[:-1]}, about: TOPIC]` also names the topic it must be about).
`{NEW_ABOUT} TOPIC]` has no seed: the topic (a taxonomy leaf) and the examples the prompt showed follow it.

- OK: a plausible new customer message of that intent/leaf that is not a reword of the seed or of the
  prompt's examples.
- DRIFT: fluent, but the wrong leaf/intent (when a topic is named), or the speaker or sentence type changed
  (not a customer's message). With `{NEW_LIKE}` and no topic, the prompt asked for the seed's style only, so
  any customer request counts as on target.
- JUNK: as for rewrites: not fluent, empty, truncated, repeated tokens, leaked prompt material, wrong language.
- COPY: a reword of its seed or of the examples.
"""


# -- shared ----------------------------------------------------------------------------------------------
def flat(text: str) -> str:
    """One line per row, so a reader's editor and the error messages agree on line numbers."""
    return NEWLINE.join(text.splitlines()) if text else ""


def shown(record: Record) -> str:
    """The text as the reader sees it: a conversation as customer:/agent: lines (as prompts show it)."""
    if record.messages:
        return flat("\n".join(f"{'customer' if m.role == 'user' else 'agent'}: {m.content}" for m in record.messages))
    return flat(record.content)


def is_rewrite(generator: str | None) -> bool:
    return (generator or "").split(":")[0] == "paraphrase"


def read_tsv(path: Path, columns: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """Rows with their line numbers; the header must hold `columns` (more columns are allowed)."""
    if not path.is_file():
        raise UserError(str(path), "file not found", "run `audit.py sample` first, or check the path")
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f, dialect="excel-tab")
        missing = [c for c in columns if c not in (reader.fieldnames or ())]
        if missing:
            raise UserError(f"{path}:1", f"header lacks column(s) {', '.join(missing)}",
                            f"keep the header line as written: {' TAB '.join(columns)}")
        rows = []
        for row in reader:
            if any((v or "").strip() for v in row.values() if isinstance(v, str)):
                rows.append((reader.line_num, row))
        return rows


def write_tsv(path: Path, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    with atomic_open(path) as f:
        w = csv.DictWriter(f, columns, dialect="excel-tab", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


# -- sample ----------------------------------------------------------------------------------------------
def _leaf_texts(run_dir: Path) -> dict[str, tuple[str, str]]:
    """leaf id -> ('id: definition', ' | examples: «...»') for the taxonomies the run used, as the prompts
    show them (best effort: a taxonomy that no longer loads leaves the bare leaf id)."""
    from semisynth.taxonomy import load_taxonomy

    try:
        config = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["config"]
    except (OSError, ValueError, KeyError):
        return {}
    out: dict[str, tuple[str, str]] = {}
    for g in config.get("generators") or ():
        if not g.get("taxonomy"):
            continue
        try:
            tax = load_taxonomy(g["taxonomy"])
        except UserError:
            continue
        for lab in tax.leaves:
            examples = " ".join(f"«{flat(e)}»" for e in lab.examples)
            out[lab.id] = f"{lab.id}: {flat(lab.definition)}", f" | examples: {examples}" if examples else ""
    return out


def seed_cell(record: Record, seeds: dict[str, Record], leaves: dict[str, tuple[str, str]], where: str) -> str:
    """The seed as its prompt gave it; a new message's lead names the topic (the pure prompt also showed
    the leaf's examples, the seeded prompt only its definition)."""
    lin = record.lineage
    seed = None
    if record.parents:
        seed = seeds.get(record.parents[0])
        if seed is None:
            raise UserError(where, f"record {record.id}'s parent {record.parents[0]} is not in seeds.jsonl",
                            "point at a complete run directory (records/ and seeds.jsonl of the same run)")
    if is_rewrite(lin.generator):
        return shown(seed) if seed else ""
    leaf = lin.taxonomy_leaf or ""
    topic, examples = leaves.get(leaf, (leaf, ""))
    if seed is None:
        return f"{NEW_ABOUT} {topic}{examples}]"
    return f"{NEW_LIKE[:-1]}, about: {topic}] {shown(seed)}" if topic else f"{NEW_LIKE} {shown(seed)}"


GOLD = "gold:known_ok"  # the generator column of a gold item: a pair known to be OK, mixed in blind


def gold_items(path: Path, n: int, seed: int) -> list[tuple[str, str]]:
    """Up to `n` (seed, paraphrase) pairs known to be OK (JSONL with `seed` and `paraphrase`, e.g. the hand-written
    true paraphrases of scripts/data/meaning_pairs.jsonl), PII-masked as seeds are. Mixed into the sample, they
    measure the reader: a reader who calls known-OK pairs DRIFT is stricter than the rules, and the run's OK
    share is read against that."""
    from semisynth.pii import mask_pii

    rows = []
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                rows.append((mask_pii(row["seed"]).text, mask_pii(row["paraphrase"]).text))
            except (ValueError, KeyError, TypeError, AttributeError):
                raise UserError(f"{path}:{line_no}", "is not a JSON object with string `seed` and `paraphrase`",
                                "write one {\"seed\": ..., \"paraphrase\": ...} object per line") from None
    return random.Random(seed).sample(rows, min(n, len(rows)))


def sample(run_dir: Path, n: int, seed: int, out: Path, gold: Path | None = None, gold_n: int = 0) -> dict[str, Any]:
    if not (run_dir / "records").is_dir() or not (run_dir / "seeds.jsonl").is_file():
        raise UserError(str(run_dir), "not a `semisynth generate` run directory (needs records/ and seeds.jsonl)",
                        "point at the --out folder of a generate run")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(str(out), "exists and is not empty (a labelled pairs.tsv would be overwritten)",
                        "use a new --out folder")
    if n < 1:
        raise UserError("--n", f"{n} is not a sample size", "give --n 1 or more")
    pool = sorted((r for r in read_records(run_dir) if r.origin != Origin.REAL), key=lambda r: r.id)
    seeds = {r.id: r for r in read_records(run_dir / "seeds.jsonl")}
    if n > len(pool):
        print(f"note: the run has {len(pool)} kept records, fewer than --n {n}: all are taken", file=sys.stderr)
    picked: list[Record | tuple[str, str]] = list(random.Random(seed).sample(pool, min(n, len(pool))))
    if gold is not None and gold_n > 0:  # mixed in at random places: the reader cannot tell them apart
        picked += gold_items(gold, gold_n, seed)
        random.Random(seed + 1).shuffle(picked)
    leaves = _leaf_texts(run_dir)
    width = max(3, len(str(len(picked))))
    pairs, key = [], []
    for i, rec in enumerate(picked, start=1):
        item = f"a{i:0{width}d}"
        if isinstance(rec, tuple):
            pairs.append({"item": item, "seed": flat(rec[0]), "record": flat(rec[1]), "label": ""})
            key.append({"item": item, "record_id": "", "seed_id": "", "generator": GOLD, "template": "",
                        "attempt": "", "model": "", "leaf": "", "run_dir": str(gold)})
            continue
        lin = rec.lineage
        pairs.append({"item": item, "seed": seed_cell(rec, seeds, leaves, str(run_dir)), "record": shown(rec),
                      "label": ""})
        key.append({"item": item, "record_id": rec.id, "seed_id": rec.parents[0] if rec.parents else "",
                    "generator": lin.generator or "", "template": lin.template or "", "attempt": lin.attempt or 1,
                    "model": lin.model or "", "leaf": lin.taxonomy_leaf or "", "run_dir": str(run_dir)})
    summary = {"run_dir": str(run_dir), "seed": seed, "n_requested": n, "n": len(picked), "kept": len(pool),
               "kept_by_generator": dict(sorted(Counter(r.lineage.generator or "?" for r in pool).items())),
               "sample_by_generator": dict(sorted(Counter(k["generator"] or "?" for k in key).items()))}
    out.mkdir(parents=True, exist_ok=True)
    write_tsv(out / "pairs.tsv", PAIR_COLUMNS, pairs)
    write_tsv(out / "key.tsv", KEY_COLUMNS, key)
    with atomic_open(out / "rules.md") as f:
        f.write(RULES)
    write_json(out / "sample.json", summary)
    return summary


# -- score -----------------------------------------------------------------------------------------------
def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of k successes in n: sensible at small n and at shares near 0 or 1."""
    if n <= 0:
        raise ValueError("n must be positive")
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def read_labels(path: Path) -> dict[str, str]:
    """item -> label; the first bad or missing label is a UserError naming the line."""
    rows = read_tsv(path, PAIR_COLUMNS)
    if not rows:
        raise UserError(str(path), "has no rows", "score the pairs.tsv that `audit.py sample` wrote")
    unlabelled = sum(1 for _, r in rows if not (r.get("label") or "").strip())
    labels: dict[str, str] = {}
    for line, row in rows:
        item, label = (row.get("item") or "").strip(), (row.get("label") or "").strip().upper()
        if label not in LABELS:
            what = f"item {item or '?'} has no label ({unlabelled} rows unlabelled)" if not label else \
                f"item {item or '?'}: label {row['label'].strip()!r} is not one of {', '.join(LABELS)}"
            raise UserError(f"{path}:{line}", what, f"write one of {', '.join(LABELS)} in the label column")
        if item in labels:
            raise UserError(f"{path}:{line}", f"item {item} appears twice", "keep one row per item")
        labels[item] = label
    return labels


def group_stats(labels: Sequence[str]) -> dict[str, Any]:
    counts = Counter(labels)
    n, ok = len(labels), counts["OK"]
    lo, hi = wilson(ok, n)
    return {"n": n, "ok_share": ok / n, "ok_ci95": [lo, hi], "counts": {lab: counts[lab] for lab in LABELS}}


def score(audit_dir: Path, pairs: Path | None = None) -> dict[str, Any]:
    pairs = pairs or audit_dir / "pairs.tsv"
    labels = read_labels(pairs)
    key_path = audit_dir / "key.tsv"
    key = {r["item"]: r for _, r in read_tsv(key_path, KEY_COLUMNS)}
    unknown = sorted(set(labels) - set(key))
    if unknown:
        raise UserError(str(pairs), f"item(s) {', '.join(unknown[:5])} are not in {key_path}",
                        "score the pairs file of this audit folder (item ids must be left as written)")
    missing = sorted(set(key) - set(labels))
    if missing:
        raise UserError(str(pairs), f"lacks {len(missing)} item(s) of {key_path} (e.g. {missing[0]})",
                        "label every row; do not delete rows")
    by_gen: dict[str, list[str]] = {}
    for item, label in labels.items():
        by_gen.setdefault(key[item]["generator"] or "?", []).append(label)
    # the run's figure leaves the gold items out (they are scored as their own group: the reader's calibration)
    run_labels = [lab for item, lab in labels.items() if key[item]["generator"] != GOLD]
    result = {"pairs": str(pairs), "key": str(key_path), "overall": group_stats(run_labels),
              "by_generator": {g: group_stats(v) for g, v in sorted(by_gen.items())}}
    name = "score.json" if pairs.name == "pairs.tsv" else f"score-{pairs.stem}.json"
    write_json(audit_dir / name, result)
    return result


def print_score(result: dict[str, Any]) -> None:
    print(f"{result['pairs']}: {result['overall']['n']} labelled items")
    print(f"{'group':<32} {'n':>5} {'OK':>7}  {'95% CI (Wilson)':<16}" + "".join(f"{lab:>7}" for lab in LABELS))
    groups = [("all", result["overall"]), *result["by_generator"].items()]
    for name, s in groups:
        lo, hi = s["ok_ci95"]
        print(f"{name:<32} {s['n']:>5} {s['ok_share']:>7.1%}  {f'{lo:.1%}-{hi:.1%}':<16}"
              + "".join(f"{s['counts'][lab]:>7}" for lab in LABELS))


# -- merge -----------------------------------------------------------------------------------------------
def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """(observed - chance agreement) / (1 - chance); None when chance agreement is 1 (one label only)."""
    n = len(a)
    po = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    pe = sum(ca[lab] * cb[lab] for lab in set(ca) | set(cb)) / (n * n)
    return None if pe == 1 else (po - pe) / (1 - pe)


def merge(path_a: Path, path_b: Path) -> dict[str, Any]:
    a, b = read_labels(path_a), read_labels(path_b)
    if set(a) != set(b):
        only = sorted(set(a) ^ set(b))
        raise UserError(str(path_b), f"holds other items than {path_a} (e.g. {only[0]})",
                        "compare two readers' copies of the same pairs.tsv")
    items = sorted(a)
    la, lb = [a[i] for i in items], [b[i] for i in items]
    return {"n": len(items), "agreement": sum(x == y for x, y in zip(la, lb, strict=True)) / len(items),
            "kappa": cohen_kappa(la, lb),
            "confusion": {x: {y: sum(1 for p, q in zip(la, lb, strict=True) if (p, q) == (x, y)) for y in LABELS}
                          for x in LABELS},
            "disagree": [{"item": i, "a": a[i], "b": b[i]} for i in items if a[i] != b[i]]}


# -- command line ----------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="audit.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample", help="draw a blind sample of kept records")
    s.add_argument("run_dir", type=Path, help="a `semisynth generate` --out folder")
    s.add_argument("--n", type=int, default=200, help="items to draw (default 200)")
    s.add_argument("--seed", type=int, default=0, help="random seed: same run + seed -> same sample (default 0)")
    s.add_argument("--out", type=Path, required=True, help="new folder for pairs.tsv, key.tsv, rules.md")
    s.add_argument("--gold", type=Path, default=None, help="JSONL of known-OK (seed, paraphrase) pairs to mix in "
                   "blind, e.g. scripts/data/meaning_pairs.jsonl: the reader's calibration")
    s.add_argument("--gold-n", type=int, default=30, help="gold items to mix in (default 30)")
    c = sub.add_parser("score", help="OK share with Wilson intervals, overall and per generator")
    c.add_argument("audit_dir", type=Path, help="the folder `sample` wrote (pairs.tsv labelled)")
    c.add_argument("--pairs", type=Path, default=None, help="another reader's labelled copy (default pairs.tsv)")
    m = sub.add_parser("merge", help="compare two readers' labels of the same items")
    m.add_argument("pairs_a", type=Path)
    m.add_argument("pairs_b", type=Path)
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.cmd == "sample":
            s = sample(args.run_dir, args.n, args.seed, args.out, args.gold, args.gold_n)
            print(f"{args.out}: {s['n']} items of {s['kept']} kept records (seed {s['seed']})")
            for g, k in s["sample_by_generator"].items():
                print(f"  {g:<32} {k:>5} sampled of {s['kept_by_generator'].get(g, 0):>6} kept")
        elif args.cmd == "score":
            print_score(score(args.audit_dir, args.pairs))
        else:
            r = merge(args.pairs_a, args.pairs_b)
            kappa = "n/a (one label only)" if r["kappa"] is None else f"{r['kappa']:.3f}"
            print(f"{r['n']} items: agreement {r['agreement']:.1%}, Cohen's kappa {kappa}")
            print("a \\ b  " + "".join(f"{lab:>7}" for lab in LABELS))
            for x in LABELS:
                print(f"{x:<7}" + "".join(f"{r['confusion'][x][y]:>7}" for y in LABELS))
            for d in r["disagree"]:
                print(f"  {d['item']}: {d['a']} vs {d['b']}")
    except UserError as e:
        print(f"audit.py: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
