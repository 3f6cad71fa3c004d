"""Training-mix builder: compose a fine-tuning corpus from real, semi-synthetic and synthetic runs.

Why: collapse experiments say how much real data a mix must keep; this turns that into a corpus.
Rules, in order:
  1. a non-real source must come with a passing monitor report (report.json `gates.passed`), named in the
     config or found at <run>/monitor/report.json, whose fingerprint matches the source's records now (a run
     resumed or extended after monitoring does not), with at least one gate evaluated and none skipped for
     lack of data; otherwise the mix is refused unless forced (`force`, recorded with what it went past).
     A source declared `kind: real` must hold only origin: real records (never forceable: fix the config);
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
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from semisynth.atomic import atomic_dir, write_json, write_jsonl
from semisynth.collapse.monitor.fingerprint import file_sha256, records_fingerprint
from semisynth.config import CommandConfig
from semisynth.errors import UserError
from semisynth.hashing import seed_from
from semisynth.io import ColumnMapping, iter_raw_rows, read_records
from semisynth.records import Lineage, Origin, Record, Reject

LINEAGE_FIELDS = ("generator", "template", "template_hash", "model", "seed", "run_id", "taxonomy_leaf",
                  "task_id", "variant", "style", "source")
_INT_FIELDS = {"seed", "variant"}
log = logging.getLogger(__name__)


class MixSource(CommandConfig):
    path: str = Field(description="a run directory, JSONL/CSV/Parquet file or datasets folder")
    kind: Literal["real", "semi_synthetic", "synthetic"] = Field(description="what the run is")
    share: float | None = Field(None, ge=0, le=1, description="target share of the corpus (all or none given)")
    name: str | None = Field(None, description="label in the manifest (default: the path's name)")
    monitor_report: str | None = Field(None, description="monitor report.json for this run "
                                       "(default: <path>/monitor/report.json)")
    force: bool = Field(False, description="use this run even if its monitor gates failed or are missing")


class MixConfig(CommandConfig):
    """`semisynth mix`: target shares per source, a floor on the real share, monitor gates respected."""

    out: str = Field(description="output folder (must not exist unless overwrite)")
    sources: list[MixSource] = Field(min_length=1)
    real_floor: float = Field(0.0, ge=0, le=1, description="minimum share of origin=real records")
    size: int | None = Field(None, ge=1, description="total records (default: the most the shares allow)")
    seed: int = 0
    force: bool = Field(False, description="force every source past its monitor gates")
    overwrite: bool = False

    @model_validator(mode="after")
    def _shares(self) -> MixConfig:
        given = [s.share for s in self.sources if s.share is not None]
        if given and len(given) != len(self.sources):
            raise ValueError("give a share for every source or for none")
        if given and abs(sum(given) - 1.0) > 1e-6:
            raise ValueError(f"shares sum to {sum(given):.4g}, not 1")
        names = [source_name(s) for s in self.sources]
        dup = [n for n, c in Counter(names).items() if c > 1]
        if dup:
            raise ValueError(f"source name '{dup[0]}' is used twice; set distinct `name`s")
        return self


def source_name(s: MixSource) -> str:
    return s.name or Path(s.path).name


_FORCE_FIX = "set force: true for this source (--force for all) to use it anyway; the manifest records it"


def _report_path(s: MixSource) -> Path:
    return Path(s.monitor_report) if s.monitor_report else Path(s.path) / "monitor" / "report.json"


def _refuse_or_force(s: MixSource, forced: bool, entry: dict[str, Any], problems: list[tuple[str, str]]
                     ) -> dict[str, Any]:
    """Raise on the first problem unless forced; forced, record every problem it went past."""
    if not problems:
        return entry
    if not forced:
        what, fix = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise UserError(f"mix source '{source_name(s)}'", what + more, f"{fix}, or {_FORCE_FIX}")
    log.warning("mix source '%s' forced past: %s", source_name(s), "; ".join(w for w, _ in problems))
    return {**entry, "forced": True, "forced_past": [*entry.get("forced_past", []), *(w for w, _ in problems)]}


def check_gates(s: MixSource, force_all: bool) -> dict[str, Any]:
    """The report-level gate verdict for one source, before any data is read; raises UserError when a
    non-real run may not be used: no report, failed gates, no gate evaluated, gates skipped for lack of
    data, or a report without a fingerprint. The fingerprint itself is compared in `check_fingerprint`."""
    if s.kind == "real":
        return {"checked": False, "reason": "real data is not gated; every record was checked to be origin: real"}
    path = _report_path(s)
    forced = s.force or force_all
    if not path.is_file():
        return _refuse_or_force(s, forced, {"checked": False, "report": str(path)},
                                [(f"no monitor report at {path}",
                                  "run `semisynth monitor --synthetic <run>` on it and set monitor_report")])
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        gates = report["gates"]
        passed, failed = bool(gates["passed"]), list(gates.get("failed") or [])
    except (json.JSONDecodeError, KeyError, TypeError):
        raise UserError(str(path), "not a monitor report (no gates.passed)",
                        "point monitor_report at the report.json the monitor wrote") from None
    skipped = list(gates.get("skipped") or [])
    evaluated = gates.get("evaluated", len(failed) + len(gates.get("ok") or []))
    fp = report.get("fingerprint") if isinstance(report.get("fingerprint"), dict) else None
    problems: list[tuple[str, str]] = []
    if failed or not passed and evaluated:
        what = ", ".join(str(f.get("figure", f)) if isinstance(f, dict) else str(f) for f in failed) or "unknown"
        problems.append((f"failed its monitor gates ({what}) in {path}", "fix the run"))
    if not evaluated:
        problems.append((f"no monitor gate was evaluated in {path} (all {len(skipped)} skipped for lack of data), "
                         "so nothing says the run is fit", "monitor it against more data, or gate figures it has"))
    elif skipped:
        names = ", ".join(str(g.get("figure", g)) if isinstance(g, dict) else str(g) for g in skipped)
        problems.append((f"monitor gates skipped for lack of data ({names}) in {path}",
                         "monitor it against more data, or drop those gates from the monitor config"))
    if fp is None or not isinstance(fp.get("synthetic"), dict) or "records" not in fp["synthetic"]:
        problems.append((f"{path} has no fingerprint of the records it judged (written by an older semisynth)",
                         "rerun `semisynth monitor` on the run as it is now"))
        fp = None
    entry = {"checked": True, "report": str(path), "report_sha256": file_sha256(path), "passed": passed,
             "status": gates.get("status") or ("passed" if passed else "failed"), "evaluated": evaluated,
             "failed": failed, "skipped": [g.get("figure", g) if isinstance(g, dict) else g for g in skipped],
             "trusted_fingerprint": None if fp is None else {
                 "records": fp["synthetic"]["records"], "n": fp["synthetic"].get("n"),
                 "config": fp.get("config"), "read_as": fp["synthetic"].get("read_as") or {}}}
    return _refuse_or_force(s, forced, entry, problems)


_READ_ORIGIN = {"real": "real", "semi_synthetic": "paraphrase", "synthetic": "synthetic"}


def check_fingerprint(s: MixSource, gate: dict[str, Any], records: list[Record], force_all: bool) -> dict[str, Any]:
    """Compare the fingerprint the report trusted with the source's records now (read as the monitor read them)."""
    trusted = gate.get("trusted_fingerprint")
    if not trusted:
        return gate
    read_as = trusted.get("read_as") or {}
    text_field = read_as.get("text_field") or "text"
    origin = read_as.get("default_origin") or _READ_ORIGIN[s.kind]
    same_reading = text_field == "text" and origin == _READ_ORIGIN[s.kind]
    now_records = records if same_reading else read_records(s.path, ColumnMapping(text=text_field),
                                                            default_origin=origin)
    now = records_fingerprint(now_records)
    entry = {**gate, "fingerprint_now": now["records"], "fingerprint_match": now["records"] == trusted["records"]}
    problems = []
    if not entry["fingerprint_match"]:
        judged = f" ({read_as['path']})" if read_as.get("path") else ""
        problems.append((f"its records changed since the monitor judged them: the report{judged} fingerprinted "
                         f"{trusted.get('n')} records ({trusted['records'][:12]}), {s.path} now holds {now['n']} "
                         f"({now['records'][:12]}); was the run resumed or extended after monitoring?",
                         "rerun `semisynth monitor` on the run as it is now"))
    return _refuse_or_force(s, s.force or force_all, entry, problems)


