"""Jinja2 prompt templates as data: strict undefined variables, sandboxed, hashed into lineage.

Seed text is passed as a variable, never concatenated into template source, so a seed containing
`{{ ... }}` or `{% ... %}` is rendered literally and cannot change the prompt's structure.
"""

from __future__ import annotations

import importlib.resources
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from semisynth.errors import UserError
from semisynth.hashing import content_hash

# Variables a template may use; anything else is a config mistake caught before the run starts.
ALLOWED_VARIABLES = frozenset({"seed", "is_conversation", "language", "leaf", "variant", "style", "domain"})
SEED_DELIMITERS = ("<seed>", "</seed>")
# A template may declare the tag its answer comes in (`output: <rewrite>...</rewrite>` in its header comment):
# small models copy a shown delimiter, so the closing tag is a reliable stop string.
_JINJA = re.compile(r"\{#.*?#\}|\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_OUTPUT_DECL = re.compile(r"^\s*output:\s*<([A-Za-z][\w-]*)>\s*\.\.\.\s*</\1>\s*(?:-?#\})?\s*$", re.MULTILINE)


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    source: str
    hash: str
    _template: Any

    def __reduce__(self) -> tuple[Any, ...]:
        """Travels (to Ray workers) as its source: a compiled Jinja template does not pickle."""
        return (_from_source, (self.name, self.source, self.hash))

    @property
    def output_tag(self) -> str | None:
        """The declared output tag's name, or None (then only the configured stop strings apply)."""
        m = _OUTPUT_DECL.search(self.source)
        return m.group(1) if m else None

    @property
    def instructions(self) -> str:
        """The template's own words: its source without Jinja comments, expressions and tags (so no seed,
        no taxonomy text). An answer that repeats them talks about the task (checks: `echoes_prompt`)."""
        return _JINJA.sub("\x00", self.source)  # NUL: no run of words spans a removed part

    @property
    def example_answers(self) -> tuple[str, ...]:
        """The literal answers the instructions show inside the output tags ("<rewrite>the rewritten
        message</rewrite>"): the format a small model needs to see, and the words it is likeliest to copy."""
        tag = self.output_tag
        if tag is None:
            return ()
        shown = re.findall(rf"<{re.escape(tag)}>([^<>{{}}\x00]+)</{re.escape(tag)}>", self.instructions, re.IGNORECASE)
        return tuple(dict.fromkeys(s.strip() for s in shown if s.strip()))

    def unwrap(self, text: str) -> str:
        """The answer inside the output tags: chatter before the opening tag and anything from the
        closing tag on are dropped (the stop string usually cut the latter already)."""
        tag = self.output_tag
        if tag is None:
            return text
        low = text.lower()
        start = low.find(f"<{tag.lower()}>")
        if start >= 0:
            text, low = text[start + len(tag) + 2:], low[start + len(tag) + 2:]
        end = low.find(f"</{tag.lower()}>")
        return text[:end] if end >= 0 else text

    def render(self, **variables: Any) -> str:
        try:
            return self._template.render(**variables).strip()
        except jinja2.UndefinedError as e:
            raise UserError(f"template {self.name}", f"undefined variable ({e.message})",
                            f"use only: {', '.join(sorted(ALLOWED_VARIABLES))}") from None


_ENV = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)


def _from_source(name: str, source: str, hash_: str) -> PromptTemplate:
    return PromptTemplate(name, source, hash_, _ENV.from_string(source))


def builtin_template_path(name: str) -> Path | None:
    root = importlib.resources.files("semisynth.prompts")
    candidate = root / (name if name.endswith(".j2") else f"{name}.j2")
    return Path(str(candidate)) if candidate.is_file() else None


def load_template(name_or_path: str) -> PromptTemplate:
    """A built-in template name (prompts/<name>.j2) or a path to a .j2 file, validated up front."""
    path = builtin_template_path(name_or_path) or Path(name_or_path)
    if not path.is_file():
        builtins = sorted(p.name[:-3] for p in importlib.resources.files("semisynth.prompts").iterdir()
                          if p.name.endswith(".j2"))
        what = "is a folder, not a .j2 file" if path.is_dir() else "not found"
        raise UserError(f"template '{name_or_path}'", what, f"use a built-in ({', '.join(builtins)}) or a path to a .j2 file")
    data = path.read_bytes()
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise UserError(f"{path}:{line}", f"not valid UTF-8 (byte {e.start}: {data[e.start:e.start + 1]!r})",
                        "save the template as UTF-8, e.g. iconv -f latin1 -t utf-8") from None
    if not source.strip():
        raise UserError(str(path), "template is empty", "write the prompt into it (see prompts/*.j2 for examples)")
    try:
        parsed = _ENV.parse(source)
    except jinja2.TemplateSyntaxError as e:
        raise UserError(f"{path}:{e.lineno}", f"template syntax error ({e.message})", "fix the Jinja2 syntax") from None
    unknown = meta.find_undeclared_variables(parsed) - ALLOWED_VARIABLES
    if unknown:
        raise UserError(str(path), f"unknown template variable(s): {', '.join(sorted(unknown))}",
                        f"use only: {', '.join(sorted(ALLOWED_VARIABLES))}")
    name = path.name[:-3] if path.name.endswith(".j2") else path.name
    return PromptTemplate(name, source, content_hash(source), _ENV.from_string(source))


_GAP = r"[\s\u200b-\u200d\u2060\ufeff]*"  # whitespace (newlines included) and zero-width characters


def _tag_pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    """Anything a reader (or a model) could take for <name> or </name>: any case, gaps inside the tag,
    attributes."""
    alts = "|".join(_GAP.join(map(re.escape, n)) for n in names)
    return re.compile("<" + _GAP + "/?" + _GAP + "(?:" + alts + r")(?![\w-])[^<>]*>", re.IGNORECASE)


_SEED_TAG = _tag_pattern(("seed",))


def neutralise_seed(text: str, extra_tags: tuple[str, ...] = ()) -> str:
    """Keep a seed from opening or closing a <seed> block (prompt-structure injection): every variant of the
    template's delimiters, whatever its case or spacing (`</SEED>`, `</seed >`, `<\n/seed>`), is defused.
    `extra_tags`: other tag names the template uses (e.g. its output tag), defused the same way."""
    pattern = _tag_pattern(("seed", *extra_tags)) if extra_tags else _SEED_TAG
    return pattern.sub(lambda m: m.group(0).replace("<", "‹").replace(">", "›"), text)
