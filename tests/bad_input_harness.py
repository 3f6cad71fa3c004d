"""The bad-input contract, checked the same way for every command (imported by tests/test_bad_input_*.py).

A case is a command line (built in a fresh tmp folder, where it also runs) and the words its error line must
hold. Refused means: exit code 2, exactly one line on stderr ("semisynth: error: WHERE: WHAT; fix: FIX")
naming the file/line/field, no traceback, and the tmp folder exactly as it was before the command (no new,
changed or removed path). Commands run in-process through `semisynth.cli.main` (the real parser and entry
points; a subprocess costs ~3 s of imports per call); test_bad_input_cli_subprocess.py runs a handful through
the installed `semisynth` script to prove the real exit code and stderr.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Env:
    """Where a case builds its inputs: every helper returns a path string for the command line."""

    tmp: Path
    model_dir: Callable[[], Path] | None = None

    def path(self, name: str) -> str:
        return str(self.tmp / name)

    def write(self, name: str, data: bytes | str) -> str:
        p = self.tmp / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)
        return str(p)

    def jsonl(self, name: str, rows: Sequence[Any]) -> str:
        return self.write(name, "".join(json.dumps(r) + "\n" for r in rows))

    def seeds(self, name: str = "seeds.jsonl", n: int = 3) -> str:
        return self.jsonl(name, [{"text": f"my bag number {i} is lost pls help, flight {i} was late"}
                                 for i in range(n)])

    def parquet(self, name: str, columns: dict[str, Any]) -> str:
        import pyarrow as pa
        import pyarrow.parquet as pq

        p = self.tmp / name
        pq.write_table(pa.table(columns), p)
        return str(p)

    def dir(self, name: str, files: dict[str, str] | None = None) -> str:
        p = self.tmp / name
        p.mkdir(parents=True, exist_ok=True)
        for k, v in (files or {}).items():
            (p / k).write_text(v)
        return str(p)

    def readonly_dir(self, name: str = "ro") -> str:
        p = self.tmp / name
        p.mkdir()
        p.chmod(0o555)
        return str(p)

    def dangling(self, name: str = "dangling") -> str:
        p = self.tmp / name
        p.symlink_to(self.tmp / "missing-target")
        return str(p)

    def yaml(self, name: str, text: str) -> str:
        return self.write(name, text)

    def model(self) -> str:
        assert self.model_dir is not None, "this case needs the tiny model fixture"
        return str(self.model_dir())


@dataclass(frozen=True)
class Case:
    id: str
    argv: Callable[[Env], list[str]]
    needles: tuple[str, ...]
    owner: str | None = None  # known gap in another helper's file: xfail (not strict) with this reason
    needs_model: bool = False
    marks: tuple[Any, ...] = field(default_factory=tuple)


def case(id: str, argv: Callable[[Env], list[str]], *needles: str, owner: str | None = None,
         needs_model: bool = False) -> Case:
    return Case(id, argv, needles, owner, needs_model)


def params(cases: Sequence[Case]) -> list[Any]:
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "case ids repeat"
    return [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(reason=c.owner, strict=False)] if c.owner else [])
            for c in cases]


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under root (links not followed) with its type, size and mtime."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [*dirnames, *filenames]:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            out[os.path.relpath(p, root)] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns)
    return out


def _fake_non_root_access(real_access: Callable[..., bool]) -> Callable[..., bool]:
    """As root every folder is writable; the read-only cases emulate an ordinary user (the fault a user
    meets) by answering os.access from the mode bits for writes."""

    def access(path: Any, mode: int, *args: Any, **kwargs: Any) -> bool:
        if mode & os.W_OK:
            try:
                st = os.stat(path)
            except OSError:
                return real_access(path, mode, *args, **kwargs)
            if not st.st_mode & stat.S_IWUSR:
                return False
        return real_access(path, mode, *args, **kwargs)

    return access


# What Python's default warning filters do not print (the CLI's stderr never shows them)
_HIDDEN_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


class _Logged(logging.Handler):
    """Log records at WARNING and above: what the CLI's logging.basicConfig(level=WARNING) prints to stderr."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def assert_refused(c: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
                   model_dir: Callable[[], Path] | None = None) -> str:
    """Run the case's command in tmp_path and check the whole contract; returns the error line."""
    from semisynth.cli import main

    work = tmp_path / "work"
    work.mkdir()
    env = Env(work, model_dir)
    argv = c.argv(env)
    monkeypatch.chdir(work)
    for var in ("ARGILLA_API_URL", "ARGILLA_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    if os.geteuid() == 0:
        monkeypatch.setattr(os, "access", _fake_non_root_access(os.access))
    capsys.readouterr()
    before = snapshot(work)
    logged = _Logged()
    logging.getLogger().addHandler(logged)
    try:
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            try:
                rc = main(argv)
            except SystemExit as e:  # the contract says exit 2 through main's return, but count it fairly
                rc = e.code if isinstance(e.code, int) else 1
        out, err = capsys.readouterr()
        after = snapshot(work)
    finally:
        logging.getLogger().removeHandler(logged)
        for p in work.rglob("*"):  # let pytest clean up read-only folders
            if p.is_dir() and not p.is_symlink():
                p.chmod(0o755)
    # In the real CLI a logged warning and a Python warning are lines on stderr too; in-process, pytest's log
    # and warning capture took them away from capsys (a 'forced past' warning before the error went unseen)
    shown = [f"{r.levelname} {r.name}: {r.getMessage()}" for r in logged.records]
    shown += [f"{w.category.__name__}: {w.message}" for w in warned if not issubclass(w.category, _HIDDEN_WARNINGS)]
    err = "".join(f"{ln}\n" for ln in shown) + err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err, err
    assert rc == 2, f"exit {rc}; stderr: {err!r}; stdout: {out[-300:]!r}"
    assert len(lines) == 1, f"{len(lines)} lines on stderr: {err!r}"
    line = lines[0]
    assert line.startswith("semisynth: error: ") and "; fix: " in line, line
    for needle in c.needles:
        assert needle in line, f"{needle!r} not in {line!r}"
    new = sorted(set(after) - set(before))
    gone = sorted(set(before) - set(after))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k] and before[k][0] != stat.S_IFDIR)
    assert not new and not gone and not changed, f"disk changed: new {new}, removed {gone}, changed {changed}"
    return line
