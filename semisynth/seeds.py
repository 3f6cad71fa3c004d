"""Real seeds: read a corpus, mask PII, identify the language, and account for every row.

A row becomes a `real` record, or a reject with a reason (empty, duplicate): nothing is dropped silently.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

from semisynth.errors import UserError
from semisynth.hashing import content_hash
from semisynth.io import (
    MAX_LINE_BYTES_DEFAULT,
    ColumnMapping,
    RawRow,
    blank_text,
    extract_content,
    is_record_dict,
    iter_raw_rows,
    record_content,
)
from semisynth.langid import detect_language
from semisynth.pii import mask_pii
from semisynth.records import Lineage, Origin, Record, Reject


@dataclass
class SeedSet:
    records: list[Record]
    rejects: list[Reject]
    inputs: int
    pii_masked: dict[str, int] = field(default_factory=dict)
    languages: dict[str, int] = field(default_factory=dict)


def load_seeds(
    path: str | os.PathLike,
    mapping: ColumnMapping | None = None,
    *,
    mask: bool = True,
    limit: int | None = None,
    max_record_bytes: int = MAX_LINE_BYTES_DEFAULT,
) -> SeedSet:
    """All rows of `path` (up to `limit`), as real records or rejects. Raises UserError on bad input."""
    mapping = mapping or ColumnMapping()
    records: list[Record] = []
    rejects: list[Reject] = []
    seen: set[str] = set()
    pii: Counter[str] = Counter()
    langs: Counter[str] = Counter()
    inputs = 0

    def masked(text: str) -> str:
        res = mask_pii(text)
        pii.update(res.counts)
        return res.text

    # The whole file's shape first (types, sizes, columns, roles): a row broken at the end of 100k is refused
    # in seconds, before any row's language is identified (~2 ms a row).
    rows: list[tuple[RawRow, str | None, list[dict[str, str]] | None]] = []
    wanted = {c: False for c in (*mapping.keep, *([mapping.language] if mapping.language else []))}
    for row in iter_raw_rows(path, max_record_bytes):
        if limit is not None and len(rows) >= limit:
            break
        for c in wanted:
            wanted[c] = wanted[c] or c in row.data
        if is_record_dict(row.data) and mapping.text == "text" and not mapping.messages:
            rows.append((row, *record_content(row)))
        else:
            rows.append((row, *extract_content(row, mapping)))
    missing = [c for c, seen in wanted.items() if not seen]
    if rows and missing:  # a typo in keep_fields / language_field would be ignored without a word
        flag = "input.language_field (--input-language-field)" if missing[0] == mapping.language else \
            "input.keep_fields (--input-keep-fields)"
        raise UserError(str(path), f"column '{missing[0]}' is in no row (columns: "
                        f"{', '.join(map(str, rows[0][0].data)) or 'none'})", f"fix {flag}, or remove it")
    for row, text, messages in rows:
        inputs += 1
        if mask:
            if text is not None:
                text = masked(text)
            if messages:
                messages = [{"role": m["role"], "content": masked(m["content"])} for m in messages]
        content = text if text is not None else "\n".join(m["content"] for m in messages or ())
        if blank_text(content):
            rejects.append(Reject(content_hash(row.source), (), "empty_seed", detail=row.source))
            continue
        lang = str(row.data.get(mapping.language)) if mapping.language and row.data.get(mapping.language) else None
        confidence = None
        if lang is None:
            lang, confidence = detect_language(content)
        meta: dict = {}  # file:line lives in lineage.source; meta holds only what the user kept (+ confidence)
        if confidence is not None:
            meta["language_confidence"] = round(confidence, 4)
        for key in mapping.keep:
            if key in row.data:
                meta[key] = row.data[key]
        rec = Record.create(Origin.REAL, text=text if text is not None and not messages else None,
                            messages=messages or None, language=lang,
                            lineage=Lineage(source=row.source), meta=meta)
        if rec.id in seen:
            rejects.append(Reject(content_hash([rec.id, row.source]), (rec.id,), "duplicate_seed", detail=row.source))
            continue
        seen.add(rec.id)
        records.append(rec)
        langs[lang] += 1
    if inputs == 0:
        raise UserError(str(path), "no records in the input", "give a corpus with at least one row")
    if not records:  # every row empty: a run with 0 seeds would end "complete" having made nothing
        field = " or ".join(f"'{c}'" for c in (mapping.text, mapping.messages) if c)
        raise UserError(str(path), f"all {inputs:,} row(s) have an empty or null {field}",
                        "point input.text_field (--text-field) or input.messages_field at the column that holds "
                        "the text, or give a corpus with text")
    return SeedSet(records, rejects, inputs, dict(pii), dict(langs))
