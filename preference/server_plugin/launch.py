"""Run an argilla_server CLI command with the osmem engine registered first.

Usage (server venv's python): launch.py start --host 127.0.0.1 --port N | worker | database migrate | ...
`SearchEngine.register` fills the registry at import time, so the engine module must be imported in
every server and worker process before argilla_server looks the engine up by name. session_guard ends
sign-ins and rotates the API key when a password changes; ui_notice makes the UI say when an answer was
not saved.

`launch.py create-owner` reads {"username", "password", "api_key", "workspace"} as JSON on stdin, so the
owner's secrets never appear on a command line (argilla_server's `database users create` takes them as flags).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import osmem_engine  # noqa: E402,F401  (registers "osmem")
import session_guard  # noqa: E402,F401  (patches token issue/check and password updates)
import ui_notice  # noqa: E402,F401  (the UI says when an answer was not saved)
from argilla_server.cli import app  # noqa: E402


def create_owner(creds: dict) -> None:
    import asyncio
    import contextlib
    import io

    from argilla_server.cli.database.users.create import _create
    from argilla_server.models import UserRole

    with contextlib.redirect_stdout(io.StringIO()):  # it echoes the API key
        asyncio.run(_create(first_name=creds["username"], username=creds["username"], role=UserRole.owner,
                            password=creds["password"], api_key=creds["api_key"], workspace=[creds["workspace"]]))


if __name__ == "__main__":
    if sys.argv[1:2] == ["create-owner"]:
        import json

        create_owner(json.load(sys.stdin))
    else:
        sys.argv[0] = "argilla_server"
        app()
