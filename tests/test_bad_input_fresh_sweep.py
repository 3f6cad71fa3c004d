"""A second, fresh sweep (issue 25's verification): bad inputs invented as a careful new user would, none of
them in the earlier tables, across generate, monitor, mix, collapse run, preference, argilla, demo and model.
Same contract as every table (bad_input_harness): exit 2, one line naming the file/line/field and the fix,
nothing new on disk.

85 cases: 65 held on the code before this sweep; the 20 in FIXED failed there (run against it: a malformed
http base_url reported as an unreachable server after 5 tries; --input "" read as the working folder;
--variants 0 and candidates --max-tokens 0 silently replaced by the default, and --max-tokens with --arms ignored; monitor --runner ray with an
unreachable --ray-address exited 0 when every text was in the embedding cache; --argilla-api-key-env "" or
"$KEY" told the user to `export =<key>`; argilla up --state-dir under a file was an OSError's line without
the flag; monitor and mix took a corpus whose every text is null or invisible and reported on it / mixed it,
exit 0; preference report/export read a missing or label-less --taxonomy only after connecting; collapse run
named a missing local base_model folder "a path the driver sees but this worker does not"; a broken
argilla state.json was read as no state: status said "not started", up started a second stack beside the
first, report said "no Argilla configured")."""

from __future__ import annotations

import socket

import pytest
from bad_input_harness import Case, Env, assert_refused, case, params


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gen(e: Env, *extra: str, seeds: str | None = None, out: str | None = None) -> list[str]:
    return ["generate", "--input", seeds or e.seeds(), "--model", "no-such-model", "--out",
            e.path("run") if out is None else out, *extra]


def gcfg(e: Env, body: str) -> list[str]:
    return ["generate", "--config", e.yaml("g.yaml", f"input: {{path: {e.seeds()}}}\nbackend: {{kind: vllm, "
                                                     f"model: m}}\nout: {e.path('run')}\n{body}")]


def mon(e: Env, *extra: str, real: str | None = None, synthetic: str | None = None) -> list[str]:
    return ["monitor", "--real", real or e.seeds("real.jsonl"), "--synthetic", synthetic or e.seeds("syn.jsonl"),
            "--out", e.path("rep"), *extra]


def mix(e: Env, body: str, *extra: str) -> list[str]:
    return ["mix", "--config", e.yaml("mix.yaml", body), "--out", e.path("mixed"), *extra]


def real80(e: Env) -> str:
    return e.jsonl("real.jsonl", [{"text": f"passenger {i} says the flight to gate {i % 7} left late"}
                                  for i in range(80)])


def crun(e: Env, *extra: str) -> list[str]:
    return ["collapse", "run", "--family", "ngram", "--generations", "1", "--seeds", "0", "--sample-size", "20",
            "--heldout-size", "20", "--no-progress", "--out", e.path("exp"), "--real-data", real80(e), *extra]


def push(e: Env, *extra: str, kind: str = "moderation") -> list[str]:
    return ["preference", "push", "--dataset", "d1", "--kind", kind, "--input", e.seeds(), "--raters", "ann,bob",
            "-k", "1", *extra]


def npy(e: Env, name: str, shape: tuple[int, int]) -> str:
    import numpy as np

    np.save(e.tmp / name, np.zeros(shape))
    return str(e.tmp / name)


FIXED = {
    "v-gen-http-base-url-no-scheme", "v-gen-http-base-url-port-word", "v-gen-input-empty-string", "v-mon-real-blank",
    "v-gen-variants-zero-flag", "v-mon-ray-unreachable", "v-push-api-key-env-empty", "v-report-api-key-env-dollar",
    "v-candidates-max-tokens-zero", "v-argilla-up-state-dir-under-file", "v-mon-real-every-text-null",
    "v-mon-synthetic-zero-width", "v-mix-real-source-every-text-null", "v-export-taxonomy-missing",
    "v-report-taxonomy-no-labels", "v-collapse-hf-lm-base-model-missing", "v-argilla-status-state-not-json",
    "v-argilla-up-state-a-list", "v-report-state-not-json", "v-candidates-max-tokens-with-arms-yaml",
}

