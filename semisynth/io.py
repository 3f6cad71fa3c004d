"""Reading corpora: JSONL, CSV, Parquet, a saved `datasets` folder, or a semisynth run directory.

Every bad-input case raises UserError with one line: the file, the line or field, what is wrong,
and the fix. Nothing is written here, so a failed read leaves nothing on disk.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from semisynth.errors import UserError
from semisynth.records import Record

MAX_LINE_BYTES_DEFAULT = 1 << 20  # a 1 MiB line is almost always a corrupt or wrong file


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """Which input columns hold the text or the chat turns (and optionally an id and a language)."""

    text: str | None = "text"
    messages: str | None = None
    id: str | None = None
    language: str | None = None
    keep: tuple[str, ...] = ()  # extra columns copied into record.meta


@dataclass(frozen=True, slots=True)
class RawRow:
    """One input row with where it came from (file:line), before it becomes a record."""

    source: str
    data: Mapping[str, Any]


_FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "csv",
            ".parquet": "parquet", ".pq": "parquet"}


def detect_format(path: Path) -> str:
    if path.is_dir():
        if (path / "records").is_dir() or (path / "manifest.json").exists():
            return "run"
        if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists():
            return "datasets"
        raise UserError(str(path), "directory is neither a semisynth run nor a saved `datasets` folder",
                        "point at a run directory (with records/), a save_to_disk folder, or a file")
    suffix = path.suffix.lower()
    if suffix not in _FORMATS:
        raise UserError(str(path), f"unknown file type '{suffix or '(none)'}'",
                        "use .jsonl, .csv, .tsv, .parquet, a `datasets` folder or a run directory")
    return _FORMATS[suffix]


def missing_reason(path: Path) -> tuple[str, str]:
    """Why a path that does not exist cannot be read, and the fix: a symlink loop and a dangling symlink are
    not "not found" (the name is there; what it points to is not)."""
    if path.is_symlink():
        try:
            os.stat(path)
        except OSError as e:
            if e.errno == errno.ELOOP:
                return (f"is a symlink loop ({path} -> {os.readlink(path)} leads back to itself)",
                        "point the link at a real file, or give the file's own path")
        return (f"is a dangling symlink (it points to {os.readlink(path)}, which does not exist)",
                "fix the link or give the file's own path")
    for parent in path.parents:
        if parent.is_symlink() and not parent.exists():
            return f"its folder {parent} is a broken symlink (dangling or a loop)", "fix the link or give another path"
        if parent.exists() and not parent.is_dir():
            return f"{parent} is a file, not a folder", "check the path: a file cannot hold other files"
    return "file not found", "check the path (relative paths start at the working directory)"


def _check_file(path: Path) -> None:
    if not path.exists():
        raise UserError(str(path), *missing_reason(path))
    if path.is_file():
        if path.stat().st_size == 0:
            raise UserError(str(path), "file is empty", "give a file with at least one record")
        with path.open("rb") as f:
            head = f.read(8192)
        text_file = path.suffix.lower() not in (".parquet", ".pq")
        if text_file and (head.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(head) > 3 and head[1:4:2] == b"\x00\x00")):
            raise UserError(str(path), "is UTF-16 text (Windows 'Unicode'), not UTF-8",
                            "re-encode the file as UTF-8, e.g. iconv -f utf-16 -t utf-8")
        if b"\x00" in head and text_file:
            raise UserError(str(path), "looks like a binary file (NUL bytes), not text",
                            "give a UTF-8 JSONL/CSV file, or .parquet for Parquet")


def _iter_jsonl(path: Path, max_line_bytes: int) -> Iterator[RawRow]:
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, start=1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):  # a UTF-8 BOM (Windows editors): accepted, as for CSV
                raw = raw[3:]
            if len(raw) > max_line_bytes:
                raise UserError(f"{path}:{lineno}", f"record is {len(raw):,} bytes, over the {max_line_bytes:,}-byte limit",
                                "split or truncate the record, or raise input.max_record_bytes")
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise UserError(f"{path}:{lineno}", f"not valid UTF-8 (byte {e.start}: {raw[e.start:e.start+1]!r})",
                                "re-encode the file as UTF-8, e.g. iconv -f latin1 -t utf-8") from None
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                if lineno == 1 and line.lstrip().startswith("["):  # a pretty-printed JSON array, not JSON Lines
                    raise UserError(f"{path}:{lineno}", "is a JSON array spread over lines, not JSON Lines",
                                    "write one object per line, e.g. jq -c '.[]' file.json > file.jsonl") from None
                if lineno == 1 and line.strip() == "{":  # one pretty-printed object
                    raise UserError(f"{path}:{lineno}", "is a JSON object spread over lines, not JSON Lines",
                                    "write each record on one line, e.g. jq -c . file.json > file.jsonl") from None
                raise UserError(f"{path}:{lineno}", f"broken JSON ({e.msg} at column {e.colno})",
                                "fix or remove that line; each line must be one JSON object") from None
            if not isinstance(obj, dict):
                raise UserError(f"{path}:{lineno}", f"expected a JSON object, got {type(obj).__name__}",
                                "write one {...} object per line")
            yield RawRow(f"{path}:{lineno}", obj)


def _iter_csv(path: Path, max_line_bytes: int) -> Iterator[RawRow]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = path.read_bytes()[: e.start].count(b"\n") + 1
        raise UserError(f"{path}:{line}", f"not valid UTF-8 (byte offset {e.start})",
                        "re-encode the file as UTF-8, e.g. iconv -f latin1 -t utf-8") from None
    dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
    # The csv module's own field limit would report a huge field as broken quoting: let any field through
    # (the file is in memory already) and measure the record against the limit ourselves.
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1, max_line_bytes))
    reader = csv.DictReader(text.splitlines(keepends=True), dialect=dialect)
    start = 1  # first line of the record being read (a quoted field may span lines)
    try:
        if reader.fieldnames is not None:  # reads the header line
            start = reader.line_num + 1
            repeated = sorted({c for c in reader.fieldnames if reader.fieldnames.count(c) > 1})
            if repeated:  # DictReader would keep the last column of that name without a word
                raise UserError(f"{path}:{reader.line_num}", f"column '{repeated[0]}' appears twice in the header",
                                "give every column its own name")
        for row in reader:
            size = _size_bytes(list(row.values()))
            if size > max_line_bytes:
                raise UserError(f"{path}:{start}", f"record is {size:,} bytes, over the {max_line_bytes:,}-byte limit",
                                "split or truncate the record, or raise input.max_record_bytes")
            if None in row:  # more cells than header columns: DictReader would hide them under the key None
                raise UserError(f"{path}:{start}", f"{len(row[None]) + len(reader.fieldnames or ())} cells but "
                                f"{len(reader.fieldnames or ())} header columns", "quote cells that contain the delimiter")
            yield RawRow(f"{path}:{reader.line_num}", row)
            start = reader.line_num + 1
    except csv.Error as e:
        raise UserError(f"{path}:{start}", f"broken CSV ({e})", "fix the quoting of the record starting on that line") from None


def _size_bytes(value: Any) -> int:
    """UTF-8 bytes of the text inside a value (nested lists/dicts included): the record-size limit of
    JSONL lines, applied to cells of every other format."""
    if isinstance(value, str):
        return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, Mapping):
        return sum(_size_bytes(k) + _size_bytes(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return sum(_size_bytes(v) for v in value)
    return 8


def _check_row_size(source: str, row: Mapping[str, Any], max_bytes: int) -> None:
    size = _size_bytes(row)
    if size > max_bytes:
        raise UserError(source, f"record is {size:,} bytes, over the {max_bytes:,}-byte limit",
                        "split or truncate the record, or raise input.max_record_bytes")


def _iter_parquet(path: Path, max_line_bytes: int) -> Iterator[RawRow]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as e:  # pyarrow raises several types for a non-Parquet file
        raise UserError(str(path), f"not a readable Parquet file ({type(e).__name__})",
                        "give a Parquet file written by pandas/pyarrow/datasets") from None
    for i, row in enumerate(table.to_pylist()):
        _check_row_size(f"{path}:row{i}", row, max_line_bytes)
        yield RawRow(f"{path}:row{i}", row)


def _iter_datasets(path: Path, max_line_bytes: int) -> Iterator[RawRow]:
    import datasets

    try:
        ds = datasets.load_from_disk(str(path))
    except Exception as e:
        raise UserError(str(path), f"not a loadable `datasets` folder ({type(e).__name__})",
                        "save it with Dataset.save_to_disk(...)") from None
    if isinstance(ds, datasets.DatasetDict):
        split = "train" if "train" in ds else next(iter(ds))
        ds = ds[split]
    for i, row in enumerate(ds):
        _check_row_size(f"{path}:row{i}", row, max_line_bytes)
        yield RawRow(f"{path}:row{i}", row)


def iter_raw_rows(path: str | os.PathLike, max_line_bytes: int = MAX_LINE_BYTES_DEFAULT) -> Iterator[RawRow]:
    """Rows of any supported file or folder, each tagged with file:line."""
    if not str(path).strip():  # Path("") is "." (an unset shell variable): not "directory is neither a run..."
        raise UserError(f"input path {str(path)!r}", "is empty", "give a corpus file or folder, e.g. --input "
                        "seeds.jsonl (an unset shell variable gives an empty path)")
    path = Path(path)
    _check_file(path)
    fmt = detect_format(path)
    if fmt == "jsonl":
        yield from _iter_jsonl(path, max_line_bytes)
    elif fmt == "csv":
        yield from _iter_csv(path, max_line_bytes)
    elif fmt == "parquet":
        yield from _iter_parquet(path, max_line_bytes)
    elif fmt == "datasets":
        yield from _iter_datasets(path, max_line_bytes)
    else:  # run directory
        for shard in sorted((path / "records").glob("*.jsonl")):
            yield from _iter_jsonl(shard, max_line_bytes)


ROLES = ("system", "user", "assistant")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", list: "a list", tuple: "a list",
            dict: "an object"}.get(type(value), "an object" if isinstance(value, Mapping) else type(value).__name__)


def _no_lone_surrogate(text: str, where: str, label: str) -> bool:
    """JSON may spell half of a UTF-16 pair ("\\ud800"): a string no UTF-8 file can hold, which would fail
    when the run writes it, after the work."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise UserError(where, f"{label} holds an unpaired surrogate ({text[e.start]!r} at character "
                        f"{e.start}), not valid text", "fix the \\uD8xx-\\uDFxx escape in that record (a broken "
                        "UTF-16 pair)") from None
    return True


