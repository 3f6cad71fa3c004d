"""The `semisynth` command. Stage commands register themselves through the `semisynth.commands`
entry point group (see pyproject.toml), so this core module imports no stage.

A command is registered as `register(subparsers)`, adding parsers whose `func(args) -> int`
does the work. UserError -> one line on stderr, exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from typing import NoReturn

from semisynth.errors import UserError

EXIT_USER_ERROR = 2
log = logging.getLogger("semisynth")


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is a UserError like any other bad input: one line, exit 2, no usage
    block (`--help` still prints the full usage). Subcommand parsers inherit the class."""

    def error(self, message: str) -> NoReturn:
        raise UserError(self.prog, message, f"see `{self.prog} --help`")


# OSErrors that mean "this path cannot be used", not "semisynth has a bug": a last safety net behind the
# early checks, so a path the checks missed still gives one line instead of a traceback.
_PATH_ERRNOS = {errno.EACCES, errno.EPERM, errno.ENOENT, errno.EISDIR, errno.ENOTDIR, errno.EEXIST, errno.EROFS,
                errno.ENOSPC, errno.ELOOP, errno.ENAMETOOLONG, errno.EDQUOT}


def _os_error_to_user_error(e: OSError) -> UserError | None:
    if e.errno not in _PATH_ERRNOS or not e.filename:
        return None
    fix = "free some disk space" if e.errno in (errno.ENOSPC, errno.EDQUOT) else \
        "check the path: it must not be a file where a folder is expected (or the reverse), and must be writable"
    return UserError(str(e.filename), e.strerror or str(e), fix)


@contextmanager
def _quiet(enabled: bool) -> Iterator[None]:
    """`--quiet`: no progress bars at all, including the ones libraries draw (transformers' weight
    loading, the hub's downloads). tqdm reads TQDM_* variables as defaults; restored afterwards."""
    if not enabled:
        yield
        return
    saved = {k: os.environ.get(k) for k in ("TQDM_DISABLE", "HF_HUB_DISABLE_PROGRESS_BARS")}
    os.environ["TQDM_DISABLE"] = "1"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    try:  # transformers' "Loading weights" bar reads its own switch, set when transformers is imported
        import transformers.utils.logging as tf_logging
    except ImportError:
        tf_logging = None
    was_enabled = None
    if tf_logging is not None:
        was_enabled = tf_logging.is_progress_bar_enabled()
        tf_logging.disable_progress_bar()
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if was_enabled and tf_logging is not None:
            tf_logging.enable_progress_bar()


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="semisynth", description="Fine-tuning data anchored to real conversations: generate, monitor, curate with humans.",
        epilog="Start with `semisynth demo`; every command takes --help.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for ep in sorted(entry_points(group="semisynth.commands"), key=lambda e: e.name):
        try:  # registering imports the stage's config (its flags come from it)
            ep.load()(sub)
        except ImportError as e:  # one broken stage must not take the other commands down
            if ep.name not in sub.choices:
                broken = sub.add_parser(ep.name, help=f"(unavailable: {e})")
                broken.set_defaults(func=_unavailable(ep.name, e))
    return parser


def _unavailable(name: str, error: ImportError):
    def fail(_args: argparse.Namespace) -> int:
        raise UserError(f"commands '{name}'", f"could not be loaded ({error})", "run `make venv` to reinstall")

    return fail


def _fail(e: UserError) -> int:
    print(f"semisynth: error: {' '.join(str(e).split())}", file=sys.stderr)  # one line, whatever the message held
    return EXIT_USER_ERROR


def main(argv: list[str] | None = None) -> int:
    from pydantic import ValidationError

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UserError as e:
        return _fail(e)
    except SystemExit as e:  # --help / --version
        return e.code if isinstance(e.code, int) else 0
    # vLLM logs at INFO to stdout by default; keep the CLI's output to what the user asked for.
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "DEBUG" if args.verbose else "WARNING")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        with _quiet(bool(getattr(args, "quiet", False))):
            return int(args.func(args) or 0)
    except UserError as e:
        return _fail(e)
    except ValidationError as e:  # a config built without load_config: still one line naming the field
        from semisynth.config import validation_error_to_user_error

        return _fail(validation_error_to_user_error(e, "config", None))
    except OSError as e:
        user = _os_error_to_user_error(e)
        if user is None:
            raise
        log.debug("path error", exc_info=True)
        return _fail(user)
    except KeyboardInterrupt:
        print("semisynth: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
