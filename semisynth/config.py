"""One config object per command: a pydantic model, loadable from YAML, overridable by flags.

Validation errors become one-line UserErrors naming the file, the field, what is wrong and the fix.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo

from semisynth.backends.protocol import SamplingParams
from semisynth.errors import UserError

C = TypeVar("C", bound="CommandConfig")


class Sampling(BaseModel):
    """How one model call samples, as every config declares it (generate's `sampling:`, a preference arm);
    `params()` is the backend's SamplingParams. One type at the config seam, one set of bounds."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_tokens: int = Field(128, ge=1, le=8192, description="most tokens per answer (reaching it: the truncated "
                                                            "reject)")
    temperature: float = Field(0.8, ge=0.0, le=2.0, description="sampling temperature")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="nucleus sampling mass")

    def params(self) -> SamplingParams:
        return SamplingParams(max_tokens=self.max_tokens, temperature=self.temperature, top_p=self.top_p)


class ConfigRefusal(ValueError):
    """Raised by a validator that knows the fix: a contradiction between fields (min above max) names the
    field it is about (relative to the model the validator is on) and the allowed range, instead of the
    generic "change the section as the message says"."""

    def __init__(self, what: str, fix: str, field: str | None = None):
        self.what, self.fix, self.field = what, fix, field
        super().__init__(what)


_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")


def check_language_codes(codes: Sequence[str]) -> None:
    """Language lists in configs hold ISO 639 codes as records carry them ("en", "sw", "zh-cn"): a name
    ("english") or a capitalised code would match no record, silently (every seed rejected, no record
    marked). Raises ConfigRefusal naming the first bad entry."""
    for c in codes:
        if not isinstance(c, str) or not _LANGUAGE_CODE.fullmatch(c):
            raise ConfigRefusal(f"{c!r:.40} is not a language code", "use ISO 639 codes as records carry them, "
                                "lowercase: e.g. en, de, sw, zh-cn")


