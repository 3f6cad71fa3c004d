"""Whether a source may enter the mix: its monitor report passed, judged these very records, and a source
declared real holds only real records. Refused unless forced; forced, the manifest records what was gone past."""

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


READ_ORIGIN = {"real": "real", "semi_synthetic": "paraphrase", "synthetic": "synthetic"}


def check_fingerprint(s: MixSource, gate: dict[str, Any], records: list[Record], force_all: bool) -> dict[str, Any]:
    """Compare the fingerprint the report trusted with the source's records now (read as the monitor read them)."""
    trusted = gate.get("trusted_fingerprint")
    if not trusted:
        return gate
    read_as = trusted.get("read_as") or {}
    text_field = read_as.get("text_field") or "text"
    origin = read_as.get("default_origin") or READ_ORIGIN[s.kind]
    same_reading = text_field == "text" and origin == READ_ORIGIN[s.kind]
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

