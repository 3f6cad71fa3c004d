"""Training-mix builder: compose a fine-tuning corpus from real, semi-synthetic and synthetic runs.

Why: collapse experiments say how much real data a mix must keep; this turns that into a corpus.
Rules, in order:
  1. a non-real source must come with a passing monitor report (report.json `gates.passed`), named in the
     config or found at <run>/monitor/report.json, whose fingerprint matches the source's records now (a run
     resumed or extended after monitoring does not), with at least one gate evaluated and none skipped for
     lack of data; otherwise the mix is refused unless forced (`force`, recorded with what it went past).
     A source declared `kind: real` must hold only origin: real records (never forceable: fix the config);
     a source's human review (review_gate.py) may be required (`min_accepted`); rejected records leave, edited enter;
  2. duplicate record ids (within or across sources) keep their first occurrence;
  3. each source contributes its target share of the total (the total is the largest the shares allow,
     or `size` if smaller); records beyond a source's share are left out ("over_share_cap");
  4. if the realised share of origin=real records is under `real_floor`, non-real records are dropped
     ("real_floor") until it is not.
Every input record ends in the corpus or in rejects.jsonl with its reason; manifest.json states the
realised shares and checks that accounting. Output:
  <out>/corpus/         datasets.save_to_disk (columns id, origin, text, messages, parents, language,
                        lineage, lineage_sampling, meta_json, mix_source); `load_mix` rebuilds records
  <out>/rejects.jsonl   one Reject per record left out
  <out>/manifest.json   sources, target and realised shares, gates (the report path + sha256 and the
                        fingerprint each source was trusted on), counts by reason
  <out>/README.md       the dataset card (semisynth/dataset_card.py): `datasets.load_dataset(out)` loads corpus/
The build is `MIX_STEPS`, named steps over one `MixState` (load, select, mix, write ...), each runnable alone.
"""

from __future__ import annotations

import math
import os
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from semisynth.atomic import atomic_dir, write_json, write_jsonl
from semisynth.collapse.mix.config import MixConfig, MixSource, source_name
from semisynth.collapse.mix.corpus import corpus_features, corpus_row
from semisynth.collapse.mix.review_gate import apply_reviews, check_reviews
from semisynth.collapse.mix.trust import (
    READ_ORIGIN,
    check_fingerprint,
    check_gates,
    check_real,
    check_real_reference,
)
from semisynth.dataset_card import write_card
from semisynth.errors import UserError
from semisynth.hashing import seed_from
from semisynth.io import read_records
from semisynth.paths import check_output_dir
from semisynth.records import Origin, Record, Reject


