"""Is a server's base URL well formed? Checked at config load, so a malformed URL is named as one instead of
being reported as an unreachable server after the retries (issue 25): an Argilla URL (preference) and an
OpenAI-compatible server's base_url (backend kind http)."""

from __future__ import annotations

from urllib.parse import urlsplit


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a server's base URL (None when it can)."""
    if url != url.strip() or any(c.isspace() for c in url):
        return "has spaces in it"
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number or out of range
    except ValueError as e:
        return f"is not a valid URL ({e})"
    if parts.scheme not in ("http", "https"):
        return f"has scheme '{parts.scheme}', not http or https" if parts.scheme else "has no http:// or https://"
    if not parts.hostname:
        return "has no host name"
    if port == 0:
        return "has port 0"
    if parts.query or parts.fragment:
        return "has a query or fragment (?... or #...)"
    return None
