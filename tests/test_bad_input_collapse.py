"""`semisynth collapse run`: every bad input refused before experiment.json is written (see bad_input_harness)."""

from __future__ import annotations

import json

import pytest
from bad_input_harness import Case, Env, assert_refused, case, params


def texts(n: int, start: int = 0) -> list[dict]:
    return [{"text": f"passenger {i} says the flight to gate {i % 7} left late and bag {i} is lost"}
            for i in range(start, start + n)]


def crun(e: Env, *extra: str, out: str | None = None) -> list[str]:
    return ["collapse", "run", "--family", "ngram", "--generations", "1", "--seeds", "0", "--sample-size", "20",
            "--no-progress", "--out", e.path("exp") if out is None else out, *extra]


def real(e: Env, name: str = "real.jsonl", n: int = 80) -> str:
    return e.jsonl(name, texts(n))


CASES: list[Case] = [
    case("family-unknown", lambda e: crun(e, "--family", "markov"), "field 'family'", "ngram"),
    case("mode-typo", lambda e: crun(e, "--mode", "replce"), "mode", "'replace'"),
    case("real-fraction-above-one", lambda e: crun(e, "--mode", "mix", "--real-fraction", "2"), "real_fraction",
         "outside [0, 1]"),
    case("seeds-not-numbers", lambda e: crun(e, "--seeds", "a,b"), "seeds", "whole number"),
    case("seeds-repeat", lambda e: crun(e, "--seeds", "1,1"), "seeds has duplicates"),
    case("generations-zero", lambda e: crun(e, "--generations", "0"), "generations", ">= 1"),
    case("generations-not-int", lambda e: crun(e, "--generations", "many"), "--generations", "invalid int value"),
    case("sample-size-one", lambda e: crun(e, "--sample-size", "1"), "sample_size", ">= 2"),
    case("ngram-order-seven", lambda e: crun(e, "--ngram-order", "7"), "ngram_order", "<= 6"),
    case("embedder-unknown", lambda e: crun(e, "--embedder", "bert"), "embedder", "hashing"),
    case("backend-unknown", lambda e: crun(e, "--backend", "onnx"), "backend", "'vllm'"),
    case("hf-lm-without-base-model", lambda e: crun(e, "--family", "hf_lm"), "needs base_model"),
    case("real-data-missing", lambda e: crun(e, "--real-data", e.path("gone.jsonl")), "gone.jsonl", "not found"),
    case("real-data-empty-file", lambda e: crun(e, "--real-data", e.write("empty.jsonl", b"")), "empty.jsonl",
         "file is empty"),
    case("real-data-binary", lambda e: crun(e, "--real-data", e.write("bin.jsonl", b"\x00\x01" * 100)), "bin.jsonl",
         "binary"),
    case("real-data-too-small", lambda e: crun(e, "--real-data", real(e, "small.jsonl", 8)), "small.jsonl",
         "fewer than sample_size 20"),
    case("real-data-one-word-texts", lambda e: crun(e, "--real-data", e.jsonl("w.jsonl", [{"text": "hi"}] * 5)),
         "w.jsonl", "no usable real text"),
    case("real-data-text-number", lambda e: crun(e, "--real-data", e.jsonl("n.jsonl", [{"text": 1}])), "n.jsonl:1",
         "'text' is a number"),
    case("real-data-empty-string", lambda e: crun(e, "--real-data", ""), "--real-data", "empty"),
    case("real-data-with-toy-family", lambda e: crun(e, "--family", "categorical", "--real-data", real(e)),
         "--real-data", "simulates its own real data"),
    case("out-is-a-file", lambda e: crun(e, out=e.write("taken", "x")), "taken", "exists and is a file"),
    case("out-parent-is-a-file", lambda e: crun(e, out=e.write("f", "x") + "/exp"), "is a file, not a folder"),
    case("out-dangling-symlink", lambda e: crun(e, out=e.dangling()), "dangling symlink"),
    case("out-read-only", lambda e: crun(e, out=e.readonly_dir() + "/exp"), "not writable"),
    case("out-empty-string", lambda e: crun(e, out=""), "--out", "empty"),
    case("out-other-experiment", lambda e: crun(e, "--real-data", real(e), out=e.dir("old", {
        "experiment.json": json.dumps({"run_id": "x", "identity": {"family": "gaussian"}})})), "old",
         "holds a different experiment"),
    case("out-not-an-experiment", lambda e: crun(e, "--real-data", real(e), out=e.dir("full", {"a.txt": "x"})),
         "full", "not a collapse experiment folder"),
    case("config-nested-value", lambda e: ["collapse", "run", "--config", e.yaml("c.yaml", "out: x\nlm_lr: -1\n")],
         "lm_lr", "> 0"),
    case("no-subcommand", lambda e: ["collapse"], "semisynth collapse", "required"),
]


@pytest.mark.parametrize("c", params(CASES))
def test_collapse_run_refuses_bad_input(c: Case, tmp_path, monkeypatch, capsys):
    assert_refused(c, tmp_path, monkeypatch, capsys)


def test_a_corrected_real_corpus_reruns_into_the_same_folder(tmp_path, monkeypatch, capsys):
    """Each refused run (corpus missing, empty, too small) leaves no experiment.json behind, so the corrected
    rerun into the same folder is not refused as "a different experiment"."""
    from semisynth.cli import main
    from semisynth.collapse.experiments.real_text import real_text_source

    monkeypatch.chdir(tmp_path)
    corpus, out = tmp_path / "real.jsonl", tmp_path / "exp"
    argv = ["collapse", "run", "--family", "ngram", "--generations", "1", "--seeds", "0", "--sample-size", "20",
            "--no-progress", "--real-data", str(corpus), "--out", str(out)]
    for problem in ("missing", "empty", "too_small"):
        if problem == "empty":
            corpus.write_bytes(b"")
        elif problem == "too_small":
            corpus.write_text("".join(json.dumps(t) + "\n" for t in texts(8)))
        assert main(argv) == 2, problem
        assert not out.exists(), problem
    corpus.write_text("".join(json.dumps(t) + "\n" for t in texts(80)))
    real_text_source.cache_clear()  # in-process only: each CLI call is a fresh process
    capsys.readouterr()
    assert main(argv) == 0, capsys.readouterr().err
    assert (out / "experiment.json").is_file() and (out / "results.csv").is_file()