def check_text(value: Any, where: str, field: str) -> str | None:
    """A text cell must be a string (or null/missing: an empty seed, rejected as such). A number, list or
    object is refused rather than str()-ed into a confident "seed" that was never text."""
    if value is None or (isinstance(value, str) and _no_lone_surrogate(value, where, f"field '{field}'")):
        return value
    raise UserError(where, f"field '{field}' is {_kind(value)} ({value!r:.40}), not a string",
                    f"store the text of '{field}' as a string (e.g. \"{field}\": \"...\"), or point "
                    "input.text_field at the column that holds the text")


def messages_from(value: Any, where: str, field: str, roles: tuple[str, ...] = ROLES) -> list[dict[str, str]]:
    """Chat turns [{role, content}] with string content and a known role; anything else is a UserError."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise UserError(where, f"field '{field}' is a string but not JSON chat turns",
                            'store turns as [{"role": ..., "content": ...}]') from None
    if not isinstance(value, list | tuple) or not all(isinstance(m, Mapping) and "role" in m and "content" in m
                                                      for m in value):
        raise UserError(where, f"field '{field}' must be a list of {{role, content}} turns",
                        'store turns as [{"role": "user", "content": "..."}, ...]')
    turns = []
    for i, m in enumerate(value):
        role, content = m["role"], m["content"]
        if not isinstance(role, str) or role not in roles:
            raise UserError(where, f"field '{field}' turn {i}: role {role!r:.40} is not one of {', '.join(roles)}",
                            f"use role {' / '.join(roles)} for every turn")
        if not isinstance(content, str):
            raise UserError(where, f"field '{field}' turn {i}: content is {_kind(content)} ({content!r:.40}), "
                            "not a string", "store each turn's content as a string (an empty turn as \"\")")
        _no_lone_surrogate(content, where, f"field '{field}' turn {i}")
        turns.append({"role": role, "content": content})
    return turns


_messages_from = messages_from  # the old private name


def extract_content(row: RawRow, mapping: ColumnMapping) -> tuple[str | None, list[dict[str, str]] | None]:
    """Text and/or messages of a raw row per the mapping. With both columns mapped, a row may hold
    either (mixed corpora of posts and chats); with neither present it is a UserError."""
    has_messages = bool(mapping.messages) and row.data.get(mapping.messages) is not None
    has_text = bool(mapping.text) and mapping.text in row.data
    if not has_messages and not has_text:
        wanted = " or ".join(f"'{c}'" for c in (mapping.text, mapping.messages) if c)
        flag = "input.text_field (--text-field)" if mapping.text else "input.messages_field (--messages-field)"
        raise UserError(row.source, f"column {wanted} not found (columns: {', '.join(map(str, row.data)) or 'none'})",
                        f"set {flag} to the column holding the text")
    messages = messages_from(row.data[mapping.messages], row.source, mapping.messages) if has_messages else None
    text = None
    if has_text and not has_messages:
        value = check_text(row.data[mapping.text], row.source, mapping.text)
        text = "" if value is None else value
    return text, messages


def record_content(row: RawRow) -> tuple[str | None, list[dict[str, str]] | None]:
    """Text and messages of a row that is already a semisynth record, type-checked like any input."""
    text = check_text(row.data.get("text"), row.source, "text")
    raw = row.data.get("messages")
    messages = messages_from(raw, row.source, "messages") if raw is not None else None
    return text, messages


def is_record_dict(data: Mapping[str, Any]) -> bool:
    return "id" in data and "origin" in data and ("text" in data or "messages" in data)


def read_records(path: str | os.PathLike, mapping: ColumnMapping | None = None,
                 default_origin: str = "real", refuse_blank: bool = False) -> list[Record]:
    """Load a corpus as records: semisynth records pass through; other rows become records of
    `default_origin` (no PII masking or language id: that is the seed loader's job). refuse_blank: a corpus
    whose every row is empty is a user error (a corpus the user gave; a collapse chain may read back the empty
    samples of a generation that collapsed)."""
    mapping = mapping or ColumnMapping()
    out: list[Record] = []
    for row in iter_raw_rows(path):
        if is_record_dict(row.data):
            record_content(row)  # a number or an object as text is bad input, not a record
            try:
                out.append(Record.from_dict(row.data))
            except (KeyError, ValueError, TypeError) as e:
                raise UserError(row.source, f"malformed semisynth record ({e})", "regenerate the run or fix the record") from None
            continue
        text, messages = extract_content(row, mapping)
        out.append(Record.create(default_origin, text=text, messages=messages,
                                 language=str(row.data.get(mapping.language) or "und") if mapping.language else "und",
                                 meta={"source": row.source}))
    if not out:
        raise UserError(str(path), "no records found", "give a corpus with at least one non-empty record")
    if refuse_blank and all(blank_text(r.content) for r in out):  # a monitor report of nothing, a mix of empty records: exit 0
        field = " or ".join(f"'{c}'" for c in (mapping.text, mapping.messages) if c)
        raise UserError(str(path), f"all {len(out):,} row(s) have an empty or null {field}",
                        "point the text field (--text-field, text_field) at the column that holds the text, or give "
                        "a corpus with text")
    return out


def blank_text(text: str | None) -> bool:
    """Nothing a reader would see: whitespace and invisible format characters (zero-width space, word joiner,
    a stray byte-order mark) only; such a row is empty, not a text in an undetermined language."""
    return all(c.isspace() or unicodedata.category(c) == "Cf" for c in text or "")

