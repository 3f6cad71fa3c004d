"""CLI flags generated from a command's pydantic config, so a field is declared once.

`add_config_flags(parser, Config)` walks the config's fields (nested sections and unions of models such as
the backend spec included) and adds one flag per leaf field: the name from the dotted path
(`sampling.max_tokens` -> `--sampling-max-tokens`), the type from the annotation (bool -> `--x/--no-x`,
Literal or a `^(a|b)$` pattern -> choices, int/float/str/Path, a list of scalars -> repeatable and
comma-separated, anything else -> one YAML value), the help from `Field(description=...)`. Names users
already type are kept as aliases given at registration (`--model` for `backend.model`). Precedence is
load_config's: the YAML file (`--config`) first, a flag given on the command line overrides its field; a
flag left out changes nothing. A usage mistake is argparse's one line; a bad value is the config's one line
naming the field (semisynth/config.py).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined, to_jsonable_python

from semisynth.config import _pattern_choices, _type_word, _unwrap, load_config

# Flag names every command with a `runner:` section keeps beside the generated --runner-kind, ...
RUNNER_ALIASES = {"--runner": "runner.kind", "--ray-address": "runner.address", "--workers": "runner.workers"}
FLAGS_DEFAULT = "config_flags"  # the parser default that carries a command's ConfigFlags
_DEST = "cfg:"  # config flags' argparse dests: "cfg:" + dotted path, apart from a command's own flags
_SCALARS = (int, float, str, Path)


def flag_name(path: str) -> str:
    """`sampling.max_tokens` -> `--sampling-max-tokens`."""
    return "--" + path.replace(".", "-").replace("_", "-")


def _is_model(ann: Any) -> bool:
    return isinstance(ann, type) and issubclass(ann, BaseModel)


def _models_of(ann: Any) -> list[type[BaseModel]] | None:
    """A nested section: one model, or a union whose members are all models (e.g. the backend spec)."""
    ann = _unwrap(ann)
    if _is_model(ann):
        return [ann]
    if get_origin(ann) in (Union, UnionType):
        members = [_unwrap(a) for a in get_args(ann) if a is not type(None)]
        if members and all(_is_model(m) for m in members):
            return members
    return None


@dataclass
class ConfigField:
    """One leaf of a config: its dotted path, annotation and FieldInfo; `kinds` names the union members
    (`kind:` values) that have it when it lives in one member only, or some of them."""

    path: str
    annotation: Any
    info: FieldInfo
    kinds: list[str] = field(default_factory=list)
    all_kinds: bool = True
    choices: list[Any] | None = None  # merged Literal choices across union members (`kind`)


def _kind_of(model: type[BaseModel]) -> str | None:
    info = model.model_fields.get("kind")
    args = get_args(_unwrap(info.annotation)) if info is not None and get_origin(_unwrap(info.annotation)) is Literal \
        else ()
    return str(args[0]) if len(args) == 1 else None


def config_fields(cls: type[BaseModel], prefix: str = "") -> list[ConfigField]:
    """Every leaf field of a config, nested sections expanded, in declaration order."""
    out: dict[str, ConfigField] = {}
    for name, info in cls.model_fields.items():
        path = f"{prefix}{name}"
        models = _models_of(info.annotation)
        if models is None:
            out[path] = ConfigField(path, info.annotation, info)
            continue
        union = len(models) > 1
        for model in models:
            for leaf in config_fields(model, f"{path}."):
                kind = _kind_of(model) if union else None
                seen = out.get(leaf.path)
                if seen is None:
                    leaf.kinds = [kind] if kind else []
                    out[leaf.path] = leaf
                    continue
                if kind:
                    seen.kinds.append(kind)
                inner = _unwrap(leaf.annotation)
                if get_origin(inner) is Literal and get_origin(_unwrap(seen.annotation)) is Literal:
                    base = list(seen.choices or get_args(_unwrap(seen.annotation)))
                    seen.choices = base + [a for a in get_args(inner) if a not in base]
                elif _unwrap(seen.annotation) != inner:
                    seen.annotation = Any  # the members disagree on the type: leave it to the config
        if union:
            kinds = [k for k in (_kind_of(m) for m in models) if k]
            for leaf in out.values():
                if leaf.path.startswith(f"{path}.") and leaf.kinds:
                    leaf.all_kinds = sorted(leaf.kinds) == sorted(kinds)
    return list(out.values())


class _Bool(argparse.Action):
    """`--x` sets true, `--no-x` (and aliases spelled `--no-...`) false; left out: None (not given)."""

    def __init__(self, option_strings: Sequence[str], dest: str, false_options: Sequence[str] = (), **kw: Any):
        self.false_options = set(false_options)
        super().__init__(option_strings, dest, nargs=0, default=None, **kw)

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, option_string not in self.false_options)


class _Append(argparse.Action):
    """A list flag: repeat it or separate values with commas (`--raters a,b --raters c`)."""

    def __call__(self, parser, namespace, values, option_string=None):
        got = list(getattr(namespace, self.dest, None) or [])
        got += [v.strip() for v in str(values).split(",") if v.strip()]
        setattr(namespace, self.dest, got)


def _yaml_value(text: str) -> Any:
    from semisynth.config import YamlKeyProblem, strict_yaml_loader

    try:
        return yaml.load(text, Loader=strict_yaml_loader())  # noqa: S506 (a SafeLoader that refuses repeated keys)
    except YamlKeyProblem as e:
        raise argparse.ArgumentTypeError(f"{e.what} in {text!r}; {e.fix}") from None
    except yaml.YAMLError as e:
        raise argparse.ArgumentTypeError(f"invalid YAML value {text!r} ({getattr(e, 'problem', None) or e}); "
                                         "write it in YAML flow style, e.g. '[{kind: paraphrase}]' or "
                                         "'{key: value}'") from None


def _choice_type(choices: Sequence[Any], path: str):
    """Text -> the choice it names; anything else is argparse's one-line error naming flag, field and choices."""
    by_text = {str(c): c for c in choices}

    def convert(text: str) -> Any:
        if text not in by_text:
            raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (field '{path}': choose from "
                                             f"{', '.join(repr(c) for c in by_text)})")
        return by_text[text]

    convert.__name__ = "choice"
    return convert


