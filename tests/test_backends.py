"""Backends against real engines: vLLM in-process, a real vLLM OpenAI server over HTTP, transformers.

The only test double is a transport that injects faults in front of the real one (the httpx seam).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from semisynth.backends import (
    Backend,
    Completion,
    GenerationRequest,
    HTTPSpec,
    OpenAIHTTPBackend,
    SamplingParams,
    TransformersSpec,
    backend_spec,
    open_backend,
)
from semisynth.errors import UserError


def chat(text: str, **params) -> GenerationRequest:
    return GenerationRequest(SamplingParams(**params), messages=({"role": "user", "content": text},))


def raw(text: str, **params) -> GenerationRequest:
    return GenerationRequest(SamplingParams(**params), prompt=text)


def seeded_batch(n: int = 12, max_tokens: int = 16) -> list[GenerationRequest]:
    return [chat(f"My flight {i} was delayed, what now?", max_tokens=max_tokens, seed=100 + i) for i in range(n)]


# -- config seam (fast) -----------------------------------------------------------------------------
def test_unknown_model_path_is_a_user_error_with_a_fix(tmp_path):
    for kind in ("vllm", "transformers"):
        with pytest.raises(UserError) as e:
            open_backend(backend_spec(kind=kind, model=str(tmp_path / "nope")))
        assert "no config.json" in str(e.value) and "semisynth model tiny" in str(e.value)


def test_http_spec_requires_base_url_and_rejects_unknown_keys():
    with pytest.raises(ValidationError, match="base_url"):
        backend_spec(kind="http", model="m")
    with pytest.raises(ValidationError, match="extra"):
        backend_spec(model="m", temprature=0.3)
    assert backend_spec(model="m").kind == "vllm"


def test_unreachable_server_is_a_user_error_on_the_first_probe():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before use: nothing listens there
    with pytest.raises(UserError, match="unreachable") as e:
        OpenAIHTTPBackend(f"http://127.0.0.1:{port}", "m", max_retries=1, backoff_s=0.01, timeout_s=2)
    assert "fix:" in str(e.value)


# -- vLLM in-process --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def vllm_backend(tiny_model_dir):
    from semisynth.backends import VLLMBackend

    backend = VLLMBackend(tiny_model_dir, seed=0, dtype="float32")  # the numerics of the transformers backend
    yield backend
    backend.close()


@pytest.mark.slow
def test_vllm_same_seeds_give_the_same_text_whatever_the_batch(vllm_backend):
    batch = seeded_batch()
    first = vllm_backend.generate(batch)
    assert isinstance(vllm_backend, Backend)
    assert vllm_backend.generate(batch) == first
    assert vllm_backend.generate(batch[3:6]) == first[3:6]  # a request's text depends on its seed only
    reseeded = vllm_backend.generate([chat(r.messages[0]["content"], max_tokens=16, seed=999) for r in batch])
    assert [c.text for c in reseeded] != [c.text for c in first]


@pytest.mark.slow
def test_vllm_reports_length_and_real_token_counts(vllm_backend):
    reqs = [chat("Hello, can you help me?", max_tokens=7, seed=1), raw("Hello there", max_tokens=3, seed=2)]
    out = vllm_backend.generate(reqs)
    for req, c in zip(reqs, out, strict=True):
        assert c.finish_reason == "length" and c.completion_tokens == req.params.max_tokens
        assert c.prompt_tokens == len(vllm_backend.tokenizer.encode(vllm_backend.render(req)))
        assert c.error is None and c.text
    assert vllm_backend.render(reqs[0]).endswith("<|im_start|>assistant\n")
    assert vllm_backend.render(reqs[1]) == "Hello there"


@pytest.mark.slow
def test_vllm_stop_string_cuts_text_and_reports_stop(vllm_backend):
    free = vllm_backend.generate([raw("Thanks for", max_tokens=24, temperature=0.0)])[0]
    stop = free.text[8:11]
    cut = vllm_backend.generate([raw("Thanks for", max_tokens=24, temperature=0.0, stop=(stop,))])[0]
    assert cut.finish_reason == "stop"
    assert cut.text == free.text[: free.text.index(stop)]


@pytest.mark.slow
def test_vllm_too_long_prompt_fails_alone_not_the_batch(vllm_backend):
    reqs = [chat("short one", max_tokens=4, seed=1), raw("word " * 2000, max_tokens=4, seed=1),
            GenerationRequest(SamplingParams(max_tokens=4)), chat("short two", max_tokens=4, seed=2)]
    out = vllm_backend.generate(reqs)
    assert len(out) == 4
    assert out[1].finish_reason == "error" and out[1].error.startswith("prompt too long (")
    assert "> 511)" in out[1].error and out[1].prompt_tokens > 511
    assert out[2].finish_reason == "error" and "neither messages nor prompt" in out[2].error
    assert out[0].finish_reason == out[3].finish_reason == "length"


@pytest.mark.slow
def test_vllm_count_tokens_is_the_prompt_free_token_count(vllm_backend):
    assert vllm_backend.count_tokens("") == 0
    assert vllm_backend.count_tokens("hello there") == len(vllm_backend.tokenizer.encode("hello there",
                                                                                       add_special_tokens=False))


# -- transformers -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hf_backend(tiny_model_dir):
    backend = open_backend(TransformersSpec(model=str(tiny_model_dir), batch_size=4))
    yield backend
    backend.close()


@pytest.mark.slow
def test_transformers_same_seed_gives_the_same_text_across_batches(hf_backend):
    batch = seeded_batch(n=6, max_tokens=12)
    first = hf_backend.generate(batch)
    assert hf_backend.generate(batch) == first
    assert hf_backend.generate(batch[2:3]) == first[2:3]  # alone vs. padded in a batch of 4
    assert all(c.finish_reason == "length" and c.completion_tokens == 12 for c in first)
    assert len({c.text for c in first}) == len(first)


@pytest.mark.slow
def test_transformers_stop_string_and_mixed_max_tokens(hf_backend):
    free = hf_backend.generate([raw("Thanks for", max_tokens=24, temperature=0.0)])[0]
    stop = free.text[8:11]
    out = hf_backend.generate([raw("Thanks for", max_tokens=24, temperature=0.0, stop=(stop,)),
                               raw("Thanks for", max_tokens=3, temperature=0.0)])
    assert out[0].finish_reason == "stop" and out[0].text == free.text[: free.text.index(stop)]
    assert out[1].finish_reason == "length" and out[1].completion_tokens == 3
    assert free.text.startswith(out[1].text)


@pytest.mark.slow
def test_greedy_text_agrees_between_vllm_and_transformers(vllm_backend, hf_backend):
    reqs = [raw(p, max_tokens=8, temperature=0.0) for p in ("Hi", "My bag is lost", "Where is my refund?")]
    assert [c.text for c in vllm_backend.generate(reqs)] == [c.text for c in hf_backend.generate(reqs)]


def test_forbidden_next_blocks_only_the_token_that_completes_a_phrase():
    from semisynth.backends.protocol import forbidden_next

    avoided = [[5, 6, 7], [9], [6, 8]]
    assert forbidden_next(avoided, []) == {9}  # a one-token phrase is never allowed
    assert forbidden_next(avoided, [1, 5]) == {9}  # [5, 6] so far does not end the history
    assert forbidden_next(avoided, [1, 5, 6]) == {7, 8, 9}  # after 5 6: not 7; after 6: not 8
    assert forbidden_next(avoided, [6]) == {8, 9}
    assert forbidden_next([[1, 2, 3]], [2]) == set()  # the history is shorter than the phrase's prefix


def _avoid_phrase(tokenizer, text: str) -> str:
    """Two tokens of an answer, as text that `avoid` reads back as exactly those tokens."""
    from semisynth.backends.protocol import avoided_token_ids

    ids = tokenizer.encode(text, add_special_tokens=False)
    for i in range(len(ids) - 1):
        phrase = tokenizer.decode(ids[i:i + 2]).strip()
        if "\ufffd" not in phrase and phrase and ids[i:i + 2] in avoided_token_ids(tokenizer, [phrase]):
            return phrase
    raise AssertionError(f"no two-token run to avoid in {text!r}")


@pytest.mark.slow
def test_avoided_phrases_are_never_written_and_backends_agree(vllm_backend, hf_backend):
    """SamplingParams.avoid: vLLM's bad_words is the reference; transformers must decode the same text."""
    prompts = ("My bag is lost", "Where is my refund?", "Hi")
    free = [c.text for c in vllm_backend.generate([raw(p, max_tokens=16, temperature=0.0) for p in prompts])]
    phrases = [_avoid_phrase(hf_backend.tokenizer, t) for t in free]
    reqs = [raw(p, max_tokens=16, temperature=0.0, avoid=(ph,)) for p, ph in zip(prompts, phrases, strict=True)]
    steered = [c.text for c in vllm_backend.generate(reqs)]
    for before, after, ph in zip(free, steered, phrases, strict=True):
        assert ph in before and ph not in after and after != before
    assert [c.text for c in hf_backend.generate(reqs)] == steered
    assert raw("x", avoid=("a b",)).params.to_dict()["avoid"] == ["a b"]  # lineage says what was avoided
    assert "avoid" not in raw("x").params.to_dict()


