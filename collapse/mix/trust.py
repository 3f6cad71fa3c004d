"""Whether a source may enter the mix: its monitor report passes its gates (recomputed here from the report's own
figures, never trusted from `gates.passed`), judged these very records read the way the mix reads them, against a
real reference that is the run's seeds or a real source of the same mix; and a source declared real holds only
real records. Refused unless forced; forced, the manifest records what was gone past."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

from semisynth.collapse.mix.config import MixSource, source_name
from semisynth.collapse.monitor.fingerprint import file_sha256, records_fingerprint
from semisynth.errors import UserError
from semisynth.io import ColumnMapping, iter_raw_rows, read_records
from semisynth.records import Origin, Record

log = logging.getLogger(__name__)

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
    report = _read_report(path)
    gates = report["gates"]
    recomputed = _recompute_gates(report, path)
    passed, failed = recomputed["passed"], list(recomputed.get("failed") or [])
    skipped = list(recomputed.get("skipped") or [])
    evaluated = recomputed["evaluated"]
    fp = report.get("fingerprint") if isinstance(report.get("fingerprint"), dict) else None
    problems: list[tuple[str, str]] = []
    if bool(gates.get("passed")) != passed:
        problems.append((f"{path} says its gates {'passed' if gates.get('passed') else 'failed'}, but its own "
                         f"figures {'pass' if passed else 'fail'} them (was report.json edited?)",
                         "rerun `semisynth monitor` on the run"))
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
    if fp is None or not isinstance(fp.get("synthetic"), dict) or not isinstance(fp["synthetic"].get("records"), str):
        problems.append((f"{path} has no fingerprint of the records it judged (written by an older semisynth)",
                         "rerun `semisynth monitor` on the run as it is now"))
        fp = None
    real_fp = fp.get("real") if fp is not None and isinstance(fp.get("real"), dict) else {}
    entry = {"checked": True, "report": str(path), "report_sha256": file_sha256(path), "passed": passed,
             "status": recomputed["status"], "evaluated": evaluated, "gates_recomputed": True,
             "failed": failed, "skipped": [g.get("figure", g) if isinstance(g, dict) else g for g in skipped],
             "trusted_fingerprint": None if fp is None else {
                 "records": fp["synthetic"]["records"], "n": fp["synthetic"].get("n"),
                 "config": fp.get("config"), "read_as": fp["synthetic"].get("read_as") or {},
                 "real_records": real_fp.get("records") if isinstance(real_fp.get("records"), str) else None,
                 "real_n": real_fp.get("n"),
                 "real_read_as": real_fp.get("read_as") if isinstance(real_fp.get("read_as"), dict) else {}}}
    return _refuse_or_force(s, forced, entry, problems)


def _read_report(path: Path) -> dict[str, Any]:
    """report.json as a dict with a gates dict, or one line saying it is not a monitor report."""
    fix = "point monitor_report at the report.json `semisynth monitor` wrote (or rerun the monitor)"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UserError(str(path), "not a monitor report (not UTF-8 text: a binary file?)", fix) from None
    except json.JSONDecodeError as e:
        raise UserError(f"{path}:{e.lineno}", f"not a monitor report (invalid JSON: {e.msg})", fix) from None
    except OSError as e:
        raise UserError(str(path), f"cannot read the monitor report ({e.strerror})", fix) from None
    if not isinstance(report, dict) or not isinstance(report.get("gates"), dict) or "passed" not in report["gates"]:
        raise UserError(str(path), "not a monitor report (no gates.passed)", fix)
    for key in ("figures", "config"):
        if not isinstance(report.get(key), dict):
            raise UserError(str(path), f"not a monitor report this semisynth can check (no '{key}' object)", fix)
    return report


def _recompute_gates(report: dict[str, Any], path: Path) -> dict[str, Any]:
    """The gates evaluated again from the report's own figures and config: what the mix trusts."""
    from pydantic import ValidationError

    from semisynth.collapse.monitor.config import Gate
    from semisynth.collapse.monitor.report import evaluate_gates

    try:
        gates = [Gate.model_validate(g) for g in report["config"].get("gates") or []]
        figures = {k: v for k, v in report["figures"].items() if isinstance(v, dict)}
        return evaluate_gates(gates, figures)
    except (ValidationError, UserError, TypeError, AttributeError) as e:
        raise UserError(str(path), f"its gates cannot be evaluated from its figures ({str(e).splitlines()[0]})",
                        "rerun `semisynth monitor` on the run with this semisynth") from None


