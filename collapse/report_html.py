"""report.html: one self-contained page (PNG plots inlined as base64) a person reads top-down:
verdicts and gates first, then plots, then the worst examples."""

from __future__ import annotations

import base64
import html
import io
import os
from typing import Any

import numpy as np

from semisynth.atomic import atomic_open


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _ratio_plot(report: dict[str, Any]) -> str | None:
    import matplotlib.pyplot as plt

    feats = {**report["irregularity"]["features"], **report["language"]["features"]}
    rows = [(k, f) for k, f in feats.items() if f.get("status") == "ok" and f.get("ratio") is not None]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(rows) + 1.2))
    y = np.arange(len(rows))
    ratios = np.array([max(f["ratio"], 1e-3) for _, f in rows])
    lo = np.array([max(f["ci"][0], 1e-3) for _, f in rows])
    hi = np.array([max(f["ci"][1], 1e-3) for _, f in rows])
    colors = ["tab:red" if f["verdict"] == "smoothed" else "tab:orange" if f["verdict"] == "exaggerated"
              else "tab:green" for _, f in rows]
    ax.errorbar(ratios, y, xerr=[ratios - lo, hi - ratios], fmt="none", ecolor="grey")
    ax.scatter(ratios, y, c=colors, zorder=3)
    base = [f.get("baseline_ratio") for _, f in rows]
    ax.scatter([b if b else np.nan for b in base], y, marker="|", c="black", s=120, label="real vs real")
    ax.axvline(1, color="black", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(y, [k for k, _ in rows])
    ax.set_xlabel("synthetic rate / real rate (95% bootstrap CI)")
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


def _pca_plot(A: np.ndarray, S: np.ndarray) -> str | None:
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    if len(A) < 3 or len(S) < 3:
        return None
    rng = np.random.default_rng(0)
    a = A[rng.choice(len(A), min(2000, len(A)), replace=False)]
    s = S[rng.choice(len(S), min(2000, len(S)), replace=False)]
    pca = PCA(n_components=2, random_state=0).fit(np.vstack([a, s]))
    pa, ps = pca.transform(a), pca.transform(s)
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.scatter(pa[:, 0], pa[:, 1], s=6, alpha=0.5, label="real")
    ax.scatter(ps[:, 0], ps[:, 1], s=6, alpha=0.5, label="synthetic")
    ax.set_title("PCA of sentence embeddings")
    ax.legend()
    return _png(fig)


def _metric_bars(report: dict[str, Any]) -> str | None:
    import matplotlib.pyplot as plt

    names, vals, bases = [], [], []
    for name, fig in report["figures"].items():
        if name.startswith("irregularity.") or fig.get("value") is None or fig.get("baseline") is None:
            continue
        names.append(name)
        vals.append(fig["value"])
        bases.append(fig["baseline"])
    if not names:
        return None
    cols = min(5, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols + 0.5, 2.4 * rows + 0.4), squeeze=False)
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    for ax, n, v, b in zip(axes.flat[: len(names)], names, vals, bases, strict=True):
        ax.bar([0, 1], [b, v], color=["grey", "tab:blue"])
        ax.set_xticks([0, 1], ["real/real", "synth"], fontsize=7)
        ax.set_title(n, fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
    fig.suptitle("metric vs same-n baseline", fontsize=9)
    fig.tight_layout()
    return _png(fig)


def _length_hist(real_words: np.ndarray, syn_words: np.ndarray) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    top = float(np.percentile(np.concatenate([real_words, syn_words]), 99)) + 1
    bins = np.linspace(0, max(top, 2), 40)
    ax.hist(real_words, bins=bins, alpha=0.5, density=True, label="real")
    ax.hist(syn_words, bins=bins, alpha=0.5, density=True, label="synthetic")
    ax.set_xlabel("words per text")
    ax.legend()
    return _png(fig)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape(str(v))


def _breakdown_tables(breakdown: dict[str, dict[str, Any]]) -> list[str]:
    """One table per slicing (origin, language, taxonomy leaf): where the smoothing is, not just how much."""
    from html import escape as e

    parts = []
    for kind, slices in breakdown.items():
        if not slices:
            continue
        parts.append(f"<h2>By {e(kind.replace('_', ' '))}</h2><table><tr><th>{e(kind)}</th><th>n synthetic</th>"
                     "<th>smoothing index</th><th>smoothed (ratio, CI)</th><th>frechet (real vs real)</th></tr>")
        for key, b in sorted(slices.items()):
            if b.get("status") != "ok":
                parts.append(f"<tr><td>{e(str(key))}</td><td colspan=4>not enough data (n={b.get('n')}, "
                             f"min {b.get('min_n')})</td></tr>")
                continue
            smoothed = ", ".join(f"{e(n)} {_fmt(f['ratio'])} [{_fmt(f['ci'][0])}, {_fmt(f['ci'][1])}]"
                                 for n, f in b["features"].items() if f["verdict"] == "smoothed") or "none"
            fr = b.get("frechet", {})
            frs = (f"{_fmt(fr['value'])} ({_fmt(fr['baseline'])})" if fr.get("status") == "ok"
                   else "not enough data")
            parts.append(f"<tr><td>{e(str(key))}</td><td>{b['n_synthetic']}</td><td>{_fmt(b['smoothing_index'])}</td>"
                         f"<td>{smoothed}</td><td>{frs}</td></tr>")
        parts.append("</table>")
    return parts


def write_report_html(path: str | os.PathLike, report: dict[str, Any], A: np.ndarray, S: np.ndarray,
                      real_words: np.ndarray, syn_words: np.ndarray) -> None:
    import matplotlib

    matplotlib.use("Agg")
    e = html.escape
    v = report["verdict"]
    g = report["gates"]
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>semisynth monitor</title><style>",
             "body{font-family:sans-serif;max-width:1000px;margin:auto;padding:1em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}.bad{color:#b00}.good{color:#070}"
             "img{max-width:100%}</style></head><body>",
             "<h1>Irregularity and collapse monitor</h1>",
             f"<p>{report['n_real']} real vs {report['n_synthetic']} synthetic records; embedder: {e(report['embedder'])}."
             f" Baseline: {e(report['baseline']['method'])}.</p>", "<h2>Verdict</h2><ul>"]
    si, bsi = v["smoothing_index"], v["baseline_smoothing_index"]
    parts.append(f"<li>Smoothing index: <b>{_fmt(si)}</b> (real vs real: {_fmt(bsi)}; 0 = all irregularities kept,"
                 " 1 = all gone)</li>")
    parts.append(f"<li>Smoothed features: <b class='bad'>{e(', '.join(v['smoothed_features']) or 'none')}</b></li>")
    parts.append(f"<li>Exaggerated features: {e(', '.join(v['exaggerated_features']) or 'none')}</li>")
    parts.append(f"<li>Embedding metrics over 2x baseline: {e(', '.join(v['metrics_over_2x_baseline']) or 'none')}</li>")
    cls = "good" if g["passed"] else "bad"
    parts.append(f"<li>Gates: <b class='{cls}'>{'passed' if g['passed'] else 'FAILED'}</b>")
    for f in g["failed"]:
        parts.append(f"<br><span class='bad'>{e(f['figure'])}: {e(f.get('reason', ''))}</span>")
    for f in g["skipped"]:
        parts.append(f"<br>skipped {e(f['figure'])}: {e(f.get('reason', ''))}")
    parts.append("</li>")
    low = report["low_resource"]["languages"]
    if low:
        parts.append(f"<li>Low-resource languages (synthetic records go to human review): {e(', '.join(low))}</li>")
    parts.append("</ul>")

    plots = [("Irregularity ratios", _ratio_plot(report)), ("Metrics vs baseline", _metric_bars(report)),
             ("Real vs synthetic (PCA)", _pca_plot(A, S)), ("Length", _length_hist(real_words, syn_words))]
    for title, src in plots:
        if src:
            parts.append(f"<h2>{e(title)}</h2><img alt='{e(title)}' src='{src}'>")

    parts.append("<h2>Irregularity features</h2><table><tr><th>feature</th><th>real</th><th>synthetic</th>"
                 "<th>ratio</th><th>95% CI</th><th>verdict</th><th>real vs real</th></tr>")
    for name, f in {**report["irregularity"]["features"], **report["language"]["features"]}.items():
        ci = f"[{_fmt(f['ci'][0])}, {_fmt(f['ci'][1])}]" if f.get("ci") else ""
        verdict = f.get("verdict") or f"not enough data (n={f.get('n')})"
        parts.append(f"<tr><td title='{e(f.get('help', ''))}'>{e(name)}</td><td>{_fmt(f.get('real_rate'))}</td>"
                     f"<td>{_fmt(f.get('synthetic_rate'))}</td><td>{_fmt(f.get('ratio'))}</td><td>{ci}</td>"
                     f"<td>{e(verdict)}</td><td>{_fmt(f.get('baseline_ratio'))}</td></tr>")
    parts.append("</table><h2>Distribution metrics</h2><table><tr><th>figure</th><th>synthetic</th>"
                 "<th>real vs real</th></tr>")
    for name, f in report["figures"].items():
        if name.startswith("irregularity."):
            continue
        if f.get("status") == "not_enough_data":
            parts.append(f"<tr><td>{e(name)}</td><td colspan=2>not enough data (n={f['n']}, min {f['min_n']})</td></tr>")
        else:
            parts.append(f"<tr><td>{e(name)}</td><td>{_fmt(f['value'])}</td><td>{_fmt(f['baseline'])}</td></tr>")
    parts.append("</table>")
    for key in ("prdc", "mauve"):
        m = report["embedding"].get(key, {})
        if m.get("status") == "ok":
            parts.append(f"<p>{key}: on subsamples of {m['subsample_n']} per side, {m['repeats']} draws, 95% t-interval.</p>")

    parts.extend(_breakdown_tables(report.get("breakdown") or {}))
    for title, key in (("Near-copies of real records", "near_copies"), ("Most smoothed vs their parent", "most_smoothed"),
                       ("Farthest from any real record", "farthest_from_real")):
        rows = report["examples"].get(key) or []
        if not rows:
            continue
        parts.append(f"<h2>{e(title)}</h2><table><tr><th>synthetic</th><th>real</th><th>score</th></tr>")
        for r in rows:
            other = r.get("nearest_real") or r.get("parent") or ""
            score = r.get("cosine", r.get("irregularity_drop"))
            parts.append(f"<tr><td>{e(r['text'])}</td><td>{e(other)}</td><td>{_fmt(score)}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    with atomic_open(path) as f:
        f.write("\n".join(parts))
