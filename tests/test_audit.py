"""scripts/audit.py: the blind reading audit (sample -> label -> score)."""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from semisynth.atomic import write_json, write_jsonl
from semisynth.records import Lineage, Message, Origin, Record

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "audit.py"
_spec = importlib.util.spec_from_file_location("audit_script", SCRIPT)
audit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(audit)

GENERATORS = ("paraphrase:keep_irregularities", "paraphrase:clean", "seeded_synthetic", "pure_synthetic")
MODEL = "Qwen/Qwen2.5-0.5B-Instruct"
RUN_ID = "run7f3a"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A small run directory in generate's layout: 10 seeds (one a conversation), 4 generators."""
    seeds = [Record.create(Origin.REAL, text=f"@airline my flight {i} was cancelled\nwhat now?",
                           lineage=Lineage(source=f"in.jsonl:{i + 1}")) for i in range(9)]
    seeds.append(Record.create(Origin.REAL, messages=[Message("user", "where is my bag"),
                                                      Message("assistant", "Sorry! Which flight?")]))
    records = []
    for k, g in enumerate(GENERATORS):
        for i, seed in enumerate(seeds):
            leaf = {"pure_synthetic": "refund", "seeded_synthetic": "baggage.lost" if i % 2 else None}.get(g)
            lin = Lineage(generator=g, template=g.replace(":", "_"), model=MODEL, seed=i, run_id=RUN_ID,
                          taxonomy_leaf=leaf, attempt=2 if i == 3 else None)
            parents = () if g == "pure_synthetic" else (seed.id,)
            if seed.messages:
                records.append(Record.create(Origin.PARAPHRASE if g.startswith("paraphrase") else Origin.SYNTHETIC,
                                             messages=[Message("user", f"bag {k}-{i}"), Message("assistant", "ok")],
                                             parents=parents, lineage=lin))
            else:
                records.append(Record.create(Origin.PARAPHRASE if g.startswith("paraphrase") else Origin.SYNTHETIC,
                                             text=f"my flight {k}-{i} got cancelled", parents=parents, lineage=lin))
    run = tmp_path / "run"
    write_jsonl(run / "records" / "shard-00000.jsonl", (r.to_dict() for r in records[:20]))
    write_jsonl(run / "records" / "shard-00001.jsonl", (r.to_dict() for r in records[20:]))
    write_jsonl(run / "seeds.jsonl", (r.to_dict() for r in seeds))
    write_jsonl(run / "rejects" / "seeds.jsonl", [])
    write_json(run / "run.json", {"run_id": RUN_ID, "config": {"generators": [
        {"kind": "pure_synthetic", "taxonomy": "intents"}, {"kind": "paraphrase"}]}})
    return run


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, dialect="excel-tab"))


def _label(path: Path, labels: list[str]) -> None:
    """A reader's work: fill the label column in item order."""
    rows = _rows(path)
    for row, lab in zip(rows, labels, strict=True):
        row["label"] = lab
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, audit.PAIR_COLUMNS, dialect="excel-tab", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def test_same_seed_gives_the_same_sample_and_another_seed_another(run_dir, tmp_path, capsys):
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        assert audit.main(["sample", str(run_dir), "--n", "12", "--seed", str(seed), "--out", str(tmp_path / name)]) == 0
    assert "sampled of" in capsys.readouterr().out  # per-generator counts are reported
    for f in ("pairs.tsv", "key.tsv", "rules.md", "sample.json"):
        assert (tmp_path / "a" / f).read_text() == (tmp_path / "b" / f).read_text()
    assert (tmp_path / "a" / "key.tsv").read_text() != (tmp_path / "c" / "key.tsv").read_text()
    summary = json.loads((tmp_path / "a" / "sample.json").read_text())
    assert summary["n"] == 12 and sum(summary["sample_by_generator"].values()) == 12
    assert summary["kept_by_generator"] == dict.fromkeys(sorted(GENERATORS), 10)