READ_ORIGIN = {"real": "real", "semi_synthetic": "paraphrase", "synthetic": "synthetic"}


def check_fingerprint(s: MixSource, gate: dict[str, Any], records: list[Record], force_all: bool
                      ) -> tuple[dict[str, Any], list[Record]]:
    """Compare the fingerprint the report trusted with the source's records now (read as the monitor read them);
    returns the gate entry and the records to ingest: exactly the ones the monitor judged (its column, its origin),
    so a file judged on `body` never puts its unjudged `text` column into the mix."""
    trusted = gate.get("trusted_fingerprint")
    if not trusted:
        return gate, records
    read_as = trusted.get("read_as") or {}
    text_field = read_as.get("text_field") or "text"
    origin = read_as.get("default_origin") or READ_ORIGIN[s.kind]
    same_reading = text_field == "text" and origin == READ_ORIGIN[s.kind]
    now_records = records if same_reading else read_records(s.path, ColumnMapping(text=text_field),
                                                            default_origin=origin)
    now = records_fingerprint(now_records)
    entry = {**gate, "fingerprint_now": now["records"], "fingerprint_match": now["records"] == trusted["records"],
             "ingested_as": {"text_field": text_field, "default_origin": origin}}
    problems = []
    if not entry["fingerprint_match"]:
        judged = f" ({read_as['path']})" if read_as.get("path") else ""
        problems.append((f"its records changed since the monitor judged them: the report{judged} fingerprinted "
                         f"{trusted.get('n')} records ({trusted['records'][:12]}), {s.path} now holds {now['n']} "
                         f"({now['records'][:12]}); was the run resumed or extended after monitoring?",
                         "rerun `semisynth monitor` on the run as it is now"))
    return _refuse_or_force(s, s.force or force_all, entry, problems), now_records


def check_real_reference(s: MixSource, gate: dict[str, Any], real_sources: dict[str, list[Record]],
                         force_all: bool) -> dict[str, Any]:
    """The report's real side must be what the synthetic records are measured against: the run's own seeds
    (<run>/seeds.jsonl) or a real source of this mix. A report made against the run itself, or against some other
    corpus, says nothing about whether the run keeps the real distribution."""
    trusted = gate.get("trusted_fingerprint")
    if not trusted:
        return gate
    real_fp = trusted.get("real_records")
    candidates: dict[str, str] = {}
    seeds = Path(s.path) / "seeds.jsonl"
    if seeds.is_file():
        candidates[str(seeds)] = records_fingerprint(read_records(seeds, default_origin="real"))["records"]
    for name, recs in real_sources.items():
        candidates[f"real source '{name}'"] = records_fingerprint(recs)["records"]
    matched = next((where for where, fp in candidates.items() if fp == real_fp), None)
    entry = {**gate, "real_reference": matched}
    problems = []
    if real_fp is None:
        problems.append((f"{gate['report']} does not fingerprint its real corpus", "rerun `semisynth monitor`"))
    elif real_fp == trusted["records"] or _same_file((trusted.get("real_read_as") or {}).get("path"),
                                                     (trusted.get("read_as") or {}).get("path")):
        problems.append((f"{gate['report']} compared the run with itself (its real and synthetic corpora are the "
                         "same records)", "monitor it with --real <run>/seeds.jsonl or the real data it imitates"))
    elif matched is None:
        tried = ", ".join(candidates) or "none found"
        problems.append((f"{gate['report']} measured the run against a real corpus of {trusted.get('real_n')} "
                         f"records that is neither the run's seeds nor a real source of this mix (tried: {tried})",
                         "monitor it with --real <run>/seeds.jsonl, or add the real data it was judged against as "
                         "a kind: real source"))
    return _refuse_or_force(s, s.force or force_all, entry, problems)


def _same_file(a: Any, b: Any) -> bool:
    try:
        return bool(a) and bool(b) and Path(a).resolve() == Path(b).resolve()
    except (OSError, RuntimeError, TypeError):
        return False


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