class CommandConfig(BaseModel):
    """Base for command configs: unknown keys are errors (a typo must not be silently ignored).

    A config built in Python round-trips through YAML: `cfg.to_yaml(path)` writes what `load_config(type(cfg),
    path)` (or `--config path` on the command line) reads back as an equal config."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    def to_yaml(self, path: str | os.PathLike | None = None) -> str:
        """The config as YAML, the fields that were set (a default left as a default stays one: validators that
        check only what the user wrote, e.g. sampling.max_tokens_floor under max_tokens, judge it the same way
        again); written atomically to `path` when given."""
        text = yaml.safe_dump(self.model_dump(mode="json", exclude_unset=True), sort_keys=False, allow_unicode=True,
                              width=110)
        if path is not None:
            from semisynth.atomic import atomic_open

            with atomic_open(path) as f:
                f.write(text)
        return text


def _set_path(d: dict[str, Any], dotted: str, value: Any, source: str = "config") -> None:
    keys = dotted.split(".")
    for n, k in enumerate(keys[:-1]):
        d = d.setdefault(k, {})
        if not isinstance(d, dict):  # `input: seeds.jsonl` in the YAML, then --text-field on the command line
            section = ".".join(keys[:n + 1])
            raise UserError(f"{source}: field '{section}'", f"is {type(d).__name__} {d!r:.40}, not a mapping",
                            f"write it as a mapping ({section}: {{...}}) to set {dotted} from a flag")
    d[keys[-1]] = value


def _unwrap(ann: Any) -> Any:
    """Optional[X] -> X; Annotated[X, ...] -> X (other unions stay as they are)."""
    while True:
        origin = get_origin(ann)
        if origin is Annotated:
            ann = get_args(ann)[0]
        elif origin in (Union, UnionType) and sum(a is not type(None) for a in get_args(ann)) == 1:
            ann = next(a for a in get_args(ann) if a is not type(None))
        else:
            return ann


def _is_model(ann: Any) -> bool:
    return isinstance(ann, type) and issubclass(ann, BaseModel)


def _walk(cls: Any, loc: Sequence[Any]) -> tuple[Any, FieldInfo | None]:
    """Follow an error location through nested models, lists and dicts: the annotation reached and the
    FieldInfo of the last model field on the way (None when the location leaves the known models)."""
    ann, info = cls, None
    for part in loc:
        ann = _unwrap(ann)
        origin = get_origin(ann)
        if _is_model(ann) and isinstance(part, str) and part in ann.model_fields:
            info = ann.model_fields[part]
            ann = info.annotation
        elif isinstance(part, int) and origin in (list, tuple, set, frozenset) and get_args(ann):
            ann = get_args(ann)[0]
            info = None
        elif isinstance(part, str) and origin is dict and len(get_args(ann)) == 2:
            ann = get_args(ann)[1]
            info = None
        elif origin in (Union, UnionType):  # pydantic names the union member it tried: pick it when we can
            members = [_unwrap(a) for a in get_args(ann) if a is not type(None)]
            model = next((m for m in members if _is_model(m) and m.__name__ == part), None)
            if model is not None:
                ann = model
        else:
            return ann, info
    return ann, info


_TYPE_WORDS = {int: "a whole number", float: "a number", bool: "true or false", str: "a text value"}


def _type_word(ann: Any) -> str | None:
    ann = _unwrap(ann)
    origin = get_origin(ann)
    if origin is Literal:
        return "one of: " + ", ".join(str(a) for a in get_args(ann))
    if ann in _TYPE_WORDS:
        return _TYPE_WORDS[ann]
    if origin in (list, tuple, set, frozenset):
        item = _unwrap(get_args(ann)[0]) if get_args(ann) else None
        if _is_model(item):
            return f"a list of mappings with keys {', '.join(item.model_fields)}"
        inner = _type_word(item) if item is not None else None
        return f"a list of {inner.removeprefix('a ')}s" if inner and inner.startswith("a ") else "a list"
    if origin is dict or ann is dict:
        return "a mapping of key: value pairs"
    if _is_model(ann):
        return f"a mapping with keys {', '.join(ann.model_fields)}"
    if origin in (Union, UnionType):
        words = [w for w in (_type_word(a) for a in get_args(ann) if a is not type(None)) if w]
        if words:
            return " or ".join(words) + (" or null" if type(None) in get_args(ann) else "")
    return None


def _bounds(info: FieldInfo | None) -> str:
    if info is None:
        return ""
    parts = []
    for m in info.metadata:
        for attr, word in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if getattr(m, attr, None) is not None:
                parts.append(f"{word} {getattr(m, attr)}")
        if getattr(m, "min_length", None) is not None:
            parts.append(f"with at least {m.min_length} item(s)/character(s)")
        if getattr(m, "max_length", None) is not None:
            parts.append(f"with at most {m.max_length} item(s)/character(s)")
        pattern = getattr(m, "pattern", None)
        if pattern:
            choices = _pattern_choices(pattern)
            parts.append(f"one of: {', '.join(choices)}" if choices else f"matching {pattern}")
    return " and ".join(parts)


def _pattern_choices(pattern: str) -> list[str] | None:
    """'^(a|b|c)$' -> [a, b, c]: the patterns configs use to spell a choice."""
    m = re.fullmatch(r"\^\(?([\w|-]+)\)?\$", pattern)
    return m.group(1).split("|") if m else None


def allowed_values(cls: Any, loc: Sequence[Any]) -> str | None:
    """What a field accepts, in words ("a number >= 0 and <= 2", "one of: vllm, http"), from its type and
    constraints; None when the location is not a known field."""
    ann, info = _walk(cls, loc)
    if info is None and ann is cls:
        return None
    word, bounds = _type_word(info.annotation if info is not None else ann), _bounds(info)
    if bounds.startswith("one of"):
        return bounds
    text = " ".join(x for x in (word, bounds) if x)
    if info is not None and info.description:
        text = f"{text} - {info.description}" if text else info.description
    return text or None


def _fix_for(err: Mapping[str, Any], cls: Any) -> str:
    kind = err.get("type", "")
    loc = tuple(err.get("loc") or ())
    if kind == "extra_forbidden":
        parent, _ = _walk(cls, loc[:-1]) if cls is not None else (None, None)
        parent = _unwrap(parent)
        keys = list(parent.model_fields) if _is_model(parent) else []
        section = f"'{_clean_loc(cls, loc[:-1])}'" if loc[:-1] else "the top level"
        if _kind_of(parent) is not None:  # a member of a union on `kind`: say which kinds have the key
            section += f" for kind {_kind_of(parent)}"
            union, _ = _walk(cls, loc[:-2])
            members = [_unwrap(m) for m in get_args(_unwrap(union))]
            others = [_kind_of(m) for m in members if _is_model(m) and m is not parent and _kind_of(m) is not None
                      and loc[-1] in m.model_fields]
            if others:
                return (f"remove it, or set kind: {' or '.join(others)} (it is an option of that kind), "
                        f"or use one of the keys of {section}: {', '.join(keys)}")
        return f"remove it or use one of the keys of {section}: {', '.join(keys)}" if keys else "remove it"
    if kind == "missing":
        allowed = allowed_values(cls, loc) if cls is not None else None
        return f"add this field: {allowed}" if allowed else "add this field"
    ctx = err.get("ctx") or {}
    if "expected" in ctx:
        return f"use one of {ctx['expected']}"
    if kind == "string_pattern_mismatch" and "pattern" in ctx:
        choices = _pattern_choices(str(ctx["pattern"]))
        return f"use one of: {', '.join(choices)}" if choices else f"use a value matching {ctx['pattern']}"
    for bound, word in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if bound in ctx:
            return f"use a value {word} {ctx[bound]}"
    if kind == "too_short" and "min_length" in ctx:
        return f"give at least {ctx['min_length']} item(s)"
    if kind == "too_long" and "max_length" in ctx:
        return f"give at most {ctx['max_length']} item(s)"
    if kind in ("value_error", "assertion_error"):  # a validator's own message says what is wrong
        bounds = _bounds(_walk(cls, loc)[1]) if cls is not None else ""
        return f"use a value {bounds}" if bounds and not bounds.startswith("one of") else \
            f"change {repr(_clean_loc(cls, loc)) if loc else 'the config'} as the message says"
    allowed = allowed_values(cls, loc) if cls is not None else None
    if allowed:
        return f"use {allowed}"
    generic = {"int_parsing": "a whole number", "int_type": "a whole number", "int_from_float": "a whole number",
               "float_parsing": "a number", "float_type": "a number", "bool_parsing": "true or false",
               "bool_type": "true or false", "string_type": "a text value (quote it in YAML)",
               "list_type": "a list, e.g. [a, b]", "dict_type": "a mapping of key: value pairs",
               "model_type": "a mapping of key: value pairs", "model_attributes_type": "a mapping of key: value pairs"}
    if kind in generic:
        return f"use {generic[kind]}"
    return f"check the value of '{'.'.join(map(str, loc)) or 'the config'}'"


def _kind_of(model: Any) -> str | None:
    """The single `kind` a union member stands for (kind: Literal["x"]), else None."""
    info = model.model_fields.get("kind") if _is_model(model) else None
    args = get_args(info.annotation) if info is not None and get_origin(info.annotation) is Literal else ()
    return str(args[0]) if len(args) == 1 else None


def _clean_loc(cls: Any, loc: Sequence[Any]) -> str:
    """'review_sample.int' -> 'review_sample': drop the union-member tags pydantic adds to a location."""
    if cls is None:
        return ".".join(map(str, loc))
    kept, ann = [], cls
    for part in loc:
        ann_u = _unwrap(ann)
        if get_origin(ann_u) in (Union, UnionType) and not _is_model(ann_u):
            members = [_unwrap(a) for a in get_args(ann_u) if a is not type(None)]
            model = next((m for m in members if _is_model(m) and m.__name__ == part), None)
            if model is not None:
                ann = model
            continue  # a union tag, not a key the user wrote
        kept.append(str(part))
        ann, _ = _walk(ann_u, [part])
    return ".".join(kept)


def _refusal(err: Mapping[str, Any]) -> ConfigRefusal | None:
    exc = (err.get("ctx") or {}).get("error")
    return exc if isinstance(exc, ConfigRefusal) else None


def _error_field(cls: Any, err: Mapping[str, Any]) -> str:
    field = _clean_loc(cls, err["loc"])
    refusal = _refusal(err)
    if refusal is not None and refusal.field:
        field = f"{field}.{refusal.field}" if field else refusal.field
    return field


def validation_error_to_user_error(e: ValidationError, source: str, cls: type[BaseModel] | None) -> UserError:
    err = e.errors()[0]
    field = _error_field(cls, err) or "(top level)"
    refusal = _refusal(err)
    if refusal is not None:
        return UserError(f"{source}: field '{field}'", refusal.what, refusal.fix)
    value = err.get("input")
    shown = "" if isinstance(value, dict) or err.get("type") == "missing" else f" (got {value!r:.60})"
    msg = str(err["msg"]).removeprefix("Value error, ")
    return UserError(f"{source}: field '{field}'", f"{msg}{shown}", _fix_for(err, cls))


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (YAML keeps the last one without a word, so
    `seed: 1` ... `seed: 2` silently ran with 2) and a key that is not text (`1: x`)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor` may be overridden by the keys beside it
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, int | float | bool) or key is None:  # `1:`, `yes:` (YAML 1.1 reads it as true)
                raise YamlKeyProblem(line, f"key {key_node.value!r} is read as {key!r}, not a name",
                                  "write the field's name as the key (quote it if it must be yes/no/on/off)")
            if not isinstance(key, str):
                continue  # a complex key: left to the schema check
            if key in seen:
                raise YamlKeyProblem(line, f"key '{key}' is given twice (first on line {seen[key]})",
                                  "keep one of the two: YAML would silently use the last")
            seen[key] = line
        return super().construct_mapping(node, deep)


class YamlKeyProblem(Exception):
    """A mapping key given twice or not a name, with its line (raised by the strict loader)."""

    def __init__(self, line: int, what: str, fix: str):
        self.line, self.what, self.fix = line, what, fix


def strict_yaml_loader() -> type[yaml.SafeLoader]:
    """The loader every config YAML goes through (files and YAML-valued flags)."""
    return _StrictLoader


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; broken syntax or non-UTF-8 bytes are UserErrors naming the file (and line)."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)  # noqa: S506 (a SafeLoader)
    except YamlKeyProblem as e:
        raise UserError(f"{path}:{e.line}", e.what, e.fix) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise UserError(where, f"invalid YAML ({getattr(e, 'problem', None) or e})", "fix the YAML syntax on that line") from None
    except UnicodeDecodeError:
        raise UserError(str(path), "not UTF-8 text", "save the file as UTF-8 YAML") from None


def load_config(cls: type[C], path: str | os.PathLike | None = None, overrides: Mapping[str, Any] | None = None,
                flag_names: Mapping[str, str] | None = None) -> C:
    """YAML file (optional) + flag overrides ("a.b": value, None = not given) -> validated config.

    A bad value that came from a flag is reported under that flag (`flag_names`: path -> "--x/--y"), not
    under the YAML file it overrode."""
    data: dict[str, Any] = {}
    source = "flags"
    if path is not None:
        p = Path(path)
        source = str(p)
        if p.is_dir():
            raise UserError(source, "is a folder, not a YAML config file", "give the path of the config file itself")
        if not p.exists():
            from semisynth.io import missing_reason

            what, _ = missing_reason(p)
            raise UserError(source, "config file not found" if what == "file not found" else what,
                            "check the --config path")
        if not p.is_file():
            raise UserError(source, "is not a regular file (a device or pipe)", "give a YAML config file")
        loaded = read_yaml(p)
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise UserError(source, f"expected a mapping at the top level, got {type(loaded).__name__}",
                            "write the config as key: value pairs")
        data = loaded
    given = [key for key, value in (overrides or {}).items() if value is not None]
    for key in given:
        _set_path(data, key, overrides[key], source)
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        field = _error_field(cls, e.errors()[0])
        flag = next((k for k in given if field == k or field.startswith(k + ".")), None)
        if flag is not None:
            source = (flag_names or {}).get(flag, "flags")
        raise validation_error_to_user_error(e, source, cls) from None
