"""A local Argilla workspace started and stopped by semisynth: osmem (search engine), Redis, the
argilla-server API and its rq worker, all on free loopback ports, state under one directory.

Why a separate virtualenv: argilla-server pins (click<8.2, datasets<4) clash with the project's.
Why osmem: no Elasticsearch/OpenSearch is installable here; osmem plus the engine subclass in
server_plugin/ gives correct per-annotator pending/submitted queues (tested in tests/preference).
osmem keeps nothing across restarts, so `up` reindexes from the server's SQLite database.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from semisynth.atomic import write_json
from semisynth.errors import UserError

OWNER = "semisynth"
WORKSPACE = "semisynth"
PLUGIN_DIR = Path(__file__).resolve().parent / "server_plugin"
_ORDER = ("osmem", "redis", "server", "worker")


def default_server_python() -> Path:
    env = os.environ.get("SEMISYNTH_ARGILLA_PYTHON")
    if env:
        return Path(env)
    for base in (Path.cwd(), Path(__file__).resolve().parents[1]):
        cand = base / ".venv-argilla" / "bin" / "python"
        if cand.exists():
            return cand
    return Path.cwd() / ".venv-argilla" / "bin" / "python"


def read_credentials(path: Path) -> dict[str, str]:
    """The local stack's credentials.json: a JSON object with string username, password and api_key (as `up`
    writes it). Anything else is one line naming the file, not a traceback."""
    fix = ("restore the file from a backup, or stop the stack (`semisynth argilla down`), remove the state folder "
           "and run `semisynth argilla up` again (a new owner key)")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError):  # JSONDecodeError is a ValueError
        raise UserError(str(path), "is not JSON (the local Argilla stack's credentials file)", fix) from None
    if not isinstance(data, dict):
        raise UserError(str(path), f"holds a JSON {type(data).__name__}, not an object with api_key", fix)
    for key in ("api_key", "password"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise UserError(str(path), f"has no '{key}' (a non-empty string)", fix)
    return data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a port in TIME_WAIT is reusable
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours is not alive
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


_MARKERS = {"osmem": "osmem-server", "redis": "redis-server", "server": "launch.py", "worker": "launch.py"}


def _is_ours(pid: int, name: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return _MARKERS[name].encode() in f.read()
    except OSError:
        return False


def _write_secret(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


_STATE_FIX = ("stop what it started if anything still runs (`ps aux | grep -e argilla -e redis`), then remove the file "
              "and run `semisynth argilla up`")


@dataclass
class LocalStack:
    """One local stack rooted at `state_dir`; every process it starts is recorded in state.json."""

    state_dir: Path
    server_python: Path | None = None
    workers: int = 1

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir).resolve()
        self.server_python = Path(self.server_python or default_server_python())

    # -- files --------------------------------------------------------------------------------
    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    @property
    def credentials_file(self) -> Path:
        return self.state_dir / "credentials.json"

    def state(self) -> dict[str, Any]:
        """state.json as `up` wrote it; {} when there is none. A broken one is one line: read as none, `up`
        started a second stack beside the running one and `status`/`connect` said nothing was set up."""
        try:
            raw = self.state_file.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise UserError(str(self.state_file), f"cannot be read ({e.strerror or e})", _STATE_FIX) from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):  # JSONDecodeError is a ValueError
            raise UserError(str(self.state_file), "is not JSON (the local Argilla stack's ports and process ids)",
                            _STATE_FIX) from None
        if not isinstance(data, dict):
            raise UserError(str(self.state_file), f"holds a JSON {type(data).__name__}, not the local stack's state",
                            _STATE_FIX)
        return data

    @property
    def jwt_secret_file(self) -> Path:
        return self.state_dir / "jwt_secret"

    def credentials(self) -> dict[str, str]:
        """Random password and API key, created once, stored 0600 (never printed to logs)."""
        if self.credentials_file.exists():
            return read_credentials(self.credentials_file)
        creds = {"username": OWNER, "password": secrets.token_urlsafe(18), "api_key": secrets.token_urlsafe(32)}
        _write_secret(self.credentials_file, json.dumps(creds))
        return creds

    def jwt_secret(self) -> str:
        """The key that signs the raters' sessions, created once (0600): argilla-server draws a new one per
        process by default, so every restart signed every rater out."""
        if not self.jwt_secret_file.exists():
            _write_secret(self.jwt_secret_file, secrets.token_hex(32))
        return self.jwt_secret_file.read_text().strip()

    def _write_state(self, state: dict[str, Any]) -> None:
        write_json(self.state_file, state)

    # -- processes ----------------------------------------------------------------------------
    def _env(self, st: dict[str, Any]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGILLA_", "VIRTUAL_ENV", "PYTHON"))}
        env.update({
            "ARGILLA_HOME_PATH": str(self.state_dir / "home"),
            "ARGILLA_ELASTICSEARCH": f"http://127.0.0.1:{st['ports']['osmem']}",
            "ARGILLA_SEARCH_ENGINE": "osmem",
            "ARGILLA_REDIS_URL": f"redis://127.0.0.1:{st['ports']['redis']}/0",
            "ARGILLA_ENABLE_TELEMETRY": "0",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_OFFLINE": "1",
            "ARGILLA_ES_RECORDS_INDEX_REPLICAS": "0",
            "ARGILLA_AUTH_SECRET_KEY": self.jwt_secret(),  # environment, not argv: only this user can read it
        })
        return env

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> int:
        log = open(self.state_dir / "logs" / f"{name}.log", "ab")  # noqa: SIM115 (owned by the child)
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=self.state_dir, start_new_session=True)
        log.close()
        return proc.pid

    def _launch(self, *args: str) -> list[str]:
        return [str(self.server_python), str(PLUGIN_DIR / "launch.py"), *args]

    def _run_admin(self, st: dict[str, Any], *args: str, timeout: float = 180, stdin: str | None = None) -> None:
        out = subprocess.run(self._launch(*args), env=self._env(st), cwd=self.state_dir, capture_output=True,
                             text=True, timeout=timeout, input=stdin)
        if out.returncode != 0:
            tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
            raise UserError(f"argilla-server {' '.join(args[:2])}", f"failed: {' | '.join(tail)[:300]}",
                            f"see {self.state_dir / 'logs'} and check the server venv {self.server_python}")

    def _check_prereqs(self) -> str:
        if not self.server_python.exists():
            raise UserError(str(self.server_python), "the Argilla server virtualenv is missing",
                            "python3.11 -m venv .venv-argilla && .venv-argilla/bin/pip install -r "
                            "requirements/argilla-server.txt (or set SEMISYNTH_ARGILLA_PYTHON)")
        redis = shutil.which("redis-server")
        if not redis:
            raise UserError("redis-server", "not found on PATH", "apt-get install -y redis-server")
        return redis

    def _osmem_binary(self) -> str:
        out = subprocess.run([str(self.server_python), "-c", "import osmem_server;print(osmem_server.resolve_binary())"],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise UserError(str(self.server_python), "osmem-server is not installed in the server venv",
                            "pip install -r requirements/argilla-server.txt into .venv-argilla")
        return out.stdout.strip()

    def running(self) -> dict[str, bool]:
        st = self.state()
        return {name: _alive(pid) for name, pid in (st.get("pids") or {}).items()}

    def stopped(self) -> bool:
        """Nothing this stack started is running (after `down`, or never started here)."""
        return not any(self.running().values())

    def url(self) -> str:
        return self.state().get("url", "")

    def healthy(self, timeout: float = 2.0) -> bool:
        import httpx

        st = self.state()
        if not st.get("url") or not self.credentials_file.exists():
            return False
        try:
            r = httpx.get(f"{st['url']}/api/v1/me", headers={"X-Argilla-Api-Key": self.credentials()["api_key"]},
                          timeout=timeout)
            return r.status_code == 200
        except httpx.HTTPError:
            return False

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.healthy():
                return
            dead = [n for n, ok in self.running().items() if not ok]
            if dead:
                raise UserError(f"local Argilla stack ({', '.join(dead)})", "a process exited while starting",
                                f"see the logs in {self.state_dir / 'logs'}")
            time.sleep(0.5)
        raise UserError("local Argilla stack", f"not healthy after {timeout:.0f}s",
                        f"see the logs in {self.state_dir / 'logs'}")

    def _wait_port(self, port: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.1)
        raise UserError(f"127.0.0.1:{port}", "a stack process did not open its port",
                        f"see the logs in {self.state_dir / 'logs'}")

    def start_server(self, st: dict[str, Any] | None = None) -> None:
        """(Re)start only the API server on its recorded port (used by `up` and by the fault tests)."""
        st = st or self.state()
        st["pids"]["server"] = self._spawn("server", self._launch(
            "start", "--host", "127.0.0.1", "--port", str(st["ports"]["server"]), "--no-access-log"), self._env(st))
        self._write_state(st)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Kill one process this stack started (by its recorded pid and process group), after checking
        the pid still runs what we started (a stale state file must not hit a reused pid)."""
        pid = (self.state().get("pids") or {}).get(name)
        if pid and _alive(pid) and _is_ours(pid, name):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 10
            while _alive(pid) and time.monotonic() < deadline:
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
                time.sleep(0.05)

    def up(self, timeout: float = 120) -> dict[str, Any]:
        """Start everything (or return the running stack); idempotent."""
        running = self.running()
        if running and all(running.values()) and self.healthy():
            return self.state()
        self.down()
        redis = self._check_prereqs()
        for sub in ("logs", "home", "redis"):
            (self.state_dir / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.state_dir, 0o700)
        creds = self.credentials()
        old = self.state().get("ports") or {}  # same URL across restarts when the ports are still free
        st: dict[str, Any] = {"ports": {n: old[n] if n in old and _port_free(old[n]) else free_port()
                                        for n in ("osmem", "redis", "server")}, "pids": {}}
        st["url"] = f"http://127.0.0.1:{st['ports']['server']}"
        self._write_state(st)
        st["pids"]["osmem"] = self._spawn("osmem", [self._osmem_binary(), "--addr", f"127.0.0.1:{st['ports']['osmem']}",
                                                    "--no-stdin-watch"])
        st["pids"]["redis"] = self._spawn("redis", [redis, "--port", str(st["ports"]["redis"]), "--bind", "127.0.0.1",
                                                    "--dir", str(self.state_dir / "redis"), "--save", "",
                                                    "--appendonly", "no", "--protected-mode", "yes"])
        self._write_state(st)
        self._wait_port(st["ports"]["osmem"])
        self._wait_port(st["ports"]["redis"])
        self._run_admin(st, "database", "migrate")
        # secrets on stdin, never on a command line (any local user can read /proc/<pid>/cmdline)
        self._run_admin(st, "create-owner", stdin=json.dumps({**creds, "workspace": WORKSPACE}))
        self._run_admin(st, "search-engine", "reindex")
        self.start_server(st)
        st["pids"]["worker"] = self._spawn("worker", self._launch("worker", "--num-workers", str(self.workers)),
                                           self._env(st))
        self._write_state(st)
        self._wait_healthy(timeout)
        return st

    def down(self) -> list[str]:
        """Stop what this stack started (recorded pids only), gently then firmly."""
        st = self.state()
        stopped = []
        for name in reversed(_ORDER):
            pid = (st.get("pids") or {}).get(name)
            if pid and _alive(pid):
                self.kill(name, signal.SIGTERM)
                if _alive(pid):
                    self.kill(name, signal.SIGKILL)
                stopped.append(name)
        if st:
            st["pids"] = {}
            self._write_state(st)
        return stopped


def describe(stack: LocalStack, show_secrets: bool) -> str:
    st = stack.state()  # a broken state.json is refused before anything is printed
    if not stack.credentials_file.exists():
        return f"Argilla: not started (no state in {stack.state_dir}); run `semisynth argilla up`"
    creds = stack.credentials()
    if stack.stopped():
        return (f"Argilla: stopped (last at {st.get('url', '?')}; state in {stack.state_dir}); "
                "start it with `semisynth argilla up`")
    lines = [f"Argilla: {st.get('url', '(not started)')}  ({'healthy' if stack.healthy() else 'NOT healthy'})",
             f"username: {creds['username']}  workspace: {WORKSPACE}"]
    if show_secrets:
        lines.append(f"password: {creds['password']}")
        lines.append(f"api key:  {creds['api_key']}")
    lines.append(f"credentials file (0600): {stack.credentials_file}")
    lines.append("processes: " + ", ".join(f"{n}={'up' if ok else 'down'}" for n, ok in stack.running().items()))
    return "\n".join(lines)
