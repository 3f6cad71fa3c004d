"""Engine and library chatter goes to the run's log file, not the terminal.

vLLM logs a WARNING for every weight it casts and every thread-binding attempt, torch and transformers add
their own, and torch's C++ and OpenMP write straight to file descriptor 2, below Python's logging. A run's
terminal should hold the progress bar, the summary and semisynth's own warnings. So while an engine lives,
`EngineLog` points fds 1 and 2 (and sys.stdout/sys.stderr, and the library loggers' handlers) at a log file,
or with `show` (`-v`) at the log file and the terminal both; progress bars and semisynth's warnings write to
`terminal()`, a copy of the stderr from before. The log starts in a temporary file beside the run directory
(which is created only once the engine is up, so a model that fails to load leaves nothing on disk) and moves to
RUN/logs/engine.log at `settle()`; a rerun appends to it.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import TextIO

from semisynth.errors import UserError

LOG_NAME = Path("logs") / "engine.log"
# Loggers whose handlers may hold the stream they were made with (a notebook's, a terminal's).
LIBRARY_LOGGERS = ("vllm", "transformers", "torch", "sentence_transformers", "huggingface_hub", "datasets", "ray")
TAIL_LINES = 20  # an engine that crashes shows this much of its log on the terminal

_terminal: TextIO | None = None


def terminal() -> TextIO:
    """Where progress bars and semisynth's own warnings go: the terminal's stderr, also while an EngineLog
    sends fd 2 to a file."""
    return _terminal if _terminal is not None else sys.stderr


def _writes_to_fd(stream: object, fd: int) -> bool:
    try:
        return stream.fileno() == fd  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):  # a notebook's or pytest's stream: no file descriptor
        return False


class _TerminalFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")


class EngineLog:
    """Context manager: chatter into a log file from `__enter__` to `__exit__`; `settle(path)` moves it to
    where it stays. `quiet` (--quiet): only errors reach the terminal (the summary is printed after);
    `show` (-v): everything also reaches the terminal; None: when the root logger is at DEBUG."""

    def __init__(self, *, quiet: bool = False, show: bool | None = None,
                 near: str | os.PathLike | None = None) -> None:
        self.quiet = quiet
        self.near = near  # the run folder to be: the temporary log starts beside it, so settle() is a rename
        self.show = logging.getLogger().isEnabledFor(logging.DEBUG) if show is None else show
        self.path: Path | None = None  # where the log is now (a temporary file until settled)
        self._active = False

    # -- start ---------------------------------------------------------------------------------------
    def __enter__(self) -> EngineLog:
        global _terminal
        if _terminal is not None:  # nested (the demo's generate inside the demo): the outer one holds the fds
            return self
        self._active = True
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (AttributeError, OSError, ValueError):
                pass
        fd, tmp = _temporary_log(self.near)
        os.set_inheritable(fd, False)
        self._file_fd, self.path, self._temporary = fd, Path(tmp), True
        self._saved = {1: os.dup(1), 2: os.dup(2)}
        if _writes_to_fd(sys.stderr, 2):  # a terminal (or a pipe): keep a copy of it from before the redirect
            self._terminal = open(os.dup(self._saved[2]), "w", buffering=1, encoding="utf-8",  # noqa: SIM115
                                  errors="replace")
            self._own_terminal = True
        else:  # a notebook's or pytest's stream: it never was fd 2, so it still shows what is written to it
            self._terminal, self._own_terminal = sys.stderr, False
        self._lock = threading.Lock()
        self._tee: threading.Thread | None = None
        if self.show:
            read_fd, write_fd = os.pipe()
            self._tee = threading.Thread(target=self._copy, args=(read_fd,), name="engine-log-tee", daemon=True)
            self._tee.start()
            target = write_fd
        else:
            target = fd
        os.dup2(target, 1)
        os.dup2(target, 2)
        if target != fd:
            os.close(target)
        self._python = (sys.stdout, sys.stderr)
        sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
        self._streams: list[tuple[logging.StreamHandler, object]] = []
        self._handlers: list[tuple[logging.Logger, logging.Handler]] = []
        self._point_library_handlers()
        if not self.show:  # semisynth's own warnings still reach the terminal (and the log, through the root)
            handler = logging.StreamHandler(self._terminal)
            handler.setLevel(logging.ERROR if self.quiet else logging.WARNING)
            handler.setFormatter(_TerminalFormatter())
            self._add_handler(logging.getLogger("semisynth"), handler)
        _terminal = self._terminal
        return self

    def _copy(self, read_fd: int) -> None:
        """-v: what reaches fds 1 and 2 goes to the log and to the terminal."""
        with os.fdopen(read_fd, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                with self._lock:
                    os.write(self._file_fd, chunk)
                try:
                    os.write(self._saved[2], chunk)
                except OSError:
                    pass

    def _add_handler(self, logger: logging.Logger, handler: logging.Handler) -> None:
        logger.addHandler(handler)
        self._handlers.append((logger, handler))

    def _point_library_handlers(self) -> None:
        """Handlers made before this log began hold the stream they were made with: point them at the log
        (back at __exit__). vLLM's errors also reach the terminal (its logger does not propagate)."""
        known = logging.root.manager.loggerDict
        for name in LIBRARY_LOGGERS:
            if name not in known:  # not imported yet: it will pick up sys.stdout/sys.stderr as they are now
                continue
            logger = logging.getLogger(name)
            for h in logger.handlers:
                if type(h) is logging.StreamHandler and h not in [s for s, _ in self._streams] \
                        and h.stream not in (sys.stdout, sys.stderr, self._terminal):
                    self._streams.append((h, _swap_stream(h, sys.stderr)))
            if name == "vllm" and logger.handlers and not logger.propagate and \
                    not any(lg is logger for lg, _ in self._handlers):
                handler = logging.StreamHandler(self._terminal)
                handler.setLevel(logging.ERROR)
                handler.setFormatter(_TerminalFormatter())
                self._add_handler(logger, handler)

    # -- move ----------------------------------------------------------------------------------------
    def settle(self, path: str | os.PathLike) -> Path:
        """Move the log to `path` (appended to what is there: a resumed run keeps its earlier logs) and
        write there from now on. Call it once the run directory exists."""
        path = Path(path)
        if not self._active or not self._temporary:
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():  # a rename keeps every descriptor on the file (an engine's child process has one)
            try:
                os.rename(self.path, path)
            except OSError:  # another file system: copied below
                pass
            else:
                self.path, self._temporary = path, False
                self._point_library_handlers()
                return path
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.set_inheritable(fd, False)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        tmp, old_fd = self.path, self._file_fd
        with self._lock:
            copied = _append(tmp, fd, 0)
            if self._tee is None:
                os.dup2(fd, 1)
                os.dup2(fd, 2)
            self._file_fd = fd
        _append(tmp, fd, copied)  # what was written between the copy and the switch
        os.close(old_fd)
        tmp.unlink(missing_ok=True)
        self.path, self._temporary = path, False
        self._point_library_handlers()  # vLLM configured its logger at import, after __enter__
        return path

    # -- stop ----------------------------------------------------------------------------------------
    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        global _terminal
        if not self._active:
            return
        self._active = False
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        sys.stdout, sys.stderr = self._python
        for handler, stream in self._streams:  # a stream closed meanwhile (a test's capture) gets the terminal
            _swap_stream(handler, sys.stderr if getattr(stream, "closed", False) else stream)
        for logger, handler in self._handlers:
            logger.removeHandler(handler)
        os.dup2(self._saved[1], 1)
        os.dup2(self._saved[2], 2)  # the pipe's last write end closes: the tee reads to its end
        if self._tee is not None:
            self._tee.join(timeout=10)
        for fd in self._saved.values():
            os.close(fd)
        os.close(self._file_fd)
        if self._own_terminal:
            self._terminal.close()
        _terminal = None
        crashed = error is not None and not _said_in_one_line(error)
        if self._temporary and self.path is not None:
            if crashed and self.path.stat().st_size:  # the engine died before the run began: keep what it said
                print(f"semisynth: the engine's log is kept at {self.path}; its last lines:\n"
                      + _tail(self.path), file=sys.stderr)
            else:  # a refused input or a clean stop leaves nothing on disk
                self.path.unlink(missing_ok=True)
        elif crashed and self.path is not None and self.path.exists():
            print(f"semisynth: the engine's log is {self.path}; its last lines:\n" + _tail(self.path), file=sys.stderr)


