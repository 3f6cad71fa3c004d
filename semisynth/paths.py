"""Output-path checks done before any work: a command that would fail to write its result must say so
before it loads a model, reads a corpus or connects to a server, and must leave nothing on disk.

Every check only reads the file system (no probe files), so a refused path leaves no trace.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from semisynth.errors import UserError


def _nearest_existing(path: Path) -> Path:
    """The closest ancestor of `path` (or path itself) that exists: where the folder would be created."""
    for parent in [path, *path.parents]:
        if parent.exists():
            return parent
    return Path(os.sep)


def _is_loop(p: Path) -> bool:
    try:
        os.stat(p)
    except OSError as e:
        return e.errno == errno.ELOOP
    return False


def _check_common(path: str | os.PathLike | None, field: str, noun: str) -> Path:
    if path is None or not str(path).strip():
        example = "runs/try" if "folder" in noun else "out/items.jsonl"
        raise UserError(f"{field}", f"the {noun} path is empty", f"give an {noun} path, e.g. {example}")
    p = Path(os.path.expanduser(str(path)))
    too_long = next((part for part in p.parts if len(os.fsencode(part)) > 255), None)
    if too_long is not None:  # every look at it fails (ENAMETOOLONG), and so would the write after the work
        raise UserError(f"{field} {str(path)[:60]}...", f"a name in the path is {len(os.fsencode(too_long))} bytes, "
                        "over the 255-byte limit of file names", f"give a shorter {noun} path")
    if p.is_symlink() and not p.exists():
        if _is_loop(p):
            raise UserError(f"{field} {path}", f"is a symlink loop (it points to {os.readlink(p)}, which leads back "
                            "to itself)", f"remove the link or give another {noun} path")
        raise UserError(f"{field} {path}", f"is a dangling symlink (it points to {os.readlink(p)}, which does not exist)",
                        f"remove the link or give another {noun} path")
    absolute = Path(os.path.abspath(p))
    for parent in absolute.parents:
        if parent.is_symlink() and not parent.exists():
            raise UserError(f"{field} {path}", f"its folder {parent} is a dangling symlink",
                            f"remove the link or give another {noun} path")
        if parent.exists() and not parent.is_dir():
            raise UserError(f"{field} {path}", f"{parent} is a file, not a folder",
                            f"give an {noun} path whose parent folders are folders (or move the file away)")
    return p


def _check_writable(folder: Path, field: str, path: str | os.PathLike, noun: str) -> None:
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"{field} {path}", f"folder {folder} is not writable",
                        f"give an {noun} path in a folder you can write to (or fix its permissions)")


def check_output_dir(path: str | os.PathLike | None, field: str = "--out") -> Path:
    """An output folder that can be created or written: not empty, not a file, not under a file, not a
    dangling symlink, and in a writable folder. Returns the path; nothing is created."""
    p = _check_common(path, field, "output folder")
    if p.exists():
        if not p.is_dir():
            raise UserError(f"{field} {path}", "exists and is a file, not a folder",
                            "give a new folder path (or remove the file)")
        _check_writable(p, field, path, "output folder")
        return p
    _check_writable(_nearest_existing(Path(os.path.abspath(p)).parent), field, path, "output folder")
    return p


def check_output_file(path: str | os.PathLike | None, field: str = "--out") -> Path:
    """An output file that can be (over)written: not empty, not a folder, not under a file, not a dangling
    symlink, and in a writable folder. Returns the path; nothing is created."""
    p = _check_common(path, field, "output file")
    if p.is_dir():
        raise UserError(f"{field} {path}", "is a folder, not a file", "give a file path, e.g. out/items.jsonl")
    if p.exists() and not os.access(p, os.W_OK):
        raise UserError(f"{field} {path}", "exists and is not writable", "give another file path or fix its permissions")
    _check_writable(_nearest_existing(Path(os.path.abspath(p)).parent), field, path, "output file")
    return p