def check_real(s: MixSource, records: list[Record]) -> None:
    """A source declared kind: real must hold only origin: real records (else it would enter the mix ungated)."""
    bad = [r for r in records if r.origin != Origin.REAL]
    if not bad:
        return
    where = str(s.path)
    for row in iter_raw_rows(s.path):  # only on the error path: find the first offending line
        if row.data.get("id") == bad[0].id:
            where = row.source
            break
    origins = ", ".join(f"{o} x{c}" for o, c in Counter(r.origin.value for r in bad).most_common())
    raise UserError(where, f"mix source '{source_name(s)}' is declared kind: real but {len(bad)} of {len(records)} "
                           f"records are not origin: real ({origins})",
                    "declare it kind: synthetic (or semi_synthetic) and give its monitor report (monitor_report)")


def _largest_remainder(shares: Sequence[float], total: int) -> list[int]:
    raw = [s * total for s in shares]
    counts = [math.floor(r + 1e-9) for r in raw]
    rest = total - sum(counts)
    for i in sorted(range(len(raw)), key=lambda i: (counts[i] - raw[i], i))[:max(rest, 0)]:
        counts[i] += 1
    return counts


def _row(r: Record, source: str) -> dict[str, Any]:
    lin = r.lineage
    return {
        "id": r.id, "origin": r.origin.value, "text": r.text,
        "messages": [{"role": m.role, "content": m.content} for m in r.messages] if r.messages else None,
        "parents": list(r.parents), "language": r.language,
        "lineage": {k: (getattr(lin, k) if k in _INT_FIELDS else (None if getattr(lin, k) is None
                                                                  else str(getattr(lin, k))))
                    for k in LINEAGE_FIELDS},
        "lineage_sampling": json.dumps(dict(lin.sampling), sort_keys=True, default=str),
        "meta_json": json.dumps(dict(r.meta), sort_keys=True, default=str),
        "mix_source": source,
    }


