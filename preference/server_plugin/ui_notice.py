"""A rater is told when an answer did not reach the server (runs inside the SERVER virtualenv).

Argilla 2.8's UI moves on to the next record even when saving a response fails (the server stopped or
restarting) and shows nothing, so the answer is lost while the rater believes it was submitted. The app
serves its UI from a per-process temporary copy of its static folder; here every HTML page of that copy
loads unsaved_notice.js, which watches the response-saving requests and shows a banner when one fails.
"""

from __future__ import annotations

import re
from pathlib import Path

from argilla_server._app import app
from argilla_server.settings import settings

SCRIPT = Path(__file__).with_name("unsaved_notice.js")


def _static_dirs(routes) -> list[Path]:
    out = []
    for r in routes:
        sub = getattr(r, "app", None)
        if getattr(sub, "directory", None):
            out.append(Path(sub.directory))
        elif getattr(sub, "routes", None):
            out.extend(_static_dirs(sub.routes))
    return out


def install() -> None:
    tag = f'<script src="{settings.base_url.rstrip("/")}/{SCRIPT.name}"></script>'
    for d in _static_dirs(app.routes):
        (d / SCRIPT.name).write_text(SCRIPT.read_text())
        for page in d.rglob("*.html"):
            text = page.read_text()
            if tag not in text:
                page.write_text(re.sub(r"(<head[^>]*>)", lambda m: m.group(1) + tag, text, count=1))


install()
