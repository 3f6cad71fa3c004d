"""One config object per command: a pydantic model, loadable from YAML, overridable by flags.

Validation errors become one-line UserErrors naming the file, the field, what is wrong and the fix.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from semisynth.errors import UserError

C = TypeVar("C", bound="CommandConfig")


class CommandConfig(BaseModel):
    """Base for command configs: unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _set_path(d: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    for k in keys[:-1]:
        d = d.setdefault(k, {})
    d[keys[-1]] = value


def _fix_for(err: Mapping[str, Any], cls: type[BaseModel]) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return f"remove it or use one of: {', '.join(cls.model_fields)}"
    if kind == "missing":
        return "add this field"
    ctx = err.get("ctx") or {}
    if "expected" in ctx:
        return f"use one of {ctx['expected']}"
    for bound, word in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if bound in ctx:
            return f"use a value {word} {ctx[bound]}"
    return "see the field's description in the config class"


def validation_error_to_user_error(e: ValidationError, source: str, cls: type[BaseModel]) -> UserError:
    err = e.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "(top level)"
    value = err.get("input")
    shown = "" if isinstance(value, dict) or err.get("type") == "missing" else f" (got {value!r:.60})"
    return UserError(f"{source}: field '{field}'", f"{err['msg']}{shown}", _fix_for(err, cls))


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; broken syntax or non-UTF-8 bytes are UserErrors naming the file (and line)."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise UserError(where, f"invalid YAML ({getattr(e, 'problem', None) or e})", "fix the YAML syntax on that line") from None
    except UnicodeDecodeError:
        raise UserError(str(path), "not UTF-8 text", "save the file as UTF-8 YAML") from None


def load_config(cls: type[C], path: str | os.PathLike | None = None, overrides: Mapping[str, Any] | None = None) -> C:
    """YAML file (optional) + flag overrides ("a.b": value, None = not given) -> validated config."""
    data: dict[str, Any] = {}
    source = "flags"
    if path is not None:
        p = Path(path)
        source = str(p)
        if not p.is_file():
            raise UserError(source, "config file not found", "check the --config path")
        loaded = read_yaml(p)
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise UserError(source, f"expected a mapping at the top level, got {type(loaded).__name__}",
                            "write the config as key: value pairs")
        data = loaded
    for key, value in (overrides or {}).items():
        if value is not None:
            _set_path(data, key, value)
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        raise validation_error_to_user_error(e, source, cls) from None