# -- HTTP against a real vLLM OpenAI server -----------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def vllm_server(tiny_model_dir, tmp_path_factory):
    """A real `vllm.entrypoints.openai.api_server` on loopback, serving the tiny model as "tiny"."""
    port = _free_port()
    log_path = Path(tmp_path_factory.mktemp("vllm-server")) / "server.log"
    env = dict(os.environ, VLLM_ENABLE_V1_MULTIPROCESSING="0", HF_HUB_OFFLINE="1")
    env.pop("SEMISYNTH_API_KEY", None)
    env.pop("OPENAI_API_KEY", None)
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(tiny_model_dir),
           "--served-model-name", "tiny", "--host", "127.0.0.1", "--port", str(port),
           "--no-enable-chunked-prefill", "--dtype", "float32", "--max-model-len", "512",
           "--kv-cache-memory-bytes", str(64 << 20), "--enforce-eager", "--seed", "0",
           "--disable-uvicorn-access-log"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"vLLM server exited ({proc.returncode}):\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"vLLM server not healthy in 240 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class FaultInjector(httpx.BaseTransport):
    """Wraps the real transport; `fault(request, attempt_no)` may return a Response or raise before
    the request reaches the server. Counts attempts and the peak of requests in flight."""

    def __init__(self, fault=None, delay_s: float = 0.0):
        self.inner = httpx.HTTPTransport()
        self.fault = fault or (lambda request, n: None)
        self.delay_s = delay_s
        self.attempts: list[str] = []
        self.in_flight = self.peak = 0
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.attempts.append(request.url.path)
            n = len(self.attempts)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            time.sleep(self.delay_s)
            injected = self.fault(request, n)
            if injected is not None:
                return injected
            return self.inner.handle_request(request)
        finally:
            with self._lock:
                self.in_flight -= 1

    def close(self) -> None:
        self.inner.close()


