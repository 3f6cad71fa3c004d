"""`semisynth monitor`: every bad input refused before any corpus is embedded (see bad_input_harness)."""

from __future__ import annotations

import numpy as np
import pytest
from bad_input_harness import Case, Env, assert_refused, case, params


def mon(e: Env, *extra: str, real: str | None = None, synthetic: str | None = None, out: str | None = None) -> list[str]:
    return ["monitor", "--real", real or e.seeds("real.jsonl"), "--synthetic", synthetic or e.seeds("syn.jsonl"),
            "--out", e.path("rep") if out is None else out, *extra]


def npy(e: Env, name: str, arr: np.ndarray) -> str:
    p = e.tmp / name
    np.save(p, arr, allow_pickle=arr.dtype == object)
    return str(p)


def cfg(e: Env, body: str) -> list[str]:
    return mon(e, "--config", e.yaml("m.yaml", body))


CASES: list[Case] = [
    case("out-is-a-file", lambda e: mon(e, out=e.write("taken", "x")), "taken", "exists and is a file"),
    case("out-parent-is-a-file", lambda e: mon(e, out=e.write("f", "x") + "/rep"), "is a file, not a folder"),
    case("out-in-read-only-folder", lambda e: mon(e, out=e.readonly_dir() + "/rep"), "ro", "not writable"),
    case("out-dangling-symlink", lambda e: mon(e, out=e.dangling()), "dangling symlink"),
    case("out-empty-string", lambda e: mon(e, out=""), "--out", "empty"),
    case("cache-dir-is-a-file", lambda e: mon(e, "--cache-dir", e.write("cache", "x")), "cache", "is a file"),
    case("real-missing", lambda e: mon(e, real=e.path("nope.jsonl")), "nope.jsonl", "not found"),
    case("synthetic-missing", lambda e: mon(e, synthetic=e.path("gone.jsonl")), "gone.jsonl", "not found"),
    case("real-empty", lambda e: mon(e, real=e.write("empty.jsonl", b"")), "empty.jsonl", "file is empty"),
    case("real-broken-jsonl", lambda e: mon(e, real=e.write("b.jsonl", '{"text": "a"}\n{oops\n')), "b.jsonl:2",
         "broken JSON"),
    case("real-text-number", lambda e: mon(e, real=e.jsonl("n.jsonl", [{"text": 3.5}])), "n.jsonl:1",
         "'text' is a number"),
    case("synthetic-parquet-int64", lambda e: mon(e, synthetic=e.parquet("s.parquet", {"text": [1, 2, 3]})),
         "s.parquet:row0", "'text' is a number"),
    case("synthetic-parquet-huge-cell", lambda e: mon(e, synthetic=e.parquet("h.parquet", {"text": ["a" * (1 << 20) + "b"]})),
         "h.parquet:row0", "over the"),
    case("synthetic-message-role", lambda e: mon(e, synthetic=e.jsonl("r.jsonl", [
        {"id": "a", "origin": "synthetic", "messages": [{"role": "robot", "content": "hi"}]}])),
         "r.jsonl:1", "role 'robot'"),
    case("text-field-missing", lambda e: mon(e, "--text-field", "body"), "real.jsonl:1", "column 'body' not found"),
    case("embeddings-text-file", lambda e: mon(e, "--real-embeddings", e.write("r.npy", "0.1 0.2\n0.3 0.4\n")),
         "r.npy", "not a .npy array"),
    case("embeddings-pickled-objects", lambda e: mon(e, "--real-embeddings",
                                                     npy(e, "o.npy", np.array([{"a": 1}] * 3, dtype=object))),
         "o.npy", "Python objects"),
    case("embeddings-npz", lambda e: mon(e, "--real-embeddings", _npz(e)), "z.npy", ".npz archive"),
    case("embeddings-wrong-rows", lambda e: mon(e, "--real-embeddings", npy(e, "w.npy", np.zeros((2, 4))),
                                                "--synthetic-embeddings", npy(e, "s.npy", np.zeros((3, 4)))),
         "w.npy", "2 embedding rows for 3 records"),
    case("embeddings-1d", lambda e: mon(e, "--real-embeddings", npy(e, "d.npy", np.zeros(3))), "d.npy", "2-D"),
    case("embeddings-nan", lambda e: mon(e, "--real-embeddings", npy(e, "nan.npy", np.full((3, 4), np.nan))),
         "nan.npy", "NaN"),
    case("embeddings-missing", lambda e: mon(e, "--real-embeddings", e.path("none.npy")), "none.npy", "not found"),
    case("review-sample-zero", lambda e: mon(e, "--review-sample", "0"), "--review-sample", "at least 1"),
    case("review-sample-word", lambda e: mon(e, "--review-sample", "lots"), "--review-sample", "'auto'"),
    case("seed-not-int", lambda e: mon(e, "--seed", "x"), "--seed", "invalid int value"),
    case("missing-real-flag", lambda e: ["monitor", "--synthetic", e.seeds()], "required", "--real"),
    case("config-unknown-gate-figure", lambda e: cfg(e, "gates: [{figure: nope, min: 1}]\n"), "m.yaml", "gate figure 'nope'",
         "not a figure of the report"),
    case("config-gate-nested-unknown-key", lambda e: cfg(e, "gates: [{figure: frechet, mx: 2}]\n"), "gates.0.mx",
         "keys of 'gates.0': figure, min, max"),
    case("config-ci-out-of-range", lambda e: cfg(e, "ci: 2\n"), "field 'ci'", "< 1"),
    case("config-unknown-key", lambda e: cfg(e, "subsample: 5\n"), "field 'subsample'", "subsample_n"),
    case("config-review-sample-word", lambda e: cfg(e, "review_sample: many\n"), "field 'review_sample'", "auto"),
    case("config-review-sample-zero", lambda e: cfg(e, "review_sample: 0\n"), "field 'review_sample'", ">= 1"),
    case("config-embedder-unknown", lambda e: mon(e, "--embedder", "bert"), "bert", "all-MiniLM-L6-v2"),
]


def _npz(e: Env) -> str:
    p = e.tmp / "z.npy"
    with p.open("wb") as f:
        np.savez(f, a=np.zeros((3, 4)))
    return str(p)


@pytest.mark.parametrize("c", params(CASES))
def test_monitor_refuses_bad_input(c: Case, tmp_path, monkeypatch, capsys):
    assert_refused(c, tmp_path, monkeypatch, capsys)
