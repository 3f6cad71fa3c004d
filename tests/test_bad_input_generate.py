"""`semisynth generate`: every bad input refused before any engine starts (see bad_input_harness)."""

from __future__ import annotations

import pytest
from bad_input_harness import Case, Env, assert_refused, case, params


def gen(e: Env, *extra: str, seeds: str | None = None, out: str | None = None, model: str = "no-such-model") -> list[str]:
    return ["generate", "--input", seeds or e.seeds(), "--model", model, "--out", e.path("run") if out is None else out, *extra]


def cfg(e: Env, body: str) -> list[str]:
    seeds = e.seeds()
    return ["generate", "--config", e.yaml("g.yaml", f"input: {{path: {seeds}}}\nbackend: {{kind: vllm, model: m}}\n"
                                            f"out: {e.path('run')}\n{body}")]


def conv(e: Env, messages: object) -> list[str]:
    return gen(e, "--messages-field", "messages", seeds=e.jsonl("c.jsonl", [{"messages": messages}]))


CASES: list[Case] = [
    # output paths: checked first, so the model never loads (the tiny model would start vLLM otherwise)
    case("out-is-a-file", lambda e: gen(e, out=e.write("taken", "x"), model=e.model()), "taken",
         "exists and is a file", needs_model=True),
    case("out-parent-is-a-file", lambda e: gen(e, out=e.write("f", "x") + "/run", model=e.model()),
         "is a file, not a folder", needs_model=True),
    case("out-in-read-only-folder", lambda e: gen(e, out=e.readonly_dir() + "/run", model=e.model()),
         "ro", "not writable", needs_model=True),
    case("out-dangling-symlink", lambda e: gen(e, out=e.dangling(), model=e.model()), "dangling symlink",
         needs_model=True),
    case("out-empty-string", lambda e: gen(e, out="", model=e.model()), "--out", "empty", needs_model=True),
    case("out-under-dangling-symlink", lambda e: gen(e, out=e.dangling() + "/run"), "dangling symlink"),
    case("out-read-only-existing-folder", lambda e: gen(e, out=e.readonly_dir("ro2")), "ro2", "not writable"),
    case("out-non-run-folder", lambda e: gen(e, out=e.dir("full", {"a.txt": "x"})), "full",
         "not a semisynth run directory"),
    case("out-other-run", lambda e: gen(e, out=e.dir("old", {"run.json": '{"run_id": "x"}'})), "old",
         "different config"),
    # input files
    case("jsonl-broken", lambda e: gen(e, seeds=e.write("b.jsonl", '{"text": "ok"}\n{"text": \n')),
         "b.jsonl:2", "broken JSON"),
    case("jsonl-empty", lambda e: gen(e, seeds=e.write("empty.jsonl", b"")), "empty.jsonl", "file is empty"),
    case("jsonl-latin1", lambda e: gen(e, seeds=e.write("l.jsonl", b'{"text": "caf\xe9"}\n')), "l.jsonl:1",
         "UTF-8"),
    case("jsonl-binary", lambda e: gen(e, seeds=e.write("bin.jsonl", b"\x00\x01PK" * 40)), "bin.jsonl", "binary"),
    case("jsonl-not-object", lambda e: gen(e, seeds=e.write("a.jsonl", '["a"]\n')), "a.jsonl:1",
         "expected a JSON object"),
    case("jsonl-missing-column", lambda e: gen(e, seeds=e.jsonl("n.jsonl", [{"body": "hi"}])), "n.jsonl:1",
         "column 'text' not found", "--text-field"),
    case("jsonl-huge-record", lambda e: gen(e, seeds=e.write("h.jsonl", '{"text": "' + "a" * (1 << 20) + '"}\n')),
         "h.jsonl:1", "over the 1,048,576-byte limit"),
    case("input-missing", lambda e: gen(e, seeds=e.path("nope.jsonl")), "nope.jsonl", "not found"),
    case("input-unknown-type", lambda e: gen(e, seeds=e.write("t.xlsx", "x")), "t.xlsx", "unknown file type"),
    case("input-plain-folder", lambda e: gen(e, seeds=e.dir("plain", {"x.txt": "x"})), "plain",
         "neither a semisynth run"),
    case("text-number", lambda e: gen(e, seeds=e.jsonl("n.jsonl", [{"text": "fine"}, {"text": 42}])),
         "n.jsonl:2", "'text' is a number"),
    case("text-list", lambda e: gen(e, seeds=e.jsonl("l.jsonl", [{"text": ["a", "b"]}])), "l.jsonl:1",
         "'text' is a list"),
    case("text-object", lambda e: gen(e, seeds=e.jsonl("o.jsonl", [{"text": {"en": "hi"}}])), "o.jsonl:1",
         "'text' is an object"),
    case("text-boolean", lambda e: gen(e, seeds=e.jsonl("b.jsonl", [{"text": True}])), "b.jsonl:1",
         "'text' is a boolean"),
    case("record-dict-text-number", lambda e: gen(e, seeds=e.jsonl("r.jsonl", [{"id": "x", "origin": "real",
                                                                                "text": 7}])),
         "r.jsonl:1", "'text' is a number"),
    case("message-content-object", lambda e: conv(e, [{"role": "user", "content": {"t": "hi"}}]), "c.jsonl:1",
         "turn 0", "content is an object"),
    case("message-content-null", lambda e: conv(e, [{"role": "user", "content": "hi"},
                                                    {"role": "assistant", "content": None}]),
         "c.jsonl:1", "turn 1", "content is null"),
    case("message-role-unknown", lambda e: conv(e, [{"role": "bot", "content": "hi"}]), "c.jsonl:1",
         "role 'bot'", "user"),
    case("message-role-number", lambda e: conv(e, [{"role": 1, "content": "hi"}]), "c.jsonl:1", "role 1"),
    case("messages-not-turns", lambda e: conv(e, ["hi", "there"]), "c.jsonl:1", "{role, content} turns"),
    case("messages-string-not-json", lambda e: conv(e, "hello there"), "c.jsonl:1", "not JSON chat turns"),
    case("parquet-int64-text", lambda e: gen(e, seeds=e.parquet("i.parquet", {"text": [1, 2]})), "i.parquet:row0",
         "'text' is a number"),
    case("parquet-list-float-text", lambda e: gen(e, seeds=e.parquet("f.parquet", {"text": [[0.1, 0.2]]})),
         "f.parquet:row0", "'text' is a list"),
    case("parquet-huge-cell", lambda e: gen(e, seeds=e.parquet("h.parquet", {"text": ["ok", "a" * (1 << 20) + "b"]})),
         "h.parquet:row1", "over the 1,048,576-byte limit"),
    case("parquet-garbage", lambda e: gen(e, seeds=e.write("g.parquet", "not parquet at all")), "g.parquet",
         "not a readable Parquet file"),
    case("csv-huge-field", lambda e: gen(e, seeds=e.write("h.csv", "text\nfine\n\"" + "a" * (1 << 20) + "b\"\n")),
         "h.csv:3", "over the 1,048,576-byte limit"),
    case("csv-missing-column", lambda e: gen(e, seeds=e.write("m.csv", "body\nhello\n")), "m.csv:2",
         "column 'text' not found"),
    case("csv-latin1", lambda e: gen(e, seeds=e.write("l.csv", b"text\ncaf\xe9\n")), "l.csv:2", "UTF-8"),
    case("csv-extra-cells", lambda e: gen(e, seeds=e.write("x.csv", "text\nhello, world,again\n")), "x.csv:2",
         "3 cells but 1 header columns"),
    # flags and config
    case("flag-unknown", lambda e: gen(e, "--bogus"), "unrecognized arguments: --bogus"),
    case("flag-limit-not-int", lambda e: gen(e, "--limit", "ten"), "--limit", "invalid int value"),
    case("flag-limit-zero", lambda e: gen(e, "--limit", "0"), "input.limit", ">= 1"),
    case("flag-backend-choice", lambda e: gen(e, "--backend", "gpt"), "--backend", "invalid choice"),
    case("flag-style-choice", lambda e: gen(e, "--style", "fancy"), "--style", "invalid choice"),
    case("flag-temperature-high", lambda e: gen(e, "--temperature", "3"), "sampling.temperature", "<= 2"),
    case("flag-max-tokens-zero", lambda e: gen(e, "--max-tokens", "0"), "sampling.max_tokens", ">= 1"),
    case("flag-shard-size-zero", lambda e: gen(e, "--shard-size", "0"), "shard_size", ">= 1"),
    # flags generated from GenerateConfig: a YAML-valued flag, a nested field, an option of another backend kind
    case("flag-generators-broken-yaml", lambda e: gen(e, "--generators", "[{kind: "), "--generators",
         "invalid YAML value"),
    case("flag-generators-unknown-kind", lambda e: gen(e, "--generators", "[{kind: translate}]"),
         "generators.0.kind", "paraphrase"),
    case("flag-checks-bound", lambda e: gen(e, "--checks-meaning-min-similarity", "1.5"),
         "checks.meaning_min_similarity", "<= 1"),
    case("flag-backend-option-of-other-kind", lambda e: gen(e, "--base-url", "http://127.0.0.1:9"),
         "backend.base_url", "kind: http"),
    case("flag-runner-choice", lambda e: gen(e, "--runner", "slurm"), "--runner", "invalid choice",
         "field 'runner.kind'"),
    case("no-input", lambda e: ["generate", "--model", "m", "--out", e.path("r")], "field 'input'",
         "add this field"),
    case("config-missing-file", lambda e: ["generate", "--config", e.path("none.yaml")], "none.yaml",
         "config file not found"),
    case("config-invalid-yaml", lambda e: ["generate", "--config", e.yaml("bad.yaml", "a: [\n")], "bad.yaml:",
         "invalid YAML"),
    case("config-top-level-list", lambda e: ["generate", "--config", e.yaml("l.yaml", "- a\n")], "l.yaml",
         "expected a mapping"),
    case("config-nested-unknown-key", lambda e: cfg(e, "sampling: {tempreture: 1}\n"), "sampling.tempreture",
         "keys of 'sampling': max_tokens", "temperature"),
    case("config-temperature-nine", lambda e: cfg(e, "sampling: {temperature: 9}\n"), "sampling.temperature",
         "<= 2"),
    case("config-bool-not-bool", lambda e: cfg(e, "checks: {language_check: maybe}\n"),
         "checks.language_check", "true or false"),
    case("config-generator-kind", lambda e: cfg(e, "generators: [{kind: translate}]\n"), "generators.0.kind",
         "paraphrase"),
    case("config-generators-empty", lambda e: cfg(e, "generators: []\n"), "generators", "at least one generator"),
    case("config-pure-synthetic-no-taxonomy", lambda e: cfg(e, "generators: [{kind: pure_synthetic}]\n"),
         "generators", "needs a taxonomy"),
    case("config-unknown-taxonomy", lambda e: cfg(e, "generators: [{kind: pure_synthetic, taxonomy: nope}]\n"),
         "nope"),
    case("config-unknown-template", lambda e: cfg(e, "generators: [{kind: paraphrase, template: nope}]\n"),
         "template 'nope'", "not found"),
    case("config-template-unknown-variable",
         lambda e: cfg(e, f"generators: [{{kind: paraphrase, template: {e.write('t.j2', 'Hi {{ name }}')}}}]\n"),
         "t.j2", "unknown template variable(s): name"),
    case("config-http-without-url", lambda e: ["generate", "--config", e.yaml("h.yaml", (
        f"input: {{path: {e.seeds()}}}\nbackend: {{kind: http, model: m}}\nout: {e.path('run')}\n"))], "backend",
         "base_url"),  # (its own file: a second `backend:` key is refused as given twice)
    case("model-path-missing", lambda e: gen(e, model=e.path("no-model")), "no-model"),
]


@pytest.mark.parametrize("c", params(CASES))
def test_generate_refuses_bad_input(c: Case, tmp_path, monkeypatch, capsys, request):
    model = (lambda: request.getfixturevalue("tiny_model_dir")) if c.needs_model else None
    assert_refused(c, tmp_path, monkeypatch, capsys, model)


def test_jsonl_with_a_utf8_bom_is_read(tmp_path):
    from semisynth.seeds import load_seeds

    p = tmp_path / "bom.jsonl"
    p.write_bytes(b'\xef\xbb\xbf{"text": "my bag is lost"}\n{"text": "flight late again"}\n')
    seeds = load_seeds(p)
    assert [r.text for r in seeds.records] == ["my bag is lost", "flight late again"]
