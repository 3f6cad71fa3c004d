"""A monitor report.json shaped as run_monitor writes it, for tests of what reads reports (the mix): its gates
follow from its own figures and config (the mix recomputes them), its fingerprint from the same function."""

from __future__ import annotations

import json
from pathlib import Path

from semisynth.collapse.monitor.config import Gate
from semisynth.collapse.monitor.fingerprint import monitor_fingerprint
from semisynth.collapse.monitor.report import evaluate_gates
from semisynth.io import read_records
from semisynth.records import Record


def report_dict(run: Path, *, passed: bool = True, skipped: tuple[str, ...] = (), evaluated: bool = True,
                real: list[Record] | None = None, default_origin: str = "synthetic") -> dict:
    """An mmd gate that passes (value 1 x baseline), fails (3 x) or is skipped (no data), plus one skipped gate
    per name in `skipped`; `real`: the records the report says it measured the run against."""
    gates = [Gate(figure="mmd", max_baseline_ratio=2.0), *(Gate(figure=f, max=1.0) for f in skipped)]
    figures: dict = {"mmd": ({"value": 1.0 if passed else 3.0, "baseline": 1.0} if evaluated else
                             {"status": "not_enough_data", "min_n": 50, "n": 3})}
    figures.update({f: {"status": "not_enough_data", "min_n": 50, "n": 3} for f in skipped})
    config = {"seed": 0, "gates": [g.model_dump(mode="json", exclude_none=True) for g in gates]}
    fp = monitor_fingerprint(real or [], read_records(run, default_origin=default_origin), config,
                             {"synthetic": {"path": str(run), "text_field": "text", "default_origin": default_origin}})
    return {"gates": evaluate_gates(gates, figures), "figures": figures, "config": config, "fingerprint": fp}


def write_report(run: Path, path: Path | None = None, **kw) -> Path:
    path = path or run / "monitor" / "report.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report_dict(run, **kw)))
    return path
