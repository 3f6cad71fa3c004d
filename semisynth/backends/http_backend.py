"""Any OpenAI-compatible server over httpx: bounded concurrency, retries with backoff, early user errors."""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from semisynth.backends.protocol import Completion, GenerationRequest, continues_answer, error_completion
from semisynth.errors import UserError


class _Retryable(Exception):
    """Retries exhausted; the message is the last reason."""


class OpenAIHTTPBackend:
    """Any OpenAI-compatible server (vLLM, TGI, llama.cpp, a hosted API).

    Bounded concurrency (a thread pool), retries with exponential backoff + jitter on connect
    errors, timeouts, 5xx and 429; a request that still fails comes back as finish_reason="error".
    Wrong credentials and an unreachable server are the user's to fix: UserError, early.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        max_concurrency: int = 8,
        timeout_s: float = 60,
        max_retries: int = 4,
        backoff_s: float = 0.5,
        transport: Any = None,
        probe: bool = True,
    ) -> None:
        import httpx

        url = base_url.rstrip("/")
        self.base_url = url[: -len("/v1")] if url.endswith("/v1") else url
        self._model = model
        self.max_concurrency = max(1, int(max_concurrency))
        self.max_retries = max(0, int(max_retries))
        self.backoff_s = backoff_s
        key = api_key or os.environ.get("SEMISYNTH_API_KEY") or os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
            limits=httpx.Limits(max_connections=self.max_concurrency, max_keepalive_connections=self.max_concurrency),
            transport=transport,
        )
        self._pool = ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="semisynth-http")
        self._rng = random.Random()
        self._rng_lock = threading.Lock()
        if probe:
            self.probe()

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAIHTTPBackend({self.base_url!r}, model={self._model!r})"

    @property
    def model_name(self) -> str:
        return self._model

    # -- low level ---------------------------------------------------------------------------------
    def _auth_error(self, status: int) -> UserError:
        return UserError(
            f"server {self.base_url}",
            f"rejected the credentials (HTTP {status})",
            "set SEMISYNTH_API_KEY (or OPENAI_API_KEY) to a valid key for this server",
        )

    def _sleep_before_retry(self, attempt: int, retry_after: float | None) -> None:
        with self._rng_lock:
            jitter = self._rng.uniform(0.5, 1.5)
        delay = min(30.0, self.backoff_s * (2**attempt) * jitter)
        if retry_after is not None:
            delay = max(delay, min(60.0, retry_after))
        time.sleep(delay)

    def _send(self, method: str, path: str, json_body: dict | None = None) -> Any:
        """One HTTP call with retries. Returns the response (any non-retryable status); raises
        _Retryable with the last reason once retries are exhausted, UserError on 401/403."""
        import httpx

        last, retry_after = "no attempt", None
        for attempt in range(self.max_retries + 1):
            if attempt:
                self._sleep_before_retry(attempt - 1, retry_after)
            retry_after = None
            try:
                resp = self._client.request(method, path, json=json_body)
            except httpx.TimeoutException as e:
                last = f"timeout ({type(e).__name__})"
                continue
            except httpx.TransportError as e:
                last = f"connection failed ({type(e).__name__}: {e})"
                continue
            if resp.status_code in (401, 403):
                raise self._auth_error(resp.status_code)
            if resp.status_code == 429 or resp.status_code >= 500:
                ra = resp.headers.get("retry-after")
                try:
                    retry_after = float(ra) if ra is not None else None
                except ValueError:
                    retry_after = None
                last = f"HTTP {resp.status_code}: {_short_body(resp)}"
                continue
            return resp
        raise _Retryable(f"gave up after {self.max_retries + 1} attempts; last: {last}")

    def probe(self) -> None:
        """Fail early, with a fix, when the server is unreachable, the key is wrong or the model absent."""
        try:
            resp = self._send("GET", "/v1/models")
        except _Retryable as e:
            raise UserError(
                f"server {self.base_url}",
                f"unreachable ({e})",
                "start the server (e.g. `python -m vllm.entrypoints.openai.api_server --model DIR`) or fix base_url",
            ) from None
        if resp.status_code != 200:
            return  # some servers have no /v1/models; requests will tell
        try:
            served = [m["id"] for m in resp.json().get("data", [])]
        except Exception:
            return
        if served and self._model not in served:
            raise UserError(
                f"model {self._model!r}",
                f"not served by {self.base_url}",
                f"use one of: {', '.join(served[:10])}",
            )

    def _payload(self, req: GenerationRequest) -> tuple[str, dict]:
        p = req.params
        body: dict[str, Any] = {"model": self._model, "max_tokens": p.max_tokens, "temperature": p.temperature,
                                "top_p": p.top_p}
        if p.seed is not None:
            body["seed"] = p.seed
        if p.stop:
            body["stop"] = list(p.stop)
        if p.avoid:  # vLLM's server takes `bad_words` (an OpenAI server refuses it: unknown field)
            body["bad_words"] = list(p.avoid)
        if req.messages is not None:
            body["messages"] = [dict(m) for m in req.messages]
            if continues_answer(req):  # vLLM's server (and others built on HF chat templates) continue the turn
                body |= {"continue_final_message": True, "add_generation_prompt": False}
            return "/v1/chat/completions", body
        if req.prompt is not None:
            body["prompt"] = req.prompt
            return "/v1/completions", body
        raise ValueError("request has neither messages nor prompt")

    def _one(self, req: GenerationRequest) -> Completion:
        try:
            path, body = self._payload(req)
            resp = self._send("POST", path, body)
        except (_Retryable, ValueError) as e:
            return error_completion(str(e))
        except UserError:
            raise  # credentials: every request would fail the same way
        except Exception as e:  # anything else is this request's failure, not the batch's
            return error_completion(f"{type(e).__name__}: {e}")
        if resp.status_code != 200:
            return error_completion(f"HTTP {resp.status_code}: {_short_body(resp)}")
        try:
            data = resp.json()
            choice = data["choices"][0]
            text = choice["message"]["content"] if "message" in choice else choice["text"]
            usage = data.get("usage") or {}
        except Exception as e:
            return error_completion(f"malformed response ({type(e).__name__}: {e})")
        fr = choice.get("finish_reason")
        reason = "length" if fr == "length" else ("error" if fr in ("abort", "error") else "stop")
        return Completion(
            text=text or "",
            finish_reason=reason,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            error=f"server finished with {fr!r}" if reason == "error" else None,
        )

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        return list(self._pool.map(self._one, requests))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._client.close()


def _short_body(resp: Any, limit: int = 200) -> str:
    try:
        data = resp.json()
        msg = data.get("error", data) if isinstance(data, dict) else data
        if isinstance(msg, dict):
            msg = msg.get("message", msg)
        text = str(msg)
    except Exception:
        text = resp.text
    text = " ".join(text.split())
    return text[:limit] or resp.reason_phrase


