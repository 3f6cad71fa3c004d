"""Acceptable share against kept share (issue 20): what a stricter meaning check or fewer redraws would buy.

For every blind-read audit in `audits/` (labels by readers who never saw the settings), the records today's rule
checks would still keep are re-scored with the stage's own meaning score (all-MiniLM-L6-v2 cosine to the seed,
generation/checks.py) and cut at stricter thresholds, and at "first draw only". Per model and generator: the share
of read records each policy keeps, and the OK share among them with a 95 % Wilson interval. The default sits at
cosine 0.6 with up to 4 draws.

  .venv/bin/python scripts/tradeoff.py [--out audits/tradeoff.md] [audit folders...]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from generation.checks import MeaningEncoder  # noqa: E402
from generation.facts import fact_change, form_defect  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))
from audit import wilson  # noqa: E402

NEWLINE = " ⏎ "
THRESHOLDS = (0.6, 0.7, 0.8, 0.85, 0.9)


def read_audit(folder: Path) -> list[dict]:
    with (folder / "pairs.tsv").open(encoding="utf-8", newline="") as f:
        rows = {r["item"]: r for r in csv.DictReader(f, dialect="excel-tab")}
    with (folder / "key.tsv").open(encoding="utf-8", newline="") as f:
        for k in csv.DictReader(f, dialect="excel-tab"):
            rows[k["item"]].update(k)
    out = []
    for r in rows.values():
        if not r.get("label", "").strip() or r["generator"].startswith("gold"):
            continue
        out.append({"audit": folder.name, "model": r["model"], "generator": r["generator"].split(":")[0],
                    "attempt": int(r.get("attempt") or 1), "label": r["label"].strip().upper(),
                    "seed": r["seed"].replace(NEWLINE, "\n"), "record": r["record"].replace(NEWLINE, "\n")})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="*", type=Path)
    ap.add_argument("--out", type=Path, default=ROOT / "audits" / "tradeoff.md")
    args = ap.parse_args()
    folders = args.folders or sorted(p for p in (ROOT / "audits").iterdir() if (p / "key.tsv").exists())
    rows = [r for f in folders for r in read_audit(f)]
    para = [r for r in rows if r["generator"] == "paraphrase"]
    sims = MeaningEncoder().similarity([r["record"] for r in para], [r["seed"] for r in para])
    for r, s in zip(para, sims, strict=True):
        r["cosine"] = float(s)
    for r in rows:  # today's rule checks, on rewrites only (the seed column of a new message is its prompt)
        r["rules_pass"] = r["generator"] != "paraphrase" or not (form_defect(r["record"], r["seed"])
                                                                  or fact_change(r["seed"], r["record"]))
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["model"], r["generator"])].append(r)
        groups[(r["model"], "all")].append(r)
    policies = [("today's rules, cosine >= 0.6, up to 4 draws (default)", lambda r: r.get("cosine", 1) >= 0.6)]
    policies += [(f"cosine >= {t}", lambda r, t=t: r.get("cosine", 1) >= t) for t in THRESHOLDS[1:]]
    policies += [("first draw only", lambda r: r["attempt"] == 1 and r.get("cosine", 1) >= 0.6),
                 ("first draw, cosine >= 0.85", lambda r: r["attempt"] == 1 and r.get("cosine", 1) >= 0.85)]
    lines = ["# Acceptable share vs kept share (scripts/tradeoff.py)", "",
             f"{len(rows)} blind-read kept records from {len(folders)} audits; each policy applied to the records "
             "today's rule checks pass. kept = share of the read records the policy keeps; OK = share of those a "
             "reader labelled OK (95 % Wilson).", "",
             "| model | generator | read | policy | kept | OK (95 % Wilson) |", "|---|---|---|---|---|---|"]
    table = []
    single = {m for m in {k[0] for k in groups} if len({g for mm, g in groups if mm == m}) == 2}
    for (model, gen), rs in sorted(groups.items()):
        if len(rs) < 20 or (gen == "all" and model in single):  # "all" repeats a model's only generator
            continue
        base = [r for r in rs if r["rules_pass"]]
        for name, keep in policies:
            if gen not in ("paraphrase", "all") and "cosine" in name and "default" not in name:
                continue
            kept = [r for r in base if keep(r)]
            ok = sum(r["label"] == "OK" for r in kept)
            lo, hi = wilson(ok, len(kept)) if kept else (float("nan"), float("nan"))
            share = ok / len(kept) if kept else float("nan")
            table.append({"model": model, "generator": gen, "read": len(rs), "policy": name, "kept": len(kept),
                          "kept_share": len(kept) / len(rs), "ok": ok, "ok_share": share, "ok_ci95": [lo, hi]})
            lines.append(f"| {model} | {gen} | {len(rs)} | {name} | {len(kept)} ({len(kept) / len(rs):.0%}) | "
                         f"{ok}/{len(kept)} = {share:.1%} ({lo:.1%}-{hi:.1%}) |")
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args.out.with_suffix(".json").write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