def _features() -> Any:
    import datasets

    s = datasets.Value("string")
    lineage = {k: datasets.Value("int64") if k in _INT_FIELDS else s for k in LINEAGE_FIELDS}
    return datasets.Features({
        "id": s, "origin": s, "text": s, "messages": datasets.List({"role": s, "content": s}),
        "parents": datasets.List(s), "language": s, "lineage": lineage, "lineage_sampling": s,
        "meta_json": s, "mix_source": s,
    })


def load_mix(corpus_dir: str | Path) -> list[Record]:
    """The corpus as records again (lineage, sampling and meta restored)."""
    import datasets

    ds = datasets.load_from_disk(str(corpus_dir))
    out = []
    for row in ds:
        lin = {k: v for k, v in (row["lineage"] or {}).items() if v is not None}
        lin["sampling"] = json.loads(row["lineage_sampling"] or "{}")
        out.append(Record(id=row["id"], origin=Origin(row["origin"]), text=row["text"],
                          messages=tuple(row["messages"]) if row["messages"] else None,
                          parents=tuple(row["parents"] or ()), language=row["language"] or "und",
                          lineage=Lineage.from_dict(lin), meta=json.loads(row["meta_json"] or "{}")))
    return out


def build_mix(cfg: MixConfig) -> dict[str, Any]:
    """Select, write corpus + rejects + manifest atomically; returns the manifest."""
    out = Path(cfg.out)
    if out.exists() and not cfg.overwrite:
        raise UserError(str(out), "output folder exists", "choose a new --out or pass --overwrite")
    gates = {source_name(s): check_gates(s, cfg.force) for s in cfg.sources}  # refuse before reading much
    loaded: list[tuple[MixSource, list[Record]]] = []
    for s in cfg.sources:
        if not Path(s.path).exists():
            raise UserError(f"mix source '{source_name(s)}'", f"{s.path} not found", "check the source path")
        loaded.append((s, read_records(s.path, default_origin=_READ_ORIGIN[s.kind])))
    for s, recs in loaded:
        if s.kind == "real":
            check_real(s, recs)
        else:
            gates[source_name(s)] = check_fingerprint(s, gates[source_name(s)], recs, cfg.force)
    rejects: list[Reject] = []
    seen: set[str] = set()
    eligible: list[list[Record]] = []
    inputs = Counter()
    for s, recs in loaded:
        name = source_name(s)
        inputs[name] = len(recs)
        keep = []
        for r in recs:
            if r.id in seen:
                rejects.append(Reject(r.id, (r.id,), "duplicate_id", f"source {name}: id already taken", r.content))
                continue
            seen.add(r.id)
            keep.append(r)
        eligible.append(keep)

    avail = [len(e) for e in eligible]
    shares = [s.share for s in cfg.sources] if cfg.sources[0].share is not None else \
        [a / max(sum(avail), 1) for a in avail]
    caps = [math.floor(a / sh + 1e-9) for a, sh in zip(avail, shares, strict=True) if sh > 0]
    max_total = min(caps) if caps else 0
    total = min(cfg.size, max_total) if cfg.size else max_total
    notes = []
    if cfg.size and cfg.size > max_total:
        notes.append(f"size {cfg.size} reduced to {max_total}: the scarcest source limits the shares")
    counts = _largest_remainder(shares, total)

    chosen: list[list[Record]] = []
    for (s, _), recs, c, share in zip(loaded, eligible, counts, shares, strict=True):
        order = np.random.default_rng(seed_from("mix", cfg.seed, source_name(s))).permutation(len(recs))
        for i in order[c:]:
            r = recs[i]
            rejects.append(Reject(r.id, (r.id,), "over_share_cap", f"source {source_name(s)}: share "
                                  f"{share:.4g} of {total} reached", r.content))
        chosen.append([recs[i] for i in order[:c]])

    n_real = sum(r.origin == Origin.REAL for c in chosen for r in c)
    n_other = sum(len(c) for c in chosen) - n_real
    if cfg.real_floor > 0 and n_other and n_real / max(n_real + n_other, 1) < cfg.real_floor - 1e-12:
        allowed = math.floor(n_real * (1 - cfg.real_floor) / cfg.real_floor + 1e-9)
        notes.append(f"real share {n_real / (n_real + n_other):.3f} under the floor {cfg.real_floor}: "
                     f"kept {allowed} of {n_other} non-real records")
        others = [[r for r in c if r.origin != Origin.REAL] for c in chosen]
        keep_counts = _largest_remainder([len(o) / n_other for o in others], allowed) if allowed else [0] * len(others)
        keep_counts = [min(k, len(o)) for k, o in zip(keep_counts, others, strict=True)]
        for i, ((s, _), c) in enumerate(zip(loaded, chosen, strict=True)):
            drop = {r.id for r in others[i][keep_counts[i]:]}
            for r in c:
                if r.id in drop:
                    rejects.append(Reject(r.id, (r.id,), "real_floor",
                                          f"source {source_name(s)}: real share must be >= {cfg.real_floor}",
                                          r.content))
            chosen[i] = [r for r in c if r.id not in drop]
    corpus = [(source_name(s), r) for (s, _), c in zip(loaded, chosen, strict=True) for r in c]
    if not corpus:
        raise UserError(str(out), "the mix would be empty",
                        "lower real_floor, give real records, or check the shares and sources")

    size = len(corpus)
    by_source = Counter(n for n, _ in corpus)
    by_origin = Counter(r.origin.value for _, r in corpus)
    reasons = Counter(r.reason for r in rejects)
    total_in = sum(inputs.values())
    manifest = {
        "size": size,
        "real_floor": cfg.real_floor,
        "realised_real_share": by_origin.get("real", 0) / size,
        "realised_shares_by_origin": {o: c / size for o, c in sorted(by_origin.items())},
        "sources": [{"name": source_name(s), "path": s.path, "kind": s.kind, "inputs": inputs[source_name(s)],
                     "target_share": sh, "selected": by_source.get(source_name(s), 0),
                     "realised_share": by_source.get(source_name(s), 0) / size, "gates": gates[source_name(s)]}
                    for (s, _), sh in zip(loaded, shares, strict=True)],
        "rejects_by_reason": dict(sorted(reasons.items())),
        "accounting": {"inputs": total_in, "in_corpus": size, "rejected": len(rejects),
                       "balanced": total_in == size + len(rejects)},
        "notes": notes,
        "seed": cfg.seed,
    }
    if not manifest["accounting"]["balanced"]:  # a bug, not a user error: never write an unbalanced mix
        raise AssertionError(f"mix accounting off: {manifest['accounting']}")

    import datasets

    # Built beside `out` and renamed into place: a killed run leaves the old mix or none, never half of one.
    target = out.with_name(f".{out.name}.new") if out.exists() else out
    if target.exists():
        shutil.rmtree(target)
    with atomic_dir(target) as tmp:
        ds = datasets.Dataset.from_list([_row(r, n) for n, r in corpus], features=_features())
        ds.save_to_disk(str(tmp / "corpus"))
        write_jsonl(tmp / "rejects.jsonl", (r.to_dict() for r in rejects))
        write_json(tmp / "manifest.json", manifest)
    if target != out:
        old = out.with_name(f".{out.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out, old)
        os.replace(target, out)
        shutil.rmtree(old, ignore_errors=True)
    return manifest