def _posts(t: FaultInjector) -> int:
    return sum(1 for p in t.attempts if p.startswith("/v1/") and p != "/v1/models")


@pytest.mark.slow
def test_http_chat_and_completions_against_real_server(vllm_server):
    backend = open_backend(HTTPSpec(model="tiny", base_url=vllm_server + "/v1"))
    try:
        reqs = [chat("Hello, my bag is lost", max_tokens=6, seed=7), raw("Hello there", max_tokens=4, seed=7)]
        out = backend.generate(reqs)
        assert backend.generate(reqs) == out  # same seeds, same text
        for req, c in zip(reqs, out, strict=True):
            assert c.finish_reason == "length" and c.completion_tokens == req.params.max_tokens
            assert c.prompt_tokens > 0 and c.error is None
    finally:
        backend.close()


@pytest.mark.slow
def test_http_matches_in_process_vllm_for_the_same_seed(vllm_server, vllm_backend):
    reqs = seeded_batch(n=4, max_tokens=8)
    backend = OpenAIHTTPBackend(vllm_server, "tiny")
    try:
        assert [c.text for c in backend.generate(reqs)] == [c.text for c in vllm_backend.generate(reqs)]
    finally:
        backend.close()


@pytest.mark.slow
def test_http_sends_avoided_phrases_as_vllm_bad_words(vllm_server, vllm_backend, hf_backend):
    free = vllm_backend.generate([raw("My bag is lost", max_tokens=16, temperature=0.0)])[0].text
    req = raw("My bag is lost", max_tokens=16, temperature=0.0, avoid=(_avoid_phrase(hf_backend.tokenizer, free),))
    backend = OpenAIHTTPBackend(vllm_server, "tiny")
    try:
        over_http = backend.generate([req])[0].text
    finally:
        backend.close()
    assert over_http == vllm_backend.generate([req])[0].text != free


