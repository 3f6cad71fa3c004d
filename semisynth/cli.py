"""The `semisynth` command. Stage commands register themselves through the `semisynth.commands`
entry point group (see pyproject.toml), so this core module imports no stage.

A command is registered as `register(subparsers)`, adding parsers whose `func(args) -> int`
does the work. UserError -> one line on stderr, exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from importlib.metadata import entry_points

from semisynth.errors import UserError

EXIT_USER_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="semisynth", description="Fine-tuning data anchored to real conversations: generate, monitor, curate with humans.",
        epilog="Start with `semisynth demo`; every command takes --help.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for ep in sorted(entry_points(group="semisynth.commands"), key=lambda e: e.name):
        try:
            register = ep.load()
        except ImportError as e:  # one broken stage must not take the other commands down
            broken = sub.add_parser(ep.name, help=f"(unavailable: {e})")
            broken.set_defaults(func=_unavailable(ep.name, e))
            continue
        register(sub)
    return parser


def _unavailable(name: str, error: ImportError):
    def fail(_args: argparse.Namespace) -> int:
        raise UserError(f"commands '{name}'", f"could not be loaded ({error})", "run `make venv` to reinstall")

    return fail


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    # vLLM logs at INFO to stdout by default; keep the CLI's output to what the user asked for.
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "DEBUG" if args.verbose else "WARNING")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except UserError as e:
        print(f"semisynth: error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("semisynth: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