def _temporary_log(near: str | os.PathLike | None) -> tuple[int, str]:
    """A new log file in the nearest existing folder above `near` (the same file system as the run folder, so
    settle() renames it), else in the system's temporary folder."""
    if near is not None:
        folder = Path(os.path.abspath(near)).parent
        while not folder.is_dir() and folder != folder.parent:
            folder = folder.parent
        try:
            return tempfile.mkstemp(prefix=".semisynth-engine-", suffix=".log", dir=folder)
        except OSError:
            pass
    return tempfile.mkstemp(prefix="semisynth-engine-", suffix=".log")


def _said_in_one_line(error: BaseException) -> bool:
    """What the CLI turns into one line (a refused input, a config the engine refused, a path) or an interrupt:
    the log holds nothing the user needs, so it goes."""
    from pydantic import ValidationError

    return isinstance(error, UserError | ValidationError | OSError | KeyboardInterrupt | SystemExit)


def _append(src: Path, fd: int, offset: int) -> int:
    """Copy `src` from `offset` to its end onto `fd`; returns the offset reached."""
    with open(src, "rb") as f:
        f.seek(offset)
        while chunk := f.read(1 << 20):
            os.write(fd, chunk)
            offset += len(chunk)
    return offset


def _tail(path: Path, n: int = TAIL_LINES) -> str:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[-n:]
    return "\n".join("  " + line for line in lines)


def _swap_stream(handler: logging.StreamHandler, stream) -> object:
    """handler.setStream, except that a closed old stream (one a test's capture closed) is not flushed first:
    setStream's flush raised 'I/O operation on closed file' and failed the run that came after."""
    old = handler.stream
    try:
        handler.setStream(stream)
    except ValueError:  # flushing a stream whose file is closed
        handler.stream = stream
    return old
