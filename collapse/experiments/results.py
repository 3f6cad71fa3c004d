"""An experiment's results: tidy rows gathered from the done generations, results.csv, summaries over seeds
and report.html."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from semisynth.atomic import atomic_open
from semisynth.collapse.experiments.config import RESULT_COLUMNS, ExperimentConfig
from semisynth.records import Record


def collect_results(out: Path) -> list[dict[str, Any]]:
    """Tidy rows from every done generation (so a resumed run reports everything, not only the new part)."""
    rows = []
    for done in sorted((out / "runs").glob("*/seed*/gen*/DONE")):
        gdir = done.parent
        info = json.loads((gdir / "model.json").read_text(encoding="utf-8"))
        first = _first_record(gdir / "data.jsonl")
        rf = float(first.meta.get("real_fraction", 0.0)) if first else 0.0
        metrics = json.loads((gdir / "metrics.json").read_text(encoding="utf-8"))["metrics"]
        for name, value in sorted(metrics.items()):
            rows.append({"generation": info["generation"], "mode": info["mode"], "real_fraction": rf,
                         "seed": info["seed"], "metric": name, "value": value})
    rows.sort(key=lambda r: (r["mode"], r["real_fraction"], r["seed"], r["metric"], r["generation"]))
    return rows


def _first_record(path: Path) -> Record | None:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                return Record.from_dict(json.loads(line))
    return None


def write_results_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    with atomic_open(path) as f:
        w = csv.DictWriter(f, fieldnames=RESULT_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def read_results_csv(path: str | Path) -> list[dict[str, Any]]:
    with Path(path).open(encoding="utf-8", newline="") as f:
        return [{"generation": int(r["generation"]), "mode": r["mode"], "real_fraction": float(r["real_fraction"]),
                 "seed": int(r["seed"]), "metric": r["metric"], "value": float(r["value"])}
                for r in csv.DictReader(f)]


def _values(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, float, str], dict[int, list[float]]]:
    """(mode, real_fraction, metric) -> generation -> the values over seeds."""
    vals: dict[tuple[str, float, str], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        vals[(r["mode"], r["real_fraction"], r["metric"])][r["generation"]].append(float(r["value"]))
    return vals


def summarise(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, float, str], dict[int, tuple[float, float, int]]]:
    """(mode, real_fraction, metric) -> generation -> (mean, std, n seeds)."""
    return _stats(_values(rows))


def _stats(values: dict[tuple[str, float, str], dict[int, list[float]]]
           ) -> dict[tuple[str, float, str], dict[int, tuple[float, float, int]]]:
    return {key: {g: (float(np.mean(v)), float(np.std(v)), len(v)) for g, v in sorted(by_gen.items())}
            for key, by_gen in values.items()}


def write_report(path: Path, rows: Sequence[dict[str, Any]], cfg: ExperimentConfig) -> None:
    """One panel per metric: mean over seeds as a line, min..max over seeds shaded; real baselines dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = _values(rows)
    summary = _stats(values)
    metrics = sorted({m for (_, _, m) in summary if not m.endswith("_real_baseline")})
    baselines = {m[: -len("_real_baseline")]: v for (_, _, m), v in summary.items() if m.endswith("_real_baseline")}
    conds = sorted({(mode, f) for (mode, f, _) in summary})
    panels = []
    for metric in metrics:
        fig, ax = plt.subplots(figsize=(5.2, 3.4))
        for mode, f in conds:
            by_gen = summary.get((mode, f, metric))
            if not by_gen:
                continue
            gens = sorted(by_gen)
            vals = values[(mode, f, metric)]
            mean = [by_gen[g][0] for g in gens]
            label = f"mix f={f:g}" if mode == "mix" else mode
            (line,) = ax.plot(gens, mean, marker="o", ms=3, label=label)
            ax.fill_between(gens, [min(vals[g]) for g in gens], [max(vals[g]) for g in gens],
                            color=line.get_color(), alpha=0.2)
        if metric in baselines:
            ax.axhline(np.mean([v[0] for v in baselines[metric].values()]), color="grey", ls="--", lw=1,
                       label="real vs real")
        ax.set_xlabel("generation")
        ax.set_title(metric)
        ax.legend(fontsize=7)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90)
        plt.close(fig)
        panels.append((metric, base64.b64encode(buf.getvalue()).decode()))
    last = max((r["generation"] for r in rows), default=0)
    table = ["<tr><th>condition</th>" + "".join(f"<th>{html.escape(m)}</th>" for m in metrics) + "</tr>"]
    for mode, f in conds:
        cells = []
        for m in metrics:
            v = summary.get((mode, f, m), {}).get(last)
            cells.append(f"<td>{v[0]:.4g} &plusmn; {v[1]:.2g}</td>" if v else "<td></td>")
        table.append(f"<tr><td>{html.escape(mode if mode != 'mix' else f'mix f={f:g}')}</td>{''.join(cells)}</tr>")
    seeds = sorted({r["seed"] for r in rows})
    body = "".join(f'<figure><img alt="{html.escape(m)}" src="data:image/png;base64,{b}"></figure>' for m, b in panels)
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>semisynth collapse: {html.escape(cfg.family)}</title>
<style>body{{font-family:sans-serif;margin:1.5em}}figure{{display:inline-block;margin:.3em}}
table{{border-collapse:collapse;font-size:12px}}td,th{{border:1px solid #ccc;padding:3px 6px}}</style></head><body>
<h1>Iterative collapse: {html.escape(cfg.family)}</h1>
<p>n = {cfg.sample_size} per generation, generations 0..{last}, seeds {html.escape(', '.join(map(str, seeds)))}.
Lines: mean over seeds; shaded: min..max over seeds; dashed: the metric between two real samples of the same size.</p>
<h2>Generation {last}</h2><table>{''.join(table)}</table>
<h2>Curves</h2>{body}
</body></html>"""
    with atomic_open(path) as f:
        f.write(doc)