CASES: list[Case] = [
    # generate
    case("v-gen-connect-timeout-negative", lambda e: gen(e, "--runner", "ray", "--runner-connect-timeout-s", "-3"),
         "runner.connect_timeout_s", "> 0"),
    case("v-gen-connect-timeout-huge", lambda e: gen(e, "--runner", "ray", "--runner-connect-timeout-s", "1e6"),
         "runner.connect_timeout_s", "<= 600"),
    case("v-gen-max-tokens-ratio-zero", lambda e: gen(e, "--sampling-max-tokens-ratio", "0"),
         "sampling.max_tokens_ratio"),
    case("v-gen-min-chars-negative", lambda e: gen(e, "--checks-min-chars", "-5"), "checks.min_chars", ">= 0"),
    case("v-gen-http-base-url-no-scheme", lambda e: gen(e, "--backend", "http", "--base-url", "localhost:8000/v1"),
         "backend.base_url", "not http or https", "http://127.0.0.1:8000/v1"),
    case("v-gen-http-timeout-zero", lambda e: gen(e, "--backend", "http", "--base-url", "http://127.0.0.1:9/v1",
                                                  "--backend-timeout-s", "0"), "backend.timeout_s", "> 0"),
    case("v-gen-http-base-url-port-word", lambda e: gen(e, "--backend", "http", "--base-url", "http://127.0.0.1:port/v1"),
         "backend.base_url", "not a valid URL"),
    case("v-gen-meaning-similarity-above-one", lambda e: gen(e, "--checks-meaning-min-similarity", "1.5"),
         "checks.meaning_min_similarity", "<= 1"),
    case("v-gen-verbatim-share-above-one", lambda e: gen(e, "--checks-verbatim-min-share", "2"),
         "checks.verbatim_min_share", "<= 1"),
    case("v-gen-input-empty-string", lambda e: ["generate", "--input", "", "--model", "m", "--out", e.path("run")],
         "input path ''", "is empty"),
    case("v-mon-real-blank", lambda e: mon(e, real=" "), "input path ' '", "is empty"),
    case("v-gen-push-to-hub-bad-repo", lambda e: gen(e, "--push-to-hub", "not a repo id"), "--push-to-hub"),
    case("v-gen-row-is-a-list", lambda e: gen(e, seeds=e.write("r.jsonl", '{"text": "ok fine"}\n[1, 2]\n')),
         "r.jsonl:2", "JSON object"),
    case("v-gen-csv-ragged-row", lambda e: gen(e, seeds=e.write("r.csv", "text\nhello there\na,b,c\n")), "r.csv:3"),
    case("v-gen-tsv-comma-separated", lambda e: gen(e, seeds=e.write("s.tsv", "text,id\nhello there,1\n")),
         "s.tsv:2", "column 'text' not found"),
    case("v-gen-generator-kind-unknown", lambda e: gen(e, "--generators", "[{kind: translate}]"),
         "generators.0.kind", "paraphrase"),
    case("v-gen-variants-zero-flag", lambda e: gen(e, "--variants", "0"), "generators.0.variants", ">= 1"),
    case("v-gen-language-confidence-two", lambda e: gen(e, "--checks-language-min-confidence", "2"),
         "checks.language_min_confidence", "<= 1"),
    case("v-gen-env-vars-nested", lambda e: gen(e, "--runner-env-vars", "{A: [1, 2]}"), "runner.env_vars"),
    case("v-gen-engine-kwargs-list", lambda e: gen(e, "--backend-engine-kwargs", "[1, 2]"), "backend.engine_kwargs"),
    case("v-gen-config-sampling-unknown-key", lambda e: gcfg(e, "sampling: {temprature: 0.5}\n"),
         "sampling.temprature", "temperature"),
    case("v-gen-config-out-list", lambda e: ["generate", "--config", e.yaml("g.yaml", f"input: {{path: {e.seeds()}}}\n"
                                                                             "backend: {model: m}\nout: [a, b]\n")],
         "field 'out'"),
    case("v-gen-ray-closed-port-local-word", lambda e: gen(e, "--runner", "ray", "--ray-address",
                                                           f"localhost:{closed_port()}"),
         "runner.address", "nothing answers"),
    # monitor
    case("v-mon-n-boot-negative", lambda e: mon(e, "--n-boot", "-1"), "n_boot"),
    case("v-mon-alpha-above-one", lambda e: mon(e, "--alpha", "1.5"), "alpha"),
    case("v-mon-ray-unreachable", lambda e: mon(e, "--runner", "ray", "--ray-address",
                                                f"ray://127.0.0.1:{closed_port()}"), "runner.address",
         "nothing answers"),
    case("v-mon-embeddings-dims-differ", lambda e: mon(e, "--real-embeddings", npy(e, "r.npy", (3, 4)),
                                                       "--synthetic-embeddings", npy(e, "s.npy", (3, 5))),
         "embeddings"),
    case("v-mon-embeddings-rows-differ", lambda e: mon(e, "--real-embeddings", npy(e, "r.npy", (5, 4)),
                                                       "--synthetic-embeddings", npy(e, "s.npy", (3, 4))),
         "r.npy"),
    case("v-mon-embeddings-not-npy", lambda e: mon(e, "--real-embeddings", e.write("r.npy", "hello"),
                                                   "--synthetic-embeddings", npy(e, "s.npy", (3, 4))), "r.npy"),
    case("v-mon-gate-unknown-figure", lambda e: mon(e, "--gates", "[{figure: nonsense, max: 1}]"), "nonsense"),
    case("v-mon-gate-min-above-max", lambda e: mon(e, "--gates", "[{figure: mmd, min: 2, max: 1}]"), "gates.0"),
    case("v-mon-tail-mass-above-one", lambda e: mon(e, "--tail-mass", "1.5"), "tail_mass"),
    case("v-mon-review-sample-negative", lambda e: mon(e, "--review-sample", "-1"), "review"),
    case("v-mon-real-empty-file", lambda e: mon(e, real=e.write("empty.jsonl", b"")), "empty.jsonl", "empty"),
    case("v-mon-smoothed-above-exaggerated", lambda e: mon(e, "--smoothed-below", "1.5", "--exaggerated-above", "1.2"),
         "smoothed_below"),
    case("v-mon-real-every-text-null", lambda e: mon(e, real=e.jsonl("null.jsonl", [{"text": None}] * 4)),
         "null.jsonl", "all 4 row(s) have an empty or null 'text'"),
    case("v-mon-synthetic-zero-width", lambda e: mon(e, synthetic=e.jsonl("zw.jsonl", [{"text": "\u200b "},
                                                                                      {"text": ""}])),
         "zw.jsonl", "all 2 row(s)"),
    # mix
    case("v-mix-real-source-every-text-null", lambda e: mix(e, f"sources: [{{path: "
                                                               f"{e.jsonl('null.jsonl', [{'text': None}] * 4)}, "
                                                               "kind: real}]\n"),
         "null.jsonl", "all 4 row(s) have an empty or null 'text'"),
    case("v-mix-size-negative", lambda e: mix(e, f"sources: [{{path: {e.seeds()}, kind: real}}]\n", "--size", "-5"),
         "size", ">= 1"),
    case("v-mix-push-to-hub-bad-repo", lambda e: mix(e, f"sources: [{{path: {e.seeds()}, kind: real}}]\n",
                                                     "--push-to-hub", "a/b/c"), "--push-to-hub"),
    case("v-mix-source-path-number", lambda e: mix(e, "sources: [{path: 5, kind: real}]\n"), "sources.0.path"),
    case("v-mix-duplicate-source-names", lambda e: mix(e, f"sources: [{{path: {e.seeds()}, kind: real, name: a, "
                                                          f"share: 0.5}}, {{path: {e.seeds('b.jsonl')}, kind: real, "
                                                          "name: a, share: 0.5}]\n"), "name"),
    # collapse run
    case("v-collapse-generations-negative", lambda e: crun(e, "--generations", "-1"), "generations"),
    case("v-collapse-mode-unknown", lambda e: crun(e, "--mode", "blend"), "mode", "replace"),
    case("v-collapse-real-fraction-above-one", lambda e: crun(e, "--mode", "mix", "--real-fraction", "1.5"),
         "real_fraction"),
    case("v-collapse-sample-size-zero", lambda e: crun(e, "--sample-size", "0"), "sample_size"),
    case("v-collapse-ngram-order-zero", lambda e: crun(e, "--ngram-order", "0"), "ngram_order"),
    case("v-collapse-real-data-binary", lambda e: crun(e)[:-1] + [e.write("bin.jsonl", b"\x00\x01\x02" * 30)],
         "bin.jsonl", "binary"),
    case("v-collapse-corpus-too-small", lambda e: crun(e, "--sample-size", "100", "--heldout-size", "100"),
         "real"),
    case("v-collapse-ray-web-timeout-zero", lambda e: crun(e, "--runner", "ray", "--runner-connect-timeout-s", "0"),
         "connect_timeout_s"),
    # preference
    case("v-push-k-above-raters", lambda e: push(e)[:-2] + ["-k", "3"], "k", "raters"),
    case("v-push-gold-missing", lambda e: push(e, "--gold", e.path("gold.jsonl")), "gold.jsonl", "not found"),
    case("v-push-rejects-sample-negative", lambda e: push(e, "--rejects-sample", "-1"), "rejects_sample"),
    case("v-push-api-key-env-empty", lambda e: push(e, "--url", "http://127.0.0.1:9", "--argilla-api-key-env", ""),
         "argilla.api_key_env", "not an environment variable name"),
    case("v-report-api-key-env-dollar", lambda e: ["preference", "report", "--dataset", "d1", "--out", e.path("r"),
                                                   "--url", "http://127.0.0.1:9", "--argilla-api-key-env", "$KEY"],
         "argilla.api_key_env", "without $"),
    case("v-report-min-raters-zero", lambda e: ["preference", "report", "--dataset", "d1", "--out", e.path("r"),
                                                "--policy-min-raters", "0"], "min_raters"),
    case("v-export-out-under-a-file", lambda e: ["preference", "export", "--dataset", "d1", "--format", "dpo", "--out",
                                                 e.write("f", "x") + "/x"], "is a file, not a folder"),
    case("v-escalate-expert-bad-name", lambda e: ["preference", "escalate", "--dataset", "d1", "--experts", "bad name!"],
         "not a valid rater name"),
    case("v-candidates-arm-no-equals", lambda e: ["preference", "candidates", "--prompts", e.seeds(), "--out",
                                                  e.path("i.jsonl"), "--arm", "justamodel", "--arm", "b=m"], "--arm"),
    case("v-candidates-one-arm", lambda e: ["preference", "candidates", "--prompts", e.seeds(), "--out",
                                            e.path("i.jsonl"), "--arm", "a=m"], "arms", "at least 2"),
    case("v-candidates-arm-name-twice", lambda e: ["preference", "candidates", "--prompts", e.seeds(), "--out",
                                                   e.path("i.jsonl"), "--arm", "a=m", "--arm", "a=n"], "a"),
    case("v-candidates-max-tokens-zero", lambda e: ["preference", "candidates", "--prompts", e.seeds(), "--out",
                                                    e.path("i.jsonl"), "--arm", "a=m", "--arm", "b=m",
                                                    "--max-tokens", "0"], "arms.0.max_tokens", ">= 1"),
    case("v-candidates-max-tokens-with-arms-yaml", lambda e: ["preference", "candidates", "--prompts", e.seeds(),
                                                              "--out", e.path("i.jsonl"), "--arms",
                                                              "[{name: a, backend: {model: m}}, "
                                                              "{name: b, backend: {model: m}}]", "--max-tokens", "0"],
         "--max-tokens", "--arm"),
    case("v-report-monitor-report-folder", lambda e: ["preference", "report", "--dataset", "d1", "--out", e.path("r"),
                                                      "--monitor-report", e.dir("mr")], "mr"),
    case("v-argilla-up-state-dir-under-file", lambda e: ["argilla", "up", "--state-dir", e.write("f", "x") + "/st"],
         "state_dir (--state-dir)", "is a file, not a folder"),
    case("v-push-preference-items-are-plain-rows", lambda e: push(e, kind="preference"), "seeds.jsonl:1",
         "not a curation item"),
    case("v-raters-reset-no-server", lambda e: ["preference", "raters", "reset", "ann"], "no Argilla configured",
         "argilla up"),
    case("v-export-taxonomy-missing", lambda e: ["preference", "export", "--dataset", "d1", "--format", "moderation",
                                                 "--out", e.path("x"), "--taxonomy", e.path("nope.yaml")],
         "nope.yaml", "taxonomy file not found"),
    case("v-report-taxonomy-no-labels", lambda e: ["preference", "report", "--dataset", "d1", "--out", e.path("r"),
                                                   "--taxonomy", e.yaml("t.yaml", 'name: t\nversion: "1"\nlabels: []\n')],
         "t.yaml", "no labels"),
    case("v-escalate-experts-repeat", lambda e: ["preference", "escalate", "--dataset", "d1", "--experts", "eve,eve"],
         "experts", "a rater name repeats"),
    case("v-argilla-status-state-not-json", lambda e: (e.write(".semisynth/argilla/state.json", "{nope"),
                                                       ["argilla", "status"])[1], "state.json", "is not JSON"),
    case("v-argilla-up-state-a-list", lambda e: (e.write(".semisynth/argilla/state.json", "[1]"),
                                                 ["argilla", "up"])[1], "state.json", "JSON list"),
    case("v-report-state-not-json", lambda e: (e.write(".semisynth/argilla/state.json", "{nope"),
                                               ["preference", "report", "--dataset", "d1", "--out", e.path("r")])[1],
         "state.json", "is not JSON"),
    # more across commands
    case("v-collapse-hf-lm-base-model-missing", lambda e: crun(e, "--family", "hf_lm", "--base-model",
                                                               e.path("no-model")),
         "field 'base_model'", "not found"),
    case("v-mon-embedder-unknown", lambda e: mon(e, "--embedder", "no-such-embedder"), "monitor.embedder",
         "unknown embedder"),
    case("v-mon-cache-dir-under-file", lambda e: mon(e, "--cache-dir", e.write("f", "x") + "/c"), "--cache-dir",
         "is a file, not a folder"),
    case("v-mix-sources-flag-scalar", lambda e: mix(e, "sources: [{path: a, kind: real}]\n", "--sources", "hello"),
         "--sources", "list"),
    case("v-gen-style-unknown", lambda e: gen(e, "--style", "fancy"), "--style", "invalid choice"),
    case("v-gen-flag-typo", lambda e: gen(e, "--temprature", "0.5"), "--temprature", "unrecognized"),
    case("v-gen-ray-ipv6-unbracketed", lambda e: gen(e, "--runner", "ray", "--ray-address",
                                                     f"ray://::1:{closed_port()}"), "runner.address", "nothing answers"),
    # demo / model
    case("v-model-tiny-onto-a-file", lambda e: ["model", "tiny", e.write("taken", "x")], "taken",
         "exists and is a file"),
    case("v-demo-limit-zero", lambda e: ["demo", "--quiet", "--out", e.path("d"), "--limit", "0"], "--limit",
         "1 or more"),
    case("v-demo-out-is-a-file", lambda e: ["demo", "--quiet", "--out", e.write("taken", "x")], "taken"),
    case("v-demo-model-folder-not-a-model", lambda e: ["demo", "--quiet", "--out", e.path("d"), "--model",
                                                       e.dir("notamodel", {"a.txt": "x"})], "notamodel"),
    case("v-model-prepare-cache-empty", lambda e: ["model", "prepare", "--cache-dir", ""], "cache"),
]


@pytest.mark.parametrize("c", params(CASES))
def test_fresh_sweep(c: Case, tmp_path, monkeypatch, capsys):
    assert_refused(c, tmp_path, monkeypatch, capsys)


def test_fresh_sweep_counts():
    ids = {c.id for c in CASES}
    assert len(ids) == len(CASES) >= 60 and FIXED <= ids, FIXED - ids
