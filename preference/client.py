"""Talking to Argilla: one connection object, clear one-line errors, retries with backoff.

The SDK (`argilla` 2.8) does dataset and record work; a plain httpx client does what the SDK does
not expose (user API keys, the per-annotator queue, submitting as a given user).
Secrets come from config or the environment and are never logged or put in error messages.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from semisynth.errors import UserError

log = logging.getLogger(__name__)
T = TypeVar("T")
API_KEY_ENV = "ARGILLA_API_KEY"
API_URL_ENV = "ARGILLA_API_URL"


class Transient(Exception):
    """A failure worth retrying: the server is down, restarting or overloaded."""


def _is_transient(e: BaseException) -> bool:
    if isinstance(e, (httpx.TransportError, Transient, ConnectionError, TimeoutError)):
        return True
    status = getattr(e, "status_code", None) or getattr(getattr(e, "response", None), "status_code", None)
    if isinstance(status, int) and (status >= 500 or status == 429):
        return True
    text = f"{type(e).__name__} {e}"
    return any(s in text for s in ("ConnectError", "ConnectionError", "RemoteProtocolError", "ReadError",
                                   "ServerDisconnected", "Connection refused", "InternalServerError"))


def with_retry(fn: Callable[[], T], what: str, tries: int = 8, base_delay: float = 0.5, max_delay: float = 10.0) -> T:
    """Call fn, retrying transient failures with exponential backoff; anything else propagates."""
    for attempt in range(tries):
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 (classified below)
            if not _is_transient(e) or attempt == tries - 1:
                raise
            delay = min(max_delay, base_delay * 2 ** attempt)
            log.warning("%s failed (%s); retry %d/%d in %.1fs", what, type(e).__name__, attempt + 1, tries - 1, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


@dataclass
class Connection:
    """URL + API key of an Argilla server (local stack or a team's own) and a workspace."""

    url: str
    api_key: str = field(repr=False)  # never shown
    workspace: str = "semisynth"
    timeout: float = 60.0
    _sdk: Any = field(default=None, init=False, repr=False, compare=False)
    _workspace_id: str | None = field(default=None, init=False, repr=False, compare=False)

    def http(self, api_key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-Argilla-Api-Key": api_key or self.api_key},
                            timeout=self.timeout)

    def sdk(self):
        """The owner's SDK client, made once; it is also the SDK's default, because settings objects
        built later (curation.dataset_settings) bind to the default client."""
        if self._sdk is None:
            import argilla as rg

            self._sdk = rg.Argilla(api_url=self.url, api_key=self.api_key, timeout=int(self.timeout))
            rg.Argilla._set_default(self._sdk)
        return self._sdk

    def check(self) -> dict[str, Any]:
        """Fail fast with one clear line on an unreachable URL or wrong credentials."""
        try:
            with self.http() as c:
                r = c.get("/api/v1/me")
        except httpx.TransportError as e:
            raise UserError(self.url, f"Argilla is unreachable ({type(e).__name__})",
                            "start it with `semisynth argilla up`, or fix argilla.url / $ARGILLA_API_URL") from None
        if r.status_code == 401:
            raise UserError(self.url, "Argilla rejected the API key (401 Unauthorized)",
                            f"set the owner's key in ${API_KEY_ENV} or argilla.api_key_env; the local stack's is in "
                            "its credentials.json")
        if r.status_code >= 400:
            raise UserError(self.url, f"unexpected answer from Argilla ({r.status_code})",
                            "check that the URL points at an Argilla 2.x server")
        me = r.json()
        if me.get("role") not in ("owner", "admin"):
            raise UserError(self.url, f"user '{me.get('username')}' is a {me.get('role')}, not an owner/admin",
                            "use an owner or admin API key to create datasets and users")
        self.ensure_workspace()
        self.sdk()
        return me

    def ensure_workspace(self) -> str:
        """The workspace's id, created if missing; looked up once per connection."""
        if self._workspace_id is None:
            with self.http() as c:
                items = c.get("/api/v1/me/workspaces").json().get("items", [])
                found = [w["id"] for w in items if w["name"] == self.workspace]
                if not found:
                    r = c.post("/api/v1/workspaces", json={"name": self.workspace})
                    if r.status_code >= 400:
                        raise UserError(f"workspace '{self.workspace}'", f"cannot create it ({r.status_code})",
                                        "create it in Argilla or pick an existing workspace")
                    found = [r.json()["id"]]
            self._workspace_id = found[0]
        return self._workspace_id

    # -- users ---------------------------------------------------------------------------------
    def ensure_users(self, usernames: list[str], role: str = "annotator") -> dict[str, str]:
        """Create missing users in the workspace; return username -> API key (kept in memory only)."""
        ws_id = self.ensure_workspace()
        with self.http() as c:
            existing = {u["username"]: u for u in c.get("/api/v1/users").json()["items"]}
            members = {u["username"] for u in c.get(f"/api/v1/workspaces/{ws_id}/users").json()["items"]}
            keys = {}
            for name in usernames:
                u = existing.get(name)
                if u is None:
                    r = c.post("/api/v1/users", json={"username": name, "first_name": name, "role": role,
                                                      "password": secrets.token_urlsafe(12)})
                    r.raise_for_status()
                    u = r.json()
                if name not in members:
                    c.post(f"/api/v1/workspaces/{ws_id}/users", json={"user_id": u["id"]}).raise_for_status()
                keys[name] = u["api_key"]
            return keys

    def user_names(self) -> dict[str, str]:
        with self.http() as c:
            return {u["id"]: u["username"] for u in c.get("/api/v1/users").json()["items"]}

    def dataset_id(self, name: str) -> str | None:
        ws_id = self.ensure_workspace()
        with self.http() as c:
            items = c.get("/api/v1/me/datasets").json().get("items", [])
        return next((d["id"] for d in items if d["name"] == name and d.get("workspace_id") == ws_id), None)

    # -- the annotator side ----------------------------------------------------------------------
    def annotator_queue(self, dataset_id: str, api_key: str, status: str = "pending",
                        assignee: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Records in one user's queue, as the UI shows them: pending = not yet answered by this user
        and not yet complete (min_submitted reached); submitted = answered by this user."""
        filters: list[dict[str, Any]] = [
            {"type": "terms", "scope": {"entity": "response", "property": "status"}, "values": [status]}]
        if status == "pending":
            filters.append({"type": "terms", "scope": {"entity": "record", "property": "status"}, "values": ["pending"]})
        if assignee:
            filters.append({"type": "terms", "scope": {"entity": "metadata", "metadata_property": "assignees"},
                            "values": [assignee]})
        out: list[dict[str, Any]] = []
        with self.http(api_key) as c:
            while True:
                r = with_retry(lambda: _ok(c.post(f"/api/v1/me/datasets/{dataset_id}/records/search",
                                                  params={"offset": len(out), "limit": limit},
                                                  json={"filters": {"and": filters}})), "queue")
                items = [i["record"] for i in r.json()["items"]]
                out.extend(items)
                if len(items) < limit:
                    return out

    def submit(self, record_id: str, api_key: str, values: dict[str, Any], status: str = "submitted") -> None:
        """Submit one response as the user owning `api_key` (what a rater does in the UI)."""
        body = {"values": {k: {"value": v} for k, v in values.items() if v is not None}, "status": status}
        with self.http(api_key) as c:
            with_retry(lambda: _ok(c.post(f"/api/v1/records/{record_id}/responses", json=body), allow=(409,)),
                       "submit response")


def _ok(r: httpx.Response, allow: tuple[int, ...] = ()) -> httpx.Response:
    if r.status_code >= 500:
        raise Transient(f"HTTP {r.status_code}")
    if r.status_code >= 400 and r.status_code not in allow:
        r.raise_for_status()
    return r


def resolve_connection(url: str | None, api_key_env: str, workspace: str, state_dir: str | Path) -> Connection:
    """Explicit URL + key from the environment (a team's Argilla), else the local stack's state."""
    url = url or os.environ.get(API_URL_ENV)
    if url:
        key = os.environ.get(api_key_env)
        if not key:
            raise UserError(f"${api_key_env}", "no API key for the configured Argilla URL",
                            f"export {api_key_env}=<owner API key> (never put keys in config files)")
        return Connection(url.rstrip("/"), key, workspace)
    from semisynth.preference.stack import LocalStack

    stack = LocalStack(Path(state_dir))
    st = stack.state()
    if not st.get("url") or not stack.credentials_file.exists():
        raise UserError(str(state_dir), "no Argilla configured and no local stack state here",
                        "run `semisynth argilla up`, or set argilla.url / $ARGILLA_API_URL and $ARGILLA_API_KEY")
    return Connection(st["url"], stack.credentials()["api_key"], workspace)