def test_pairs_hold_no_generator_template_or_model(run_dir, tmp_path):
    out = tmp_path / "audit"
    audit.main(["sample", str(run_dir), "--n", "40", "--out", str(out)])
    text = (out / "pairs.tsv").read_text(encoding="utf-8")
    rows = _rows(out / "pairs.tsv")
    assert list(rows[0]) == list(audit.PAIR_COLUMNS) and len(rows) == 40 and len(text.splitlines()) == 41
    for leak in ("paraphrase", "irregularities", "clean", "seeded", "pure", "synthetic", "Qwen", RUN_ID, "_"):
        assert leak.lower() not in text.lower()
    assert {r["item"] for r in rows} == {f"a{i:03d}" for i in range(1, 41)} and all(not r["label"] for r in rows)
    for col in ("generator", "template", "model", "attempt", "record_id"):
        assert col not in rows[0]
    key = {r["item"]: r for r in _rows(out / "key.tsv")}
    assert set(key) == {r["item"] for r in rows} and {k["model"] for k in key.values()} == {MODEL}
    for r in rows:  # what the seed column shows follows the generator, and only the reading rules' leads
        g = key[r["item"]]["generator"]
        if g.startswith("paraphrase"):
            assert not r["seed"].startswith("[") and " ⏎ " in r["seed"] and "\n" not in r["seed"]
        elif g == "seeded_synthetic":
            assert r["seed"].startswith(("[new like this] ", "[new like this, about: baggage.lost: Checked luggage"))
            assert "examples" not in r["seed"]  # the seeded prompt shows the leaf's definition only
        else:
            assert r["seed"].startswith("[new about: refund: ") and "examples: «" in r["seed"]
    # item order is not generator order or record order
    assert [key[f"a{i:03d}"]["record_id"] for i in range(1, 41)] != sorted(k["record_id"] for k in key.values())
    assert "COPY: the seed with trivial edits." in (out / "rules.md").read_text()


def test_conversations_show_as_customer_and_agent_lines(run_dir, tmp_path):
    out = tmp_path / "audit"
    audit.main(["sample", str(run_dir), "--n", "40", "--out", str(out)])
    convo = [r for r in _rows(out / "pairs.tsv") if "bag" in r["record"]]
    assert convo and all(r["record"].startswith("customer: ") and " ⏎ agent: ok" in r["record"] for r in convo)


def test_wilson_matches_statsmodels_and_the_known_value():
    assert audit.wilson(28, 219) == pytest.approx((0.0900, 0.1786), abs=5e-4)  # 12.8 %, CI 9.0-17.9 %
    sm = pytest.importorskip("statsmodels.stats.proportion")
    for k, n in ((28, 219), (0, 10), (10, 10), (1, 1), (160, 200), (37, 50)):
        assert audit.wilson(k, n) == pytest.approx(sm.proportion_confint(k, n, alpha=0.05, method="wilson"), abs=1e-12)


def test_score_gives_shares_wilson_intervals_and_counts_per_generator(run_dir, tmp_path, capsys):
    out = tmp_path / "audit"
    audit.main(["sample", str(run_dir), "--n", "40", "--out", str(out)])
    key = {r["item"]: r["generator"] for r in _rows(out / "key.tsv")}
    items = [r["item"] for r in _rows(out / "pairs.tsv")]
    # paraphrases OK, seeded COPY, pure: the first DRIFT, the rest JUNK ("ok" in lower case is accepted)
    labels, first_pure = [], True
    for i in items:
        g = key[i]
        if g.startswith("paraphrase"):
            labels.append("ok")
        elif g == "seeded_synthetic":
            labels.append("COPY")
        else:
            labels.append("DRIFT" if first_pure else "JUNK")
            first_pure = False
    _label(out / "pairs.tsv", labels)
    assert audit.main(["score", str(out)]) == 0
    printed = capsys.readouterr().out
    result = json.loads((out / "score.json").read_text())
    n_ok = sum(g.startswith("paraphrase") for g in key.values())
    assert result["overall"]["n"] == 40 and result["overall"]["counts"]["OK"] == n_ok
    assert result["overall"]["ok_share"] == pytest.approx(n_ok / 40)
    assert result["overall"]["ok_ci95"] == pytest.approx(list(audit.wilson(n_ok, 40)))
    pure = result["by_generator"]["pure_synthetic"]
    assert pure["counts"] == {"OK": 0, "DRIFT": 1, "JUNK": pure["n"] - 1, "COPY": 0} and pure["ok_share"] == 0
    assert result["by_generator"]["paraphrase:clean"]["ok_share"] == 1
    assert sum(s["n"] for s in result["by_generator"].values()) == 40
    assert "pure_synthetic" in printed and "95% CI" in printed


def test_score_known_figures(tmp_path):
    """28 OK of 219 -> 12.8 %, 95 % CI 9.0-17.9 %, read through the files."""
    out = tmp_path / "audit"
    out.mkdir()
    audit.write_tsv(out / "pairs.tsv", audit.PAIR_COLUMNS,
                    [{"item": f"a{i:03d}", "seed": "s", "record": "r", "label": "OK" if i < 28 else "JUNK"}
                     for i in range(219)])
    audit.write_tsv(out / "key.tsv", audit.KEY_COLUMNS, [{"item": f"a{i:03d}", "generator": "g"} for i in range(219)])
    s = audit.score(out)["overall"]
    assert round(s["ok_share"] * 100, 1) == 12.8
    assert [round(x * 100, 1) for x in s["ok_ci95"]] == [9.0, 17.9]