@pytest.mark.slow
def test_http_retries_503_then_succeeds(vllm_server):
    def fault(request, n):
        if request.url.path == "/v1/chat/completions" and fault.left > 0:
            fault.left -= 1
            return httpx.Response(503, json={"error": {"message": "overloaded"}})
        return None

    fault.left = 2
    t = FaultInjector(fault)
    backend = OpenAIHTTPBackend(vllm_server, "tiny", transport=t, backoff_s=0.01)
    try:
        out = backend.generate([chat("hi", max_tokens=3, seed=1)])
    finally:
        backend.close()
    assert out[0].finish_reason == "length" and out[0].completion_tokens == 3
    assert _posts(t) == 3


@pytest.mark.slow
def test_http_retries_connect_errors_and_timeouts(vllm_server):
    def fault(request, n):
        if request.url.path == "/v1/completions" and fault.left:
            exc = fault.left.pop()
            raise exc("injected", request=request)
        return None

    fault.left = [httpx.ConnectError, httpx.ReadTimeout]
    t = FaultInjector(fault)
    backend = OpenAIHTTPBackend(vllm_server, "tiny", transport=t, backoff_s=0.01)
    try:
        out = backend.generate([raw("hello", max_tokens=2, seed=1)])
    finally:
        backend.close()
    assert out[0].finish_reason == "length" and _posts(t) == 3


@pytest.mark.slow
def test_http_permanent_failure_comes_back_as_error_in_place(vllm_server):
    def fault(request, n):
        if b"POISON" in request.content:
            return httpx.Response(503, json={"error": {"message": "backend exploded"}})
        if b"LIMIT" in request.content:
            return httpx.Response(429, headers={"retry-after": "0"}, text="slow down")
        return None

    t = FaultInjector(fault)
    backend = OpenAIHTTPBackend(vllm_server, "tiny", transport=t, max_retries=2, backoff_s=0.01)
    try:
        reqs = [chat("fine", max_tokens=2, seed=1), chat("POISON", max_tokens=2, seed=1),
                chat("LIMIT", max_tokens=2, seed=1), chat("also fine", max_tokens=2, seed=1)]
        out = backend.generate(reqs)
    finally:
        backend.close()
    assert len(out) == 4 and all(isinstance(c, Completion) for c in out)
    assert out[1].finish_reason == "error" and "503" in out[1].error and "backend exploded" in out[1].error
    assert "3 attempts" in out[1].error
    assert out[2].finish_reason == "error" and "429" in out[2].error
    assert out[0].finish_reason == out[3].finish_reason == "length"


