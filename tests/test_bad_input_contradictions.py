"""Bad input, round three (issue 25): contradictions between fields refused at config load with the allowed
range, malformed local state (credentials.json) and answers (an HTML page at --url), Ray addresses that
cannot answer, corpora with no text at all or broken at the end, and the checks that must come before a
connection (raters --credentials-out). Every case: exit 2, one line naming the file/field and the fix, nothing
new on disk (see bad_input_harness), and no seed's language identified before the refusal."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from bad_input_harness import Case, Env, assert_refused, case, params

KEY_ENV = "SEMISYNTH_BAD_INPUT_KEY"  # the harness clears $ARGILLA_API_KEY; the HTML case names its own variable
_SERVER: dict[str, str] = {}
LATIN1_TEMPLATE = b"Rewrite this:\n{{ seed }} caf\xe9"


def closed_port() -> int:
    """A port nothing listens on (bound, then released: connecting to it is refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gen(e: Env, *extra: str, seeds: str | None = None) -> list[str]:
    return ["generate", "--input", seeds or e.seeds(), "--model", "no-such-model", "--out", e.path("run"), *extra]


def cfg(e: Env, body: str) -> list[str]:
    seeds = e.seeds()
    return ["generate", "--config", e.yaml("g.yaml", f"input: {{path: {seeds}}}\nbackend: {{kind: vllm, model: m}}\n"
                                            f"out: {e.path('run')}\n{body}")]


def crun(e: Env, *extra: str) -> list[str]:
    return ["collapse", "run", "--family", "ngram", "--generations", "1", "--seeds", "0", "--sample-size", "20",
            "--no-progress", "--out", e.path("exp"), "--real-data",
            e.jsonl("real.jsonl", [{"text": f"passenger {i} says the flight to gate {i % 7} left late"}
                                   for i in range(80)]), *extra]


def local_stack(e: Env, credentials: str) -> None:
    """A local stack's state as `argilla up` leaves it, with the credentials file given."""
    e.write(".semisynth/argilla/state.json", json.dumps({"url": f"http://127.0.0.1:{closed_port()}", "pids": {}}))
    e.write(".semisynth/argilla/credentials.json", credentials)


def empty_taxonomy(e: Env) -> str:
    return e.yaml("empty-tax.yaml", 'name: empty\nversion: "1.0.0"\nlabels: []\n')


def loop(e: Env, name: str) -> str:
    p = e.tmp / name
    p.symlink_to(p)
    return str(p)


def parquet_broken_at_last_row(e: Env) -> str:
    """5,000 short rows, the last one over the record limit: refused before any row's language is identified
    (identifying 100k rows first took 230 s)."""
    texts = [f"my bag {i} is lost pls help, flight {i} was late" for i in range(5000)] + ["a" * (1 << 20) + "b"]
    return e.parquet("long.parquet", {"text": texts})


CASES: list[Case] = [
    # contradictions: refused at config load, with the allowed range
    case("max-tokens-floor-above-max-tokens", lambda e: gen(e, "--max-tokens", "32", "--sampling-max-tokens-floor",
                                                            "64"),
         "sampling.max_tokens_floor", "above max_tokens 32", "from 1 to 32"),
    case("max-tokens-floor-above-max-tokens-yaml", lambda e: cfg(e, "sampling: {max_tokens: 40, max_tokens_floor: 50}\n"),
         "g.yaml", "sampling.max_tokens_floor", "from 1 to 40"),
    case("min-chars-above-max-chars", lambda e: cfg(e, "checks: {min_chars: 500, max_chars: 100}\n"),
         "g.yaml", "checks.min_chars", "every output would be rejected", "from 0 to 100"),
    case("min-length-ratio-above-max", lambda e: gen(e, "--checks-min-length-ratio", "2", "--checks-max-length-ratio",
                                                     "1.5"),
         "checks.min_length_ratio", "above max_length_ratio 1.5", "from 0 to 1.5"),
    case("taxonomy-without-labels-pure", lambda e: cfg(e, f"generators: [{{kind: pure_synthetic, "
                                                          f"taxonomy: {empty_taxonomy(e)}}}]\n"),
         "empty-tax.yaml", "no labels", "add at least one label"),
    case("taxonomy-without-labels-seeded", lambda e: cfg(e, f"generators: [{{kind: seeded_synthetic, "
                                                            f"taxonomy: {empty_taxonomy(e)}}}]\n"),
         "empty-tax.yaml", "no labels"),
    # (mix real_floor above the real share: tests/test_bad_input_mix.py, real-floor-above-real-share)
    # malformed files and answers: one line, not a traceback
    case("template-not-utf8", lambda e: cfg(e, "generators: [{kind: paraphrase, template: "
                                               f"{e.write('latin.j2', LATIN1_TEMPLATE)}}}]\n"),
         "latin.j2:2", "not valid UTF-8", "iconv"),
    case("credentials-not-json", lambda e: (local_stack(e, "{oops"),
                                            ["preference", "report", "--dataset", "d1", "--out", e.path("r")])[1],
         "credentials.json", "is not JSON", "argilla up"),
    case("credentials-without-api-key", lambda e: (local_stack(e, json.dumps({"username": "owner", "password": "p"})),
                                                   ["preference", "report", "--dataset", "d1", "--out", e.path("r")])[1],
         "credentials.json", "has no 'api_key'"),
    case("credentials-a-list", lambda e: (local_stack(e, "[1, 2]"),
                                          ["preference", "export", "--dataset", "d1", "--format", "dpo", "--out",
                                           e.path("x")])[1],
         "credentials.json", "JSON list"),
    case("url-answers-html", lambda e: ["preference", "report", "--dataset", "d1", "--out", e.path("r"), "--url",
                                        _SERVER["url"], "--argilla-api-key-env", KEY_ENV],
         "answered /api/v1/me with 200 and text/html", "not Argilla's JSON API"),
    case("url-without-scheme", lambda e: ["preference", "report", "--dataset", "d1", "--out", e.path("r"), "--url",
                                          "localhost:6900"],
         "argilla.url", "not http or https", "http://127.0.0.1:6900"),
    case("url-missing-colon", lambda e: ["preference", "raters", "add", "ann", "--url", "http//127.0.0.1:6900"],
         "argilla.url", "no http:// or https://"),
    case("url-port-not-number", lambda e: ["preference", "escalate", "--dataset", "d1", "--experts", "eve", "--url",
                                           "http://127.0.0.1:69OO"],
         "argilla.url", "not a valid URL"),
    # every row's text null: not an empty "complete" run
    case("every-text-null", lambda e: gen(e, seeds=e.jsonl("null.jsonl", [{"text": None}] * 4)), "null.jsonl",
         "all 4 row(s) have an empty or null 'text'", "--text-field"),
    case("every-text-blank-csv", lambda e: gen(e, seeds=e.write("blank.csv", "text,body\n,hello\n  ,there\n")),
         "blank.csv", "all 2 row(s)"),
    # Ray: refused in one line, in seconds, before anything is written
    case("ray-client-unreachable", lambda e: gen(e, "--runner", "ray", "--ray-address",
                                                 f"ray://127.0.0.1:{closed_port()}"),
         "runner.address", "nothing answers at 127.0.0.1", "ray start --head"),
    case("ray-gcs-unreachable", lambda e: gen(e, "--runner", "ray", "--ray-address", f"127.0.0.1:{closed_port()}"),
         "runner.address", "nothing answers"),
    case("ray-client-address-is-a-web-server", lambda e: gen(e, "--runner", "ray", "--ray-address",
                                                             "ray://" + _SERVER["url"].removeprefix("http://")),
         "runner.address", "accepts connections but no Ray Client server answers there"),
    case("ray-head-address-is-a-web-server", lambda e: crun(e, "--runner", "ray", "--ray-address",
                                                           _SERVER["url"].removeprefix("http://")),
         "runner.address", "no Ray head (GCS) answers there"),  # Ray's own GCS client printed warnings for minutes
    case("ray-client-no-host", lambda e: gen(e, "--runner", "ray", "--ray-address", "ray://"),
         "runner.address", "is not a Ray address", "ray://HOST:10001"),
    case("ray-client-port-word", lambda e: gen(e, "--runner", "ray", "--ray-address", "ray://head:port"),
         "runner.address", "not a number from 1 to 65535"),
    case("ray-address-http", lambda e: gen(e, "--runner", "ray", "--ray-address", "http://head:8265"),
         "runner.address", "not a Ray address"),
    case("ray-connect-timeout-zero", lambda e: gen(e, "--runner", "ray", "--runner-connect-timeout-s", "0"),
         "runner.connect_timeout_s", "> 0"),
    case("collapse-ray-unreachable", lambda e: crun(e, "--runner", "ray", "--ray-address",
                                                    f"ray://127.0.0.1:{closed_port()}"),
         "runner.address", "nothing answers"),  # the harness checks no experiment.json is left behind
    case("candidates-ray-unreachable", lambda e: ["preference", "candidates", "--prompts", e.seeds(), "--out",
                                                  e.path("items.jsonl"), "--arm", "a=m", "--arm", "b=m", "--runner",
                                                  "ray", "--ray-address", f"127.0.0.1:{closed_port()}"],
         "runner.address", "nothing answers"),
    # checked before connecting (the users would be created, then their passwords lost)
    case("raters-credentials-out-under-a-file", lambda e: ["preference", "raters", "add", "ann", "--credentials-out",
                                                           e.write("f", "x") + "/creds.json"],
         "--credentials-out", "is a file, not a folder"),
    case("raters-credentials-out-a-folder", lambda e: ["preference", "raters", "add", "ann", "--credentials-out",
                                                       e.dir("creds")],
         "--credentials-out", "is a folder, not a file"),
    case("push-credentials-out-dangling", lambda e: ["preference", "push", "--dataset", "d1", "--kind", "moderation",
                                                     "--input", e.seeds(), "--raters", "a", "-k", "1",
                                                     "--credentials-out", e.dangling()],
         "--credentials-out", "dangling symlink"),
    # clearer words
    case("input-symlink-loop", lambda e: gen(e, seeds=loop(e, "loop.jsonl")), "loop.jsonl", "symlink loop"),
    case("out-symlink-loop", lambda e: ["generate", "--input", e.seeds(), "--model", "m", "--out", loop(e, "runloop")],
         "runloop", "symlink loop"),
    case("config-symlink-loop", lambda e: ["mix", "--config", loop(e, "mix.yaml"), "--out", e.path("m")],
         "mix.yaml", "symlink loop"),
    # a Parquet broken at its last row: the shape first, no language identified
    case("parquet-broken-at-last-row", lambda e: gen(e, seeds=parquet_broken_at_last_row(e)), "long.parquet:row5000",
         "over the 1,048,576-byte limit"),
]


class _Html(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = b"<!doctype html><html><body>Welcome to nginx!</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def html_server():
    """A web server that answers 200 with an HTML page at every path (a proxy's or a web site's front page)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Html)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _SERVER["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield _SERVER["url"]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def no_language_id(monkeypatch):
    """Counts the seeds whose language is identified: every refusal here must come before that work."""
    import semisynth.seeds

    calls = []
    real = semisynth.seeds.detect_language
    monkeypatch.setattr(semisynth.seeds, "detect_language", lambda text: calls.append(1) or real(text))
    return calls


@pytest.mark.parametrize("c", params(CASES))
def test_contradictions_state_files_and_remote_addresses_are_refused(c: Case, tmp_path, monkeypatch, capsys,
                                                                     html_server, no_language_id):
    monkeypatch.setenv(KEY_ENV, "some-key")
    started = time.monotonic()
    assert_refused(c, tmp_path, monkeypatch, capsys)
    assert time.monotonic() - started < 10, "refused, but not within 10 s"
    assert not no_language_id, f"{len(no_language_id)} seeds' language identified before the refusal"


def test_one_gpu_per_ray_worker_on_a_machine_without_gpus_is_refused(tmp_path, monkeypatch, capsys):
    """The private Ray was told it had the GPUs asked for, and every engine ran on the CPU."""
    from semisynth.runner import local_gpu_count

    if local_gpu_count() > 0:
        pytest.skip("this machine has a GPU: one per worker is possible here")
    c = case("gpu-without-gpus", lambda e: gen(e, "--runner", "ray", "--workers", "2", "--runner-gpus-per-worker",
                                               "1"),
             "runner.gpus_per_worker", "need 2 GPU(s) and this machine has 0", "gpus_per_worker to 0")
    assert_refused(c, tmp_path, monkeypatch, capsys)


def test_an_address_that_never_answers_waits_the_connect_timeout_only(tmp_path, monkeypatch, capsys):
    """A listening socket that never accepts (backlog full) stands in for a firewall that drops packets:
    the probe gives up after runner.connect_timeout_s, not Ray's 5+10+15 s of retries."""
    from semisynth.errors import UserError
    from semisynth.runner import RunnerConfig, check_ray_target

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    try:
        port = listener.getsockname()[1]
        for _ in range(8):  # fill the accept queue so the next connect hangs
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            fillers.append(s)
        started = time.monotonic()
        try:
            check_ray_target(RunnerConfig(kind="ray", address=f"ray://127.0.0.1:{port}", connect_timeout_s=1.5))
        except UserError as e:
            assert "nothing answers" in str(e) and "1.5 s" in str(e)
            assert time.monotonic() - started < 5
        else:  # the kernel accepted after all (some take more than the backlog): the probe passed, fine
            pytest.skip("the kernel did not hold the connection back")
    finally:
        for s in fillers:
            s.close()
        listener.close()


def test_a_malformed_argilla_url_in_the_environment_is_named(tmp_path, monkeypatch, capsys):
    from semisynth.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARGILLA_API_URL", "argilla.example.com")
    monkeypatch.setenv("ARGILLA_API_KEY", "k")
    assert main(["preference", "report", "--dataset", "d1", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "$ARGILLA_API_URL" in err and "no http:// or https://" in err, err
    assert not (tmp_path / "r").exists()