@pytest.mark.parametrize("label, expected", [("", "has no label (40 rows unlabelled)"),
                                             ("FINE", "label 'FINE' is not one of OK, DRIFT, JUNK, COPY")])
def test_a_bad_or_missing_label_is_one_line_exit_2_naming_file_and_line(run_dir, tmp_path, label, expected):
    out = tmp_path / "audit"
    audit.main(["sample", str(run_dir), "--n", "40", "--out", str(out)])
    if label:
        _label(out / "pairs.tsv", ["OK"] * 6 + [label] + ["OK"] * 33)
    proc = subprocess.run([sys.executable, str(SCRIPT), "score", str(out)], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    where = f"{out / 'pairs.tsv'}:{2 if not label else 8}"  # header is line 1
    assert where in proc.stderr and expected in proc.stderr and "fix: write one of OK, DRIFT, JUNK, COPY" in proc.stderr
    assert not (out / "score.json").exists()


def test_sample_refuses_a_folder_that_holds_labels(run_dir, tmp_path, capsys):
    out = tmp_path / "audit"
    audit.main(["sample", str(run_dir), "--n", "5", "--out", str(out)])
    assert audit.main(["sample", str(run_dir), "--n", "5", "--out", str(out)]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    assert audit.main(["sample", str(tmp_path), "--out", str(tmp_path / "x")]) == 2  # not a run directory


def test_merge_gives_cohens_kappa_as_sklearn(run_dir, tmp_path, capsys):
    out = tmp_path / "audit"
    audit.main(["sample", str(run_dir), "--n", "20", "--out", str(out)])
    a = ["OK"] * 10 + ["DRIFT"] * 5 + ["JUNK"] * 3 + ["COPY"] * 2
    b = ["OK"] * 8 + ["DRIFT"] * 4 + ["JUNK"] * 4 + ["COPY"] * 2 + ["OK"] * 2
    second = out / "pairs-reader2.tsv"
    second.write_text((out / "pairs.tsv").read_text(encoding="utf-8"), encoding="utf-8")
    _label(out / "pairs.tsv", a)
    _label(second, b)
    capsys.readouterr()
    assert audit.main(["merge", str(out / "pairs.tsv"), str(second)]) == 0
    assert "Cohen's kappa" in capsys.readouterr().out
    metrics = pytest.importorskip("sklearn.metrics")
    r = audit.merge(out / "pairs.tsv", second)
    assert r["kappa"] == pytest.approx(metrics.cohen_kappa_score(a, b), abs=1e-12)
    assert r["agreement"] == pytest.approx(sum(x == y for x, y in zip(a, b, strict=True)) / 20)
    assert audit.cohen_kappa(["OK"] * 3, ["OK"] * 3) is None


def test_gold_items_are_mixed_in_blind_and_scored_apart(run_dir, tmp_path, capsys):
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(json.dumps({"seed": f"@united bag {i} lost at ORD", "paraphrase": f"@united lost bag {i} "
                                        "at ORD"}) + "\n" for i in range(8)), encoding="utf-8")
    out = tmp_path / "audit"
    assert audit.main(["sample", str(run_dir), "--n", "10", "--out", str(out), "--gold", str(gold),
                       "--gold-n", "5"]) == 0
    rows, key = _rows(out / "pairs.tsv"), _rows(out / "key.tsv")
    assert len(rows) == 15 and sum(k["generator"] == audit.GOLD for k in key) == 5
    gold_rows = [r for r, k in zip(rows, key, strict=True) if k["generator"] == audit.GOLD]
    assert all(r["seed"].startswith("<HANDLE> bag") for r in gold_rows)  # masked as seeds are
    assert "gold" not in (out / "pairs.tsv").read_text(encoding="utf-8")  # nothing tells the reader
    positions = [i for i, k in enumerate(key) if k["generator"] == audit.GOLD]
    assert positions != list(range(10, 15))  # mixed in, not appended
    # the reader calls every gold item DRIFT and every record OK: the run scores 100 %, the reader's gold 0 %
    _label(out / "pairs.tsv", ["DRIFT" if k["generator"] == audit.GOLD else "OK" for k in key])
    result = audit.score(out)
    assert result["overall"]["n"] == 10 and result["overall"]["ok_share"] == 1.0
    assert result["by_generator"][audit.GOLD]["ok_share"] == 0.0