@pytest.mark.slow
def test_http_bad_request_is_not_retried_and_reported(vllm_server):
    t = FaultInjector()
    backend = OpenAIHTTPBackend(vllm_server, "tiny", transport=t)
    try:
        out = backend.generate([raw("word " * 2000, max_tokens=4)])  # the server rejects it: 400
    finally:
        backend.close()
    assert out[0].finish_reason == "error" and out[0].error.startswith("HTTP 400")
    assert _posts(t) == 1


@pytest.mark.slow
def test_http_concurrency_is_bounded(vllm_server):
    t = FaultInjector(delay_s=0.05)
    backend = OpenAIHTTPBackend(vllm_server, "tiny", transport=t, max_concurrency=3)
    try:
        out = backend.generate(seeded_batch(n=10, max_tokens=2))
    finally:
        backend.close()
    assert len(out) == 10 and all(c.finish_reason == "length" for c in out)
    assert 2 <= t.peak <= 3


@pytest.mark.slow
def test_http_wrong_credentials_are_a_user_error_and_the_key_is_never_shown(vllm_server, monkeypatch):
    monkeypatch.setenv("SEMISYNTH_API_KEY", "sk-secret-123")
    seen = []

    def fault(request, n):
        seen.append(request.headers.get("authorization"))
        return httpx.Response(401, json={"error": {"message": "invalid key"}})

    with pytest.raises(UserError, match="401") as e:
        OpenAIHTTPBackend(vllm_server, "tiny", transport=FaultInjector(fault))
    assert seen == ["Bearer sk-secret-123"]  # sent once, not retried
    assert "sk-secret" not in str(e.value) and "API_KEY" in str(e.value)

    def later(request, n):  # the key is revoked after the probe
        return httpx.Response(403, text="forbidden") if request.url.path != "/v1/models" else None

    backend = OpenAIHTTPBackend(vllm_server, "tiny", transport=FaultInjector(later))
    try:
        assert "sk-secret" not in repr(backend)
        with pytest.raises(UserError, match="403"):
            backend.generate([chat("hi", max_tokens=2)])
    finally:
        backend.close()


@pytest.mark.slow
def test_http_unknown_served_model_is_a_user_error(vllm_server):
    with pytest.raises(UserError, match="use one of: tiny"):
        OpenAIHTTPBackend(vllm_server, "gpt-4o")


@pytest.mark.slow
def test_vllm_k_variants_of_one_prompt_pay_one_prefill_and_keep_their_own_seeds(vllm_backend, tiny_model_dir):
    """Last in this file on purpose: closing its second engine tears down vLLM's process-wide parallel
    state, which the module's shared engine still needs.

    Identical prompts (a seed's k variants) go side by side with prefix caching on: the later
    ones are served from the cache; each keeps its own seed, and the texts equal those of an
    engine without prefix caching, in any input order, after any earlier batch."""
    from semisynth.backends import VLLMBackend

    prompt = "Rewrite the message between the tags in other words, keeping its voice. " * 4
    reqs = [chat(prompt + f"<seed>msg {i // 3}</seed>", max_tokens=12, seed=500 + i) for i in range(9)]
    assert vllm_backend.prefix_caching
    before = vllm_backend.cached_prompt_tokens
    first = vllm_backend.generate(reqs)
    assert vllm_backend.cached_prompt_tokens - before >= 6 * 32  # 6 of 9 requests reuse their twin's blocks
    vllm_backend.generate([chat("something else entirely", max_tokens=8, seed=1)])  # leaves a warm cache behind
    again = vllm_backend.generate(list(reversed(reqs)))[::-1]
    assert [c.text for c in again] == [c.text for c in first]
    assert len({c.text for c in first}) > 3  # k variants of one prompt differ: per-request seeds survive
    plain = VLLMBackend(tiny_model_dir, seed=0, enable_prefix_caching=False)
    try:
        assert not plain.prefix_caching
        assert [c.text for c in plain.generate(reqs)] == [c.text for c in first]
    finally:
        plain.close()
