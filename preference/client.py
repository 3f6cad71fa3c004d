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
RATER_WS_SEP = "--"  # <workspace>--<rater>: one workspace per rater queue


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


def rerun_if_lost(doing: str, resume: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """A command whose Argilla stops answering midway (stopped by `argilla down`, killed, unreachable) ends in
    one line saying what to do, not a traceback; the retries above have already waited."""
    def wrap(fn: Callable[..., T]) -> Callable[..., T]:
        def run(*args: Any, **kwargs: Any) -> T:
            try:
                return fn(*args, **kwargs)
            except UserError:
                raise
            except Exception as e:  # noqa: BLE001 (classified)
                if not _is_transient(e):
                    raise
                raise UserError("Argilla", f"stopped answering while {doing} ({type(e).__name__})",
                                f"start it again (`semisynth argilla up`) and rerun the same command: {resume}") from None
        return run
    return wrap


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
        try:
            me = r.json()
        except ValueError:  # a web page, a proxy's login form: 200 but not the API
            me = None
        if not isinstance(me, dict):
            kind = (r.headers.get("content-type") or "no content type").split(";")[0]
            raise UserError(self.url, f"answered /api/v1/me with {r.status_code} and {kind}, not Argilla's JSON API",
                            "give the Argilla server's base URL (where /api/v1/me answers JSON), not a web page, "
                            "proxy or another service")
        if me.get("role") not in ("owner", "admin"):
            raise UserError(self.url, f"user '{me.get('username')}' is a {me.get('role')}, not an owner/admin",
                            "use an owner or admin API key to create datasets and users")
        self.ensure_workspace()
        self.sdk()
        return me

    def ensure_workspace(self) -> str:
        """The main workspace's id, created if missing; looked up once per connection."""
        if self._workspace_id is None:
            self._workspace_id = self.workspace_id(self.workspace, create=True)
        return self._workspace_id

    def workspaces(self) -> dict[str, str]:
        """name -> id of every workspace the owner sees."""
        with self.http() as c:
            r = with_retry(lambda: _ok(c.get("/api/v1/me/workspaces")), "list workspaces")
        return {w["name"]: w["id"] for w in r.json().get("items", [])}

    def workspace_id(self, name: str, create: bool = False) -> str | None:
        found = self.workspaces().get(name)
        if found is None and create:
            with self.http() as c:
                r = c.post("/api/v1/workspaces", json={"name": name})
            if r.status_code >= 400:
                raise UserError(f"workspace '{name}'", f"cannot create it ({r.status_code})",
                                "create it in Argilla or pick an existing workspace")
            found = r.json()["id"]
        return found

    def rater_workspace(self, rater: str) -> str:
        """Each rater's queue lives in a workspace of its own (they are its only member besides owners),
        because Argilla 2.8 shows an annotator every record of every dataset in their workspaces."""
        return f"{self.workspace}{RATER_WS_SEP}{rater}"

    # -- users ---------------------------------------------------------------------------------
    def users(self) -> dict[str, dict[str, Any]]:
        """username -> user (id, role, api_key, ...); owner-only endpoint."""
        with self.http() as c:
            r = with_retry(lambda: _ok(c.get("/api/v1/users")), "list users")
        return {u["username"]: u for u in r.json()["items"]}

    def create_user(self, name: str, role: str, password: str) -> dict[str, Any]:
        with self.http() as c:
            r = c.post("/api/v1/users", json={"username": name, "first_name": name, "role": role,
                                              "password": password})
        if r.status_code >= 400:
            raise UserError(f"user '{name}'", f"Argilla refused to create it ({r.status_code})",
                            "pick another name (letters, digits, '-' or '_')")
        return r.json()

    def set_password(self, user_id: str, password: str) -> None:
        with self.http() as c:
            _ok(c.patch(f"/api/v1/users/{user_id}", json={"password": password}))

    def add_member(self, workspace_id: str, user_id: str) -> None:
        with self.http() as c:
            members = {u["id"] for u in c.get(f"/api/v1/workspaces/{workspace_id}/users").json()["items"]}
            if user_id not in members:
                _ok(c.post(f"/api/v1/workspaces/{workspace_id}/users", json={"user_id": user_id}))

    def ensure_users(self, usernames: list[str], role: str = "annotator") -> dict[str, str]:
        """Create missing users with a throwaway password (simulated raters only: people get
        theirs through `preference raters add`) and give each their own workspace; return
        username -> API key (kept in memory only)."""
        existing = self.users()
        keys = {}
        for name in usernames:
            u = existing.get(name) or self.create_user(name, role, secrets.token_urlsafe(12))
            self.add_member(self.workspace_id(self.rater_workspace(name), create=True), u["id"])
            keys[name] = u["api_key"]
        return keys

    def user_names(self) -> dict[str, str]:
        with self.http() as c:
            return {u["id"]: u["username"] for u in c.get("/api/v1/users").json()["items"]}

    def datasets(self) -> list[dict[str, Any]]:
        with self.http() as c:
            r = with_retry(lambda: _ok(c.get("/api/v1/me/datasets")), "list datasets")
        return r.json().get("items", [])

    def dataset_id(self, name: str, workspace: str | None = None) -> str | None:
        """The id of dataset `name` in `workspace` (default: the main one)."""
        ws_id = self.workspace_id(workspace) if workspace else self.ensure_workspace()
        return next((d["id"] for d in self.datasets() if d["name"] == name and d.get("workspace_id") == ws_id), None)

    def copies(self, name: str) -> dict[str, str]:
        """Every dataset called `name` in the main workspace ("*") or a rater's workspace (the rater's
        name): owner -> dataset id. A dataset is split into one copy per rater queue."""
        by_id = {i: n for n, i in self.workspaces().items()}
        prefix = f"{self.workspace}{RATER_WS_SEP}"
        out = {}
        for d in self.datasets():
            ws = by_id.get(d.get("workspace_id"), "")
            if d["name"] != name:
                continue
            if ws == self.workspace:
                out["*"] = d["id"]
            elif ws.startswith(prefix):
                out[ws[len(prefix):]] = d["id"]
        return out

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
    from_env = not url and bool(os.environ.get(API_URL_ENV))
    url = url or os.environ.get(API_URL_ENV)
    if url:
        from semisynth.preference.configs import url_problem

        problem = url_problem(url)
        if problem:
            raise UserError(f"${API_URL_ENV}" if from_env else "argilla.url (--url)", f"{url!r:.80} {problem}",
                            "give the server's base URL, e.g. http://127.0.0.1:6900 or https://argilla.example.com")
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


def connect(target: Any) -> Connection:
    """The checked connection a command's `argilla:` section (configs.ArgillaTarget) names."""
    conn = resolve_connection(target.url, target.api_key_env, target.workspace, target.state_dir)
    conn.check()
    return conn
