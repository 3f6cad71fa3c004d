"""User-facing errors: one line, naming where, what and the fix. The CLI maps them to exit code 2."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in the user's input or config (not a bug): printed as one line, exit code 2."""

    def __init__(self, where: str, what: str, fix: str):
        self.where, self.what, self.fix = where, what, fix
        super().__init__(f"{where}: {what}; fix: {fix}")


class NotEnoughData(UserError):
    """A metric or stage that would print a meaningless number on too little data."""
