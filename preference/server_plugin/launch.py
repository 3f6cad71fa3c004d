"""Run an argilla_server CLI command with the osmem engine registered first.

Usage (server venv's python): launch.py start --host 127.0.0.1 --port N | worker | database migrate | ...
`SearchEngine.register` fills the registry at import time, so the engine module must be imported in
every server and worker process before argilla_server looks the engine up by name.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import osmem_engine  # noqa: E402,F401  (registers "osmem")
from argilla_server.cli import app  # noqa: E402

if __name__ == "__main__":
    sys.argv[0] = "argilla_server"
    app()