def _scalar_item(ann: Any) -> bool:
    ann = _unwrap(ann)
    return ann in _SCALARS or get_origin(ann) is Literal


def _shape(f: ConfigField) -> tuple[str, dict[str, Any]]:
    """How the leaf becomes a flag: ('bool'|'choices'|'scalar'|'list'|'yaml', add_argument keywords)."""
    ann = _unwrap(f.annotation)
    origin = get_origin(ann)
    pattern = next((getattr(m, "pattern", None) for m in f.info.metadata if getattr(m, "pattern", None)), None)
    choices = f.choices or (list(get_args(ann)) if origin is Literal else None) or \
        (_pattern_choices(pattern) if pattern and ann is str else None)
    if ann is bool:
        return "bool", {}
    if ann is Any:
        return "scalar", {"metavar": "VALUE"}  # union members disagree on the type: the config decides
    if choices:
        return "choices", {"type": _choice_type(choices, f.path), "metavar": "{" + ",".join(map(str, choices)) + "}",
                           "choices_shown": choices}
    if ann in (int, float):
        return "scalar", {"type": ann, "metavar": "INT" if ann is int else "NUMBER"}
    if ann in (str, Path):
        return "scalar", {"metavar": "PATH" if ann is Path else "TEXT"}
    if origin in (list, tuple, set, frozenset) and get_args(ann) and _scalar_item(get_args(ann)[0]):
        return "list", {"metavar": "A[,B...]"}
    if origin in (Union, UnionType) and all(_scalar_item(a) for a in get_args(ann) if a is not type(None)):
        return "scalar", {"metavar": "VALUE"}  # e.g. int | 'auto': the config decides
    return "yaml", {"type": _yaml_value, "metavar": "YAML"}


def _shown(value: Any) -> str:
    """A default as a user would write it (YAML flow style, nulls left out), not a Python repr."""
    def prune(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: prune(x) for k, x in v.items() if x is not None}
        return [prune(x) for x in v] if isinstance(v, list) else v

    plain = prune(to_jsonable_python(value))
    if isinstance(plain, (list, dict)):
        return yaml.safe_dump(plain, default_flow_style=True, width=10_000).strip()
    return str(plain)


def _help(f: ConfigField, shape: str) -> str:
    info = f.info
    parts = []
    if f.kinds and not f.all_kinds:
        parts.append(f"[{'/'.join(f.kinds)}]")
    if info.description:
        parts.append(info.description)
    elif shape not in ("bool", "choices"):
        word = _type_word(f.annotation) if f.annotation is not Any else None
        if word:
            parts.append(word)
    default = info.get_default(call_default_factory=True) if info.default is not PydanticUndefined or \
        info.default_factory is not None else PydanticUndefined
    if default is PydanticUndefined:
        parts.append("(required unless in --config)")
    elif default is not None and default not in ([], {}) and not isinstance(default, BaseModel):
        parts.append(f"(default: {_shown(default)})")
    return " ".join(parts).replace("%", "%%")


