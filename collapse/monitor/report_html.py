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

# Inconclusive is never green: only an interval inside the band earns "preserved".
VERDICT_COLOURS = {"smoothed": "tab:red", "exaggerated": "tab:orange", "preserved": "tab:green",
                   "inconclusive": "tab:gray", "different": "tab:red"}
VERDICT_CLASS = {"smoothed": "bad", "exaggerated": "warn", "different": "bad", "preserved": "good",
                 "inconclusive": "unsure", "distinguishable": "bad", "indistinguishable": "good"}


def _verdict(v: str | None) -> str:
    if not v:
        return "not enough data"
    return f"<b class='{VERDICT_CLASS.get(v, 'unsure')}'>{html.escape(v)}</b>"


def _ci(ci: Any) -> str:
    return f"[{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci else ""


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
    colors = [VERDICT_COLOURS.get(f.get("verdict"), "tab:gray") for _, f in rows]
    ax.errorbar(ratios, y, xerr=[ratios - lo, hi - ratios], fmt="none", ecolor="grey")
    ax.scatter(ratios, y, c=colors, zorder=3)
    base = [f.get("baseline_ratio") for _, f in rows]
    ax.scatter([b if b else np.nan for b in base], y, marker="|", c="black", s=120, label="real vs real")
    ax.axvline(1, color="black", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(y, [k for k, _ in rows])
    ax.axvspan(report["irregularity"]["thresholds"]["smoothed_below"],
               report["irregularity"]["thresholds"]["exaggerated_above"], color="tab:green", alpha=0.08)
    ax.set_xlabel("synthetic rate / real rate (95% CI); shaded: equivalence band; red smoothed, orange "
                  "exaggerated, green preserved, grey inconclusive")
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


def _verdict_ci(f: dict[str, Any]) -> str:
    """The interval the verdict was read from, so what is shown never contradicts the verdict beside it: the
    Holm-level difference interval for smoothed / exaggerated / inconclusive, the TOST interval for preserved."""
    key = "ci_equivalence" if f.get("verdict") == "preserved" else "ci_difference"
    if not f.get(key):
        return _ci(f.get("ci"))
    return f"{_ci(f[key])} ({100 * f[key + '_level']:.2f}%)"


def _breakdown_tables(breakdown: dict[str, dict[str, Any]]) -> list[str]:
    """One table per slicing (origin, language, taxonomy leaf): where the smoothing is, not just how much."""
    from html import escape as e

    parts = []
    for kind, slices in breakdown.items():
        if not slices:
            continue
        parts.append(f"<h2>By {e(kind.replace('_', ' '))}</h2><table><tr><th>{e(kind)}</th><th>n synthetic</th>"
                     "<th>smoothing index [CI], verdict</th><th>smoothed (ratio, CI)</th><th>inconclusive</th>"
                     "<th>kinds different</th><th>frechet (real vs real)</th></tr>")
        for key, b in sorted(slices.items()):
            if b.get("status") != "ok":
                parts.append(f"<tr><td>{e(str(key))}</td><td colspan=6>not enough data (n={b.get('n')}, "
                             f"min {b.get('min_n')})</td></tr>")
                continue
            smoothed = ", ".join(f"{e(n)} {_fmt(f['ratio'])} {_verdict_ci(f)}"
                                 for n, f in b["features"].items() if f["verdict"] == "smoothed") or "none"
            fr = b.get("frechet", {})
            frs = (f"{_fmt(fr['value'])} ({_fmt(fr['baseline'])})" if fr.get("status") == "ok"
                   else "not enough data")
            unsure = ", ".join(e(n) for n, f in b["features"].items() if f["verdict"] == "inconclusive") or "none"
            kinds = ", ".join(e(n) for n, f in (b.get("kinds") or {}).items() if f["verdict"] == "different") or "none"
            parts.append(f"<tr><td>{e(str(key))}</td><td>{b['n_synthetic']}</td><td>{_fmt(b['smoothing_index'])} "
                         f"{_ci(b.get('smoothing_index_ci'))} {_verdict(b.get('smoothing_index_verdict'))}</td>"
                         f"<td>{smoothed}</td><td class='unsure'>{unsure}</td><td>{kinds}</td><td>{frs}</td></tr>")
        parts.append("</table>")
    return parts


def _two_sample_section(ts: dict[str, Any]) -> list[str]:
    """What gives the synthetic side away: the classifier's n-grams and its most confident records."""
    from html import escape as e

    parts = []
    ng = ts.get("ngram") or {}
    if ng.get("status") == "ok":
        parts.append(f"<h2>What gives the synthetic side away</h2><p>{e(ts.get('method', ''))}; "
                     f"{ng['n_per_side']} per side, {ng['folds']}-fold. Character n-grams the classifier ties to "
                     "each side (a reviewer should look at these):</p><table><tr><th>toward synthetic</th>"
                     "<th>toward real (missing from synthetic)</th></tr>")
        for a, b in zip(ng.get("ngrams_toward_synthetic", []), ng.get("ngrams_toward_real", []), strict=False):
            parts.append(f"<tr><td><code>{e(repr(a['ngram']))}</code> {_fmt(a['weight'])}</td>"
                         f"<td><code>{e(repr(b['ngram']))}</code> {_fmt(b['weight'])}</td></tr>")
        parts.append("</table><h3>Most synthetic-looking records (out-of-fold probability)</h3><table>")
        for r in ng.get("most_synthetic_looking", [])[:10]:
            parts.append(f"<tr><td>{_fmt(r['p_synthetic'])}</td><td>{e(r.get('text', ''))}</td></tr>")
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
             ".warn{color:#c60}.unsure{color:#777}"
             "img{max-width:100%}</style></head><body>",
             "<h1>Irregularity and collapse monitor</h1>",
             f"<p>{report['n_real']} real vs {report['n_synthetic']} synthetic records; embedder: {e(report['embedder'])}."
             f" Baseline: {e(report['baseline']['method'])}.</p>", "<h2>Verdict</h2><ul>"]
    si, bsi = v["smoothing_index"], v["baseline_smoothing_index"]
    null = v.get("smoothing_index_null")
    parts.append(f"<li>Smoothing index: <b>{_fmt(si)}</b> {_ci(v.get('smoothing_index_ci'))} "
                 f"{_verdict(v.get('smoothing_index_verdict'))} (real vs real at the same n: {_ci(null)}, "
                 f"p = {_fmt(v.get('smoothing_index_p'))}; one real half vs the other: {_fmt(bsi)}; "
                 "0 = all irregularities kept, 1 = all gone)</li>")
    if v.get("exaggeration_index") is not None:
        parts.append(f"<li>Exaggeration index: <b>{_fmt(v['exaggeration_index'])}</b> "
                     f"{_ci(v.get('exaggeration_index_ci'))} {_verdict(v.get('exaggeration_index_verdict'))} "
                     f"(p = {_fmt(v.get('exaggeration_index_p'))}; 0 = no irregularity added, 1 = every rate doubled "
                     "or more)</li>")
    for name, c in (v.get("classifier_two_sample") or {}).items():
        parts.append(f"<li>Classifier two-sample test ({e(name)}): AUC <b>{_fmt(c['auc'])}</b> {_ci(c['ci'])} "
                     f"{_verdict(c['verdict'])} (real vs real: {_fmt(c.get('baseline_auc'))}; 0.5 = cannot tell "
                     "synthetic from real)</li>")
    parts.append(f"<li>Smoothed features: <b class='bad'>{e(', '.join(v['smoothed_features']) or 'none')}</b></li>")
    parts.append(f"<li>Exaggerated features: <b class='warn'>{e(', '.join(v['exaggerated_features']) or 'none')}"
                 "</b></li>")
    if v.get("kind_different_features") is not None:
        parts.append("<li>Irregularity of a different kind: <b class='bad'>"
                     f"{e(', '.join(v['kind_different_features']) or 'none')}</b></li>")
        parts.append(f"<li>Preserved (interval inside the band): <b class='good'>"
                     f"{e(', '.join(v['preserved_features']) or 'none')}</b></li>")
        parts.append(f"<li>Inconclusive (this n cannot tell): <b class='unsure'>"
                     f"{e(', '.join(v['inconclusive_features']) or 'none')}</b></li>")
        parts.append(f"<li>Verdicts at family-wise error {_fmt(v.get('alpha'))} (Holm across features); "
                     "see the power statement below for what this n can detect</li>")
    parts.append(f"<li>Embedding metrics over 2x baseline: {e(', '.join(v['metrics_over_2x_baseline']) or 'none')}</li>")
    cls = "good" if g["passed"] else "bad"
    word = "passed" if g["passed"] else "NOT EVALUATED" if g.get("status") == "not_evaluated" else "FAILED"
    parts.append(f"<li>Gates: <b class='{cls}'>{word}</b>{' (' + e(g['reason']) + ')' if g.get('reason') else ''}")
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

    ir = report["irregularity"]
    th = ir.get("thresholds", {})
    parts.append(f"<h2>Irregularity features</h2><p>Band [{_fmt(th.get('smoothed_below'))}, "
                 f"{_fmt(th.get('exaggerated_above'))}]. {e(ir.get('verdict_rule', ''))}. Detectable: a true ratio at "
                 "or beyond these is flagged with the stated power at this n.</p><table><tr><th>feature</th>"
                 "<th>real</th><th>synthetic</th><th>ratio</th><th>interval the verdict used (level)</th>"
                 "<th>verdict</th><th>n to settle "
                 "(real, synthetic)</th><th>detectable (smoothed &le;, exaggerated &ge;)</th><th>real vs real</th></tr>")
    for name, f in {**ir["features"], **report["language"]["features"]}.items():
        verdict = _verdict(f.get("verdict")) if f.get("verdict") else f"not enough data (n={f.get('n')})"
        settle = f.get("n_to_settle") or {}
        settle_s = (f"{settle['n_real']:,}, {settle['n_synthetic']:,}" if settle.get("factor") else
                    e(settle.get("note", "")))
        det = (", ".join("none at this n" if f[k] is None else _fmt(f[k])
                         for k in ("detectable_smoothed_ratio", "detectable_exaggerated_ratio"))
               if "detectable_smoothed_ratio" in f else "")
        parts.append(f"<tr><td title='{e(f.get('help', ''))}'>{e(name)}</td><td>{_fmt(f.get('real_rate'))}</td>"
                     f"<td>{_fmt(f.get('synthetic_rate'))}</td><td>{_fmt(f.get('ratio'))}</td><td>{_verdict_ci(f)}"
                     f"</td><td>{verdict}</td><td>{settle_s}</td><td>{det}</td><td>{_fmt(f.get('baseline_ratio'))}</td>"
                     "</tr>")
    parts.append("</table>")
    if ir.get("kinds"):
        parts.append("<h2>Kinds of irregularity</h2><p>Share of events per category, real vs synthetic; Jensen-Shannon"
                     " divergence with a permutation test over texts, in the same Holm family. A test of difference "
                     "cannot show sameness, so the alternative to <i>different</i> is <i>inconclusive</i>.</p><table>"
                     "<tr><th>kind</th><th>categories</th><th>real</th><th>synthetic</th><th>JSD</th><th>p (Holm)</th>"
                     "<th>verdict</th><th>real vs real</th></tr>")
        for name, k in ir["kinds"].items():
            cats = ", ".join(k["categories"])
            shares = [", ".join(f"{x:.2f}" for x in k[side]) + f" (n={int(k[side + '_events'])})"
                      for side in ("real", "synthetic")]
            verdict = _verdict(k.get("verdict")) if k.get("verdict") else f"not enough data (n={k.get('n')})"
            parts.append(f"<tr><td title='{e(k.get('help', ''))}'>{e(name)}</td><td>{e(cats)}</td><td>{shares[0]}</td>"
                         f"<td>{shares[1]}</td><td>{_fmt(k.get('jsd'))}</td><td>{_fmt(k.get('p_holm'))}</td>"
                         f"<td>{verdict}</td><td>{e(str(k.get('baseline_verdict')))}</td></tr>")
    parts.append("</table>")
    parts.extend(_two_sample_section(report.get("two_sample") or {}))
    parts.append("<h2>Distribution metrics</h2><table><tr><th>figure</th><th>synthetic</th>"
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
    parts.extend(_review_if_present(path, report))
    parts.append("</body></html>")
    with atomic_open(path) as f:
        f.write("\n".join(parts))


# -- the reviewers' verdict (review.json of `semisynth preference report`), added beside the monitor's figures --
_REVIEW_BEGIN, _REVIEW_END = "<!-- review.json:begin -->", "<!-- review.json:end -->"


def review_section_html(review: dict[str, Any]) -> str:
    """Reviewed acceptance per generator with its interval, and each automatic check's precision and recall
    against the reviewers (which checks to tighten)."""
    e = html.escape

    def rate(r: dict[str, Any]) -> str:
        if r.get("rate") is None:
            return "<td colspan=3>no decided record</td>"
        return f"<td>{_fmt(r['rate'])}</td><td>[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]</td><td>{r['n']}</td>"

    acc = review["acceptance"]
    parts = [_REVIEW_BEGIN, f"<h2>Human review ({e(str(review.get('dataset')))})</h2>",
             f"<p>Accepted as generated, {e(str(review['method']['estimator']))}; confidence {review['confidence']}."
             f" Raters: {e(', '.join(review.get('raters') or []))}.</p>",
             "<table><tr><th>group</th><th>acceptance</th><th>interval</th><th>n</th></tr>",
             f"<tr><td>overall</td>{rate(acc['overall'])}</tr>"]
    parts += [f"<tr><td>{e(g)}</td>{rate(r)}</tr>" for g, r in (acc.get("by_generator") or {}).items()]
    parts.append("</table>")
    cal = review.get("calibration") or {}
    parts.append(f"<h3>Checks calibrated on the reviewers</h3><p>{e(str(cal.get('truth', '')))}.</p>"
                 "<table><tr><th>check</th><th>where</th><th>fired / reviewed</th><th>precision</th><th>recall</th></tr>")
    for name, c in ((cal.get("reject_reasons") or {}).get("reasons") or {}).items():
        parts.append(f"<tr><td>{e(name)}</td><td>reject</td><td>{c['reviewed']} of {c['in_ledger']}</td>"
                     f"<td>{_fmt(c['precision'])}</td><td>{_fmt(c.get('recall'))}</td></tr>")
    for name, c in ((cal.get("kept_checks") or {}).get("checks") or {}).items():
        parts.append(f"<tr><td>{e(name)}</td><td>kept</td><td>{c['fired']}</td><td>{_fmt(c['precision'])}</td>"
                     f"<td>{_fmt(c['recall'])}</td></tr>")
    parts += ["</table>", _REVIEW_END]
    return "\n".join(parts)


def add_review_section(path: str | os.PathLike, review: dict[str, Any]) -> None:
    """Put the review section into an existing report.html (replacing an earlier one)."""
    page = open(path, encoding="utf-8").read()
    if _REVIEW_BEGIN in page and _REVIEW_END in page:
        head, rest = page.split(_REVIEW_BEGIN, 1)
        page = head + rest.split(_REVIEW_END, 1)[1]
    cut = page.rfind("</body>")
    cut = cut if cut >= 0 else len(page)
    with atomic_open(path) as f:
        f.write(page[:cut] + review_section_html(review) + "\n" + page[cut:])


def _review_if_present(path: str | os.PathLike, report: dict[str, Any]) -> list[str]:
    """The review section when a review.json beside report.html reviewed these very records."""
    import json
    from pathlib import Path

    p = Path(path).parent / "review.json"
    try:
        review = json.loads(p.read_text(encoding="utf-8"))
        same = review["fingerprint"]["population"]["records"] == report["fingerprint"]["synthetic"]["records"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [review_section_html(review)] if same else []