@dataclass
class MixState:
    """What the steps share; each step's docstring names the fields it fills."""

    cfg: MixConfig
    gates: dict[str, dict[str, Any]] = field(default_factory=dict)
    loaded: list[tuple[MixSource, list[Record]]] = field(default_factory=list)
    inputs: Counter[str] = field(default_factory=Counter)
    eligible: list[list[Record]] = field(default_factory=list)  # per source, duplicates removed
    shares: list[float] = field(default_factory=list)
    total: int = 0
    counts: list[int] = field(default_factory=list)  # records each source contributes
    chosen: list[list[Record]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    corpus: list[tuple[str, Record]] = field(default_factory=list)  # (source name, record), in source order
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def out(self) -> Path:
        return Path(self.cfg.out)


Step = Callable[[MixState], None]


def refuse_existing_output(st: MixState) -> None:
    """Nothing: an existing output folder is refused unless overwrite."""
    if st.out.exists() and not st.cfg.overwrite:
        raise UserError(str(st.out), "output folder exists", "choose a new --out or pass --overwrite")


def check_reports(st: MixState) -> None:
    """gates: each source's monitor verdict, refused before any record is read (a missing source first: no
    "forced past" warning about a source that is not there)."""
    for s in st.cfg.sources:
        if not Path(s.path).exists():
            raise UserError(f"mix source '{source_name(s)}'", f"{s.path} not found", "check the source path")
    st.gates = {source_name(s): check_gates(s, st.cfg.force) for s in st.cfg.sources}


def load_sources(st: MixState) -> None:
    """loaded: each source's records; a real source holds only real records, a gated one the records judged."""
    for s in st.cfg.sources:
        if not Path(s.path).exists():
            raise UserError(f"mix source '{source_name(s)}'", f"{s.path} not found", "check the source path")
        st.loaded.append((s, read_records(s.path, default_origin=READ_ORIGIN[s.kind], refuse_blank=True)))
    real_sources = {}
    for i, (s, recs) in enumerate(st.loaded):
        if s.kind == "real":
            check_real(s, recs)
            real_sources[source_name(s)] = recs
        else:
            st.gates[source_name(s)], judged = check_fingerprint(s, st.gates[source_name(s)], recs, st.cfg.force)
            st.loaded[i] = (s, judged)  # exactly the records the monitor judged
    for s, _ in st.loaded:
        if s.kind != "real":
            st.gates[source_name(s)] = check_real_reference(s, st.gates[source_name(s)], real_sources, st.cfg.force)


def drop_duplicate_ids(st: MixState) -> None:
    """inputs, eligible: a record id keeps its first occurrence (within or across sources); later ones are rejects."""
    seen: set[str] = set()
    for s, recs in st.loaded:
        name = source_name(s)
        st.inputs[name] = len(recs)
        keep = []
        for r in recs:
            if r.id in seen:
                st.rejects.append(Reject(r.id, (r.id,), "duplicate_id", f"source {name}: id already taken",
                                         r.content))
                continue
            seen.add(r.id)
            keep.append(r)
        st.eligible.append(keep)


def _largest_remainder(shares: Sequence[float], total: int) -> list[int]:
    raw = [s * total for s in shares]
    counts = [math.floor(r + 1e-9) for r in raw]
    rest = total - sum(counts)
    for i in sorted(range(len(raw)), key=lambda i: (counts[i] - raw[i], i))[:max(rest, 0)]:
        counts[i] += 1
    return counts


def plan_shares(st: MixState) -> None:
    """shares, total, counts: the largest total the shares allow (or `size` if smaller), split by share."""
    cfg = st.cfg
    avail = [len(e) for e in st.eligible]
    st.shares = [s.share for s in cfg.sources] if cfg.sources[0].share is not None else \
        [a / max(sum(avail), 1) for a in avail]
    caps = [math.floor(a / sh + 1e-9) for a, sh in zip(avail, st.shares, strict=True) if sh > 0]
    max_total = min(caps) if caps else 0
    st.total = min(cfg.size, max_total) if cfg.size else max_total
    if cfg.size and cfg.size > max_total:
        st.notes.append(f"size {cfg.size} reduced to {max_total}: the scarcest source limits the shares")
    st.counts = _largest_remainder(st.shares, st.total)


def select_by_share(st: MixState) -> None:
    """chosen: a seeded draw of each source's count; the rest are "over_share_cap" rejects."""
    for (s, _), recs, c, share in zip(st.loaded, st.eligible, st.counts, st.shares, strict=True):
        order = np.random.default_rng(seed_from("mix", st.cfg.seed, source_name(s))).permutation(len(recs))
        for i in order[c:]:
            r = recs[i]
            st.rejects.append(Reject(r.id, (r.id,), "over_share_cap", f"source {source_name(s)}: share "
                                     f"{share:.4g} of {st.total} reached", r.content))
        st.chosen.append([recs[i] for i in order[:c]])


def keep_real_floor(st: MixState) -> None:
    """chosen: non-real records dropped ("real_floor"), in proportion per source, until real_floor holds."""
    cfg, chosen = st.cfg, st.chosen
    n_real = sum(r.origin == Origin.REAL for c in chosen for r in c)
    n_other = sum(len(c) for c in chosen) - n_real
    if not (cfg.real_floor > 0 and n_other and n_real / max(n_real + n_other, 1) < cfg.real_floor - 1e-12):
        return
    allowed = math.floor(n_real * (1 - cfg.real_floor) / cfg.real_floor + 1e-9)
    st.notes.append(f"real share {n_real / (n_real + n_other):.3f} under the floor {cfg.real_floor}: "
                    f"kept {allowed} of {n_other} non-real records")
    others = [[r for r in c if r.origin != Origin.REAL] for c in chosen]
    keep_counts = _largest_remainder([len(o) / n_other for o in others], allowed) if allowed else [0] * len(others)
    keep_counts = [min(k, len(o)) for k, o in zip(keep_counts, others, strict=True)]
    for i, ((s, _), c) in enumerate(zip(st.loaded, chosen, strict=True)):
        drop = {r.id for r in others[i][keep_counts[i]:]}
        for r in c:
            if r.id in drop:
                st.rejects.append(Reject(r.id, (r.id,), "real_floor",
                                         f"source {source_name(s)}: real share must be >= {cfg.real_floor}",
                                         r.content))
        chosen[i] = [r for r in c if r.id not in drop]


def account(st: MixState) -> None:
    """corpus, manifest: realised shares and the accounting (every input in the corpus or in rejects)."""
    cfg = st.cfg
    st.corpus = [(source_name(s), r) for (s, _), c in zip(st.loaded, st.chosen, strict=True) for r in c]
    if not st.corpus:
        raise UserError(str(st.out), "the mix would be empty",
                        "lower real_floor, give real records, or check the shares and sources")
    size = len(st.corpus)
    by_source = Counter(n for n, _ in st.corpus)
    by_origin = Counter(r.origin.value for _, r in st.corpus)
    reasons = Counter(r.reason for r in st.rejects)
    total_in = sum(st.inputs.values())
    st.manifest = {
        "size": size,
        "real_floor": cfg.real_floor,
        "realised_real_share": by_origin.get("real", 0) / size,
        "realised_shares_by_origin": {o: c / size for o, c in sorted(by_origin.items())},
        "sources": [{"name": source_name(s), "path": s.path, "kind": s.kind, "inputs": st.inputs[source_name(s)],
                     "target_share": sh, "selected": by_source.get(source_name(s), 0),
                     "realised_share": by_source.get(source_name(s), 0) / size, "gates": st.gates[source_name(s)]}
                    for (s, _), sh in zip(st.loaded, st.shares, strict=True)],
        "rejects_by_reason": dict(sorted(reasons.items())),
        "accounting": {"inputs": total_in, "in_corpus": size, "rejected": len(st.rejects),
                       "balanced": total_in == size + len(st.rejects)},
        "notes": st.notes,
        "seed": cfg.seed,
    }
    if not st.manifest["accounting"]["balanced"]:  # a bug, not a user error: never write an unbalanced mix
        raise AssertionError(f"mix accounting off: {st.manifest['accounting']}")


def write_mix(st: MixState) -> None:
    """<out>/corpus, rejects.jsonl, manifest.json, built beside `out` and renamed into place: a killed run
    leaves the old mix or none, never half of one."""
    import datasets

    out = st.out
    target = out.with_name(f".{out.name}.new") if out.exists() else out
    if target.exists():
        shutil.rmtree(target)
    with atomic_dir(target) as tmp:
        ds = datasets.Dataset.from_list([corpus_row(r, n) for n, r in st.corpus], features=corpus_features())
        ds.save_to_disk(str(tmp / "corpus"))
        write_jsonl(tmp / "rejects.jsonl", (r.to_dict() for r in st.rejects))
        write_json(tmp / "manifest.json", st.manifest)
        write_card(tmp, name=out.name)  # README.md: the dataset card, in place with the mix it describes
    if target != out:
        old = out.with_name(f".{out.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out, old)
        os.replace(target, out)
        shutil.rmtree(old, ignore_errors=True)


MIX_STEPS: tuple[Step, ...] = (
    refuse_existing_output, check_reports, check_reviews, load_sources, drop_duplicate_ids, apply_reviews, plan_shares,
    select_by_share, keep_real_floor, account, write_mix,
)


def build_mix(cfg: MixConfig, steps: Sequence[Step] = MIX_STEPS) -> dict[str, Any]:
    """Select, write corpus + rejects + manifest + card atomically; returns the manifest (`semisynth mix` and
    `semisynth.mix()`)."""
    check_output_dir(cfg.out, "out (--out)")  # before any source is read
    state = MixState(cfg)
    for step in steps:
        step(state)
    return state.manifest