@dataclass
class ConfigFlags:
    """The flags one command got from its config; turns parsed arguments back into overrides."""

    cls: type[BaseModel]
    paths: dict[str, list[str]]  # dotted path -> its option strings (generated first, then aliases)
    positionals: tuple[str, ...] = ()

    def overrides(self, args: argparse.Namespace) -> dict[str, Any]:
        out = {}
        for path in self.paths:
            value = getattr(args, _DEST + path, None)
            if path in self.positionals and value == []:
                value = None  # `nargs=*` left empty: not given
            if value is not None:
                out[path] = value
        return out

    def load(self, args: argparse.Namespace, extra: Mapping[str, Any] | None = None) -> Any:
        """The config: --config's YAML, then the flags given, then `extra` (a command's shortcut flags)."""
        overrides = self.overrides(args)
        for k, v in (extra or {}).items():
            if v is not None:
                overrides[k] = v
        names = {path: "/".join(opts) for path, opts in self.paths.items()}
        return load_config(self.cls, getattr(args, "config", None), overrides, names)


def add_config_flags(parser: argparse.ArgumentParser, cls: type[BaseModel], *,
                     aliases: Mapping[str, str] | None = None, positional: Sequence[str] = (),
                     config_flag: bool = True, config_required: bool = False,
                     custom: Mapping[str, Mapping[str, Any]] | None = None) -> ConfigFlags:
    """One flag per leaf field of `cls` (see the module doc). `aliases` maps an extra option string to a
    field path (a bool alias spelled `--no-...` sets false); `positional` fields are positional arguments
    named after the field; `custom` gives a field's own add_argument keywords (e.g. an optional value).
    Adds `--config` unless `config_flag` is false."""
    aliases = dict(aliases or {})
    by_path: dict[str, list[str]] = {}
    for alias, path in aliases.items():
        by_path.setdefault(path, []).append(alias)
    leaves = config_fields(cls)
    known = {f.path for f in leaves}
    unknown = sorted(set(by_path) - known)
    if unknown:
        raise ValueError(f"{cls.__name__}: aliases name no field: {', '.join(unknown)}")
    if config_flag:
        parser.add_argument("--config", required=config_required, metavar="YAML",
                            help=f"YAML file with {cls.__name__} fields; flags override it")
    groups: dict[str, argparse._ArgumentGroup] = {}
    paths: dict[str, list[str]] = {}
    taken: dict[str, str] = {}
    for f in leaves:
        shape, kw = _shape(f)
        shown = kw.pop("choices_shown", None)
        if custom and f.path in custom:
            shape, kw = "custom", dict(custom[f.path])
        section = f.path.rpartition(".")[0]
        target: Any = parser
        if section:
            if section not in groups:
                groups[section] = parser.add_argument_group(f"{section} (`{section}:` in the YAML)")
            target = groups[section]
        help_text = kw.pop("help", None) or _help(f, shape)
        if f.path in positional:
            kw.pop("metavar", None)
            help_text = help_text.replace(" (required unless in --config)", "")
            if shown:
                help_text += f" (one of: {', '.join(map(str, shown))})"
            required = f.info.is_required()
            nargs = "*" if shape == "list" else (None if required else "?")
            if shape == "list":
                kw.pop("type", None)
            target.add_argument(_DEST + f.path, metavar=f.path, nargs=nargs, help=help_text, **kw)
            paths[f.path] = [f.path]
            continue
        names = [flag_name(f.path)]
        if shape == "bool":
            names.append("--no-" + names[0][2:])
        names += [a for a in by_path.get(f.path, []) if a not in names]
        for n in names:
            if n in taken:
                raise ValueError(f"{cls.__name__}: flag {n} would set both {taken[n]} and {f.path}")
            taken[n] = f.path
        if shape == "bool":
            target.add_argument(*names, dest=_DEST + f.path, action=_Bool,
                                false_options=[n for n in names if n.startswith("--no-")], help=help_text)
        elif shape == "list":
            target.add_argument(*names, dest=_DEST + f.path, action=_Append, help=help_text + " (repeat it, or "
                                "separate values with commas)", **kw)
        else:  # scalar, choices, yaml, custom
            target.add_argument(*names, dest=_DEST + f.path, help=help_text, **kw)
        paths[f.path] = names
    flags = ConfigFlags(cls, paths, tuple(positional))
    parser.set_defaults(**{FLAGS_DEFAULT: flags})
    return flags
