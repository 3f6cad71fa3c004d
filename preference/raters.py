"""Human raters: Argilla annotators, each with a workspace of their own (their queue), and
credentials handed to the operator exactly once.

A password exists in three places only: Argilla's database (hashed), the operator's 0600 file (or
the terminal, with --print-credentials), and the rater's head. It is never logged, never in an
error message, never in a summary printed on stdout.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from semisynth.errors import UserError
from semisynth.paths import check_output_file
from semisynth.preference.client import Connection, connect
from semisynth.preference.configs import RatersConfig

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")
ROLES = ("annotator", "admin")


def check_names(names: Sequence[str], where: str = "raters") -> list[str]:
    """Rater names become Argilla usernames and workspace names: lowercase letters, digits, - and _."""
    if not names:
        raise UserError(where, "no rater names given", "pass one or more names, e.g. alice bob")
    for n in names:
        if not NAME.match(n):
            raise UserError(f"{where}: '{n}'", "not a valid rater name",
                            "use lowercase letters, digits, '-' or '_' (starting with a letter or digit, <= 60 chars)")
    if len(set(names)) != len(names):
        raise UserError(where, "a rater name repeats", "give each rater once")
    return list(names)


def default_credentials_file(state_dir: str | Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return Path(state_dir) / "raters" / f"credentials-{stamp}.json"


def check_credentials_target(path: str | Path | None) -> None:
    """Refuse before anything is created: an existing file is never overwritten (it may hold the only
    copy of other passwords)."""
    if path is None:
        return
    if Path(path).exists() and not Path(path).is_dir():
        raise UserError(str(path), "the credentials file already exists", "pass a new --credentials-out path")
    check_output_file(path, "--credentials-out")  # a folder, under a file, a dangling link, not writable


def add(conn: Connection, names: Sequence[str], role: str = "annotator") -> tuple[dict[str, str], list[str]]:
    """Create the missing raters with a random password and give each their own workspace.
    Returns ({new name: password}, [names that already existed, unchanged])."""
    existing = conn.users()
    created: dict[str, str] = {}
    kept: list[str] = []
    for name in names:
        u = existing.get(name)
        if u is None:
            password = secrets.token_urlsafe(12)
            u = conn.create_user(name, role, password)
            created[name] = password
        else:
            kept.append(name)
        conn.add_member(conn.workspace_id(conn.rater_workspace(name), create=True), u["id"])
    return created, kept


def reset(conn: Connection, names: Sequence[str]) -> dict[str, str]:
    """A new random password for each rater (all names checked before any is changed). On the local
    stack's server (server_plugin/session_guard.py) this also ends the rater's sessions and gives them a
    new API key; `still_valid_keys` tells which servers did not."""
    users = conn.users()
    missing = [n for n in names if n not in users]
    if missing:
        raise UserError(f"raters: {', '.join(missing)}", "no such user in Argilla",
                        "create them with `semisynth preference raters add NAME...`")
    out = {}
    for n in names:
        out[n] = secrets.token_urlsafe(12)
        conn.set_password(users[n]["id"], out[n])
    return out


def listing(conn: Connection) -> list[dict[str, Any]]:
    """Every user with a rater workspace: role, and per dataset their records and submissions."""
    from semisynth.preference.client import RATER_WS_SEP

    users = conn.users()
    by_ws = {i: n for n, i in conn.workspaces().items()}
    prefix = f"{conn.workspace}{RATER_WS_SEP}"
    queues: dict[str, dict[str, Any]] = {}
    with conn.http() as c:
        for d in conn.datasets():
            ws = by_ws.get(d.get("workspace_id"), "")
            if not ws.startswith(prefix):
                continue
            rater = ws[len(prefix):]
            prog = c.get(f"/api/v1/datasets/{d['id']}/progress")
            p = prog.json() if prog.status_code == 200 else {}
            queues.setdefault(rater, {})[d["name"]] = {"records": p.get("total"), "completed": p.get("completed")}
    names = sorted(set(queues) | {n for n, u in users.items() if u.get("role") in ROLES
                                  and conn.rater_workspace(n) in set(by_ws.values())})
    return [{"rater": n, "role": users.get(n, {}).get("role", "(deleted)"), "workspace": conn.rater_workspace(n),
             "datasets": queues.get(n, {})} for n in names]


def hand_over(passwords: dict[str, str], url: str, out: str | Path | None, state_dir: str | Path,
              show: bool) -> str | None:
    """Give new or reset passwords to the operator once: printed (show) or written to a 0600 file.
    Returns the file path (None when printed or when there was nothing to hand over)."""
    if not passwords:
        return None
    creds = {"url": url, "login": f"{url}/sign-in",
             "raters": [{"username": n, "password": p} for n, p in sorted(passwords.items())]}
    if show:
        print(f"Argilla: {url}  (sign in at {url}/sign-in)")
        for n, p in sorted(passwords.items()):
            print(f"  {n}  password: {p}")
        print("These passwords are shown once and stored nowhere else; hand each to its rater.")
        return None
    path = Path(out) if out else default_credentials_file(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(creds, f, indent=1)
    os.link(tmp, path)  # fails instead of overwriting a file that appeared meanwhile
    os.unlink(tmp)
    return str(path)


def run_raters(cfg: RatersConfig) -> list[dict[str, Any]] | dict[str, Any]:
    """`preference raters add|list|reset`: passwords go to the 0600 file (or the terminal), never the summary."""
    if cfg.action == "list":
        if cfg.names or cfg.credentials_out or cfg.print_credentials:  # they would be ignored without a word
            given = "names" if cfg.names else "--credentials-out" if cfg.credentials_out else "--print-credentials"
            raise UserError("raters list", f"takes no {given} (it lists every rater)",
                            "drop them, or use `raters add NAME...` / `raters reset NAME...`")
        return listing(connect(cfg.argilla))
    names = check_names(cfg.names, f"raters {cfg.action}")
    if cfg.print_credentials and cfg.credentials_out:
        raise UserError("raters: --print-credentials", "given with --credentials-out",
                        "pick one: a 0600 file, or printed once on the terminal")
    check_credentials_target(cfg.credentials_out)
    conn = connect(cfg.argilla)
    if cfg.action == "add":
        passwords, kept = add(conn, names, cfg.role)
    else:
        before = conn.users()
        passwords, kept = reset(conn, names), []
        after = conn.users()
        # a server without semisynth's session guard (a team's own Argilla) keeps the old key and sessions
        stale = [n for n in names if after[n].get("api_key") == before[n].get("api_key")]
    path = hand_over(passwords, conn.url, cfg.credentials_out, cfg.argilla.state_dir, cfg.print_credentials)
    out: dict[str, Any] = {"created" if cfg.action == "add" else "reset": sorted(passwords),
                           "url": conn.url, "workspaces": {n: conn.rater_workspace(n) for n in names}}
    if kept:
        out["already_existed"] = kept  # their passwords are unchanged: `raters reset` gives new ones
    if cfg.action == "reset":
        out["old_api_key_and_sessions_revoked"] = not stale
        if stale:
            out["still_valid_keys"] = stale  # that server keeps their old API key and sign-ins valid
    if path:
        out["credentials_file"] = path
    return out
