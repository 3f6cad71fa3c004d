"""examples/quickstart.py, the percent-format notebook, executed cell by cell as Jupyter would (one namespace; a
cell's last expression is its displayed output) on the packaged SmolLM2 it names, with 6 of its 8 seeds (as written
it takes ~5 minutes on 2 busy cores; `python examples/quickstart.py` runs it so). The cells' outputs are checked
against the folders they wrote: the counts printed, the report shown, the mix, the card, the datasets."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import re
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.py"
N_SEEDS = 6  # 12 paraphrase tasks: the packaged model keeps some of them (4 of 16 with 8 seeds, read 2026-12-05)


def cells(path: Path) -> list[tuple[str, str]]:
    """(kind, source) of each `# %%` cell: "markdown" or "code"; the header before the first cell is skipped."""
    out = []
    for chunk in re.split(r"^# %%", path.read_text(encoding="utf-8"), flags=re.M)[1:]:
        head, _, body = chunk.partition("\n")
        out.append(("markdown" if "[markdown]" in head else "code", body))
    return out


def run_cell(source: str, ns: dict) -> tuple[str, object]:
    """Execute a code cell in `ns`; (its stdout, the value of its last expression or None), as Jupyter shows them."""
    tree = ast.parse(source)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(tree, "<cell>", "exec"), ns)  # noqa: S102 (the repository's own notebook)
        value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), ns) if last else None  # noqa: S307
    return buf.getvalue(), value


@pytest.mark.slow
def test_quickstart_notebook_runs_and_its_outputs_match_its_folders(tmp_path, monkeypatch):
    import datasets
    from huggingface_hub import DatasetCard

    out = tmp_path / "quickstart"
    monkeypatch.delenv("SEMISYNTH_QUICKSTART_MODEL", raising=False)  # the notebook's own: the packaged model
    monkeypatch.delenv("SEMISYNTH_QUICKSTART_CONFIG", raising=False)
    monkeypatch.setenv("SEMISYNTH_QUICKSTART_OUT", str(out))
    monkeypatch.setenv("SEMISYNTH_QUICKSTART_SEEDS", str(N_SEEDS))
    code = [src for kind, src in cells(NOTEBOOK) if kind == "code"]
    assert len(code) == 7 and "smollm2-135m-instruct" in code[0]  # as written: the packaged model
    ns: dict = {"__name__": "__main__"}
    shown = [run_cell(src, ns) for src in code]

    # seeds: a datasets.Dataset of the bundled tweets, shown
    seeds = shown[1][1]
    assert isinstance(seeds, datasets.Dataset) and len(seeds) == N_SEEDS and seeds.column_names == ["text", "source",
                                                                                                "license"]
    # generate: the printed counts are the manifest's, the dataset shown is the run's records
    run = ns["run"]
    c = json.loads((out / "generate" / "manifest.json").read_text())["counts"]
    assert run.dir == out / "generate" and c["seeds"] == N_SEEDS and c["outputs"] > 0
    assert shown[2][0].startswith(f"{c['outputs']} records, {c['rejected']} rejected")
    assert isinstance(shown[2][1], datasets.Dataset) and len(shown[2][1]) == c["outputs"]
    assert len(shown[3][0].splitlines()) == min(3, c["outputs"]) and "from seed" in shown[3][0]
    # monitor: the report shown is the monitor's own HTML, with the verdict report.json holds
    report = json.loads((out / "generate" / "monitor" / "report.json").read_text())
    assert shown[4][0].startswith(f"gates: {report['gates']['status']} |")
    assert "Irregularity and collapse monitor" in shown[4][1]._repr_html_()
    # mix: the real seeds and the paraphrases, forced past gates that a few seeds cannot evaluate, and said so
    mix = json.loads((out / "mix" / "manifest.json").read_text())
    assert shown[5][0].startswith(f"{mix['size']} records; real share {mix['realised_real_share']}")
    paraphrases = next(s for s in mix["sources"] if s["name"] == "paraphrases")
    assert paraphrases["gates"]["forced"] == (report["gates"]["status"] != "passed")
    # the card: parsed, and both folders load with `datasets` as printed
    card = DatasetCard.load(out / "generate" / "README.md")
    assert "synthetic" in card.data.tags and f"**{c['outputs']} records**" in card.text
    assert shown[6][0].splitlines()[-1] == f"run: {c['outputs']} rows, mix: {mix['size']} rows"
