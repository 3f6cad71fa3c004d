"""CLI flags come from the command's pydantic config (semisynth/flags.py): a field declared once is a flag
with its help; every command declares its flags that way; the names users already type keep working."""

from __future__ import annotations

import argparse
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from semisynth.cli import OneLineParser, build_parser, main
from semisynth.config import CommandConfig
from semisynth.errors import UserError
from semisynth.flags import FLAGS_DEFAULT, ConfigFlags, add_config_flags, config_fields, flag_name

# Every option string and positional each command had before flags were generated (taken from the parser on
# 2026-11-30): a script, a Makefile or a README line using one of these must keep working.
OLD_FLAGS = {
    "semisynth model tiny": ["--seed", "POS:dir"],
    "semisynth model prepare": ["--cache-dir", "POS:name"],
    "semisynth collapse run": ["--backend", "--base-model", "--config", "--embedder", "--family", "--generations",
                               "--mode", "--ngram-order", "--no-progress", "--out", "--real-data",
                               "--real-fraction", "--sample-size", "--seeds"],
    "semisynth generate": ["--backend", "--base-url", "--config", "--input", "--limit", "--max-tokens",
                           "--messages-field", "--model", "--no-pii-mask", "--no-transfer", "--out", "--quiet",
                           "--ray-address", "--runner", "--seed", "--shard-size", "--style", "--temperature",
                           "--text-field", "--token-budget", "--variants", "--workers"],
    "semisynth demo": ["--limit", "--model", "--out", "--quiet"],
    "semisynth mix": ["--config", "--force", "--out", "--overwrite", "--real-floor", "--seed", "--size"],
    "semisynth monitor": ["--cache-dir", "--config", "--embedder", "--fail-on-gate", "--no-html", "--out", "--real",
                          "--real-embeddings", "--review-sample", "--seed", "--synthetic",
                          "--synthetic-embeddings", "--text-field"],
    "semisynth argilla": ["--config", "--show-secrets", "--state-dir", "POS:action"],
    "semisynth preference candidates": ["--arm", "--config", "--limit", "--max-tokens", "--out", "--prompts",
                                        "--seed"],
    "semisynth preference push": ["--config", "--credentials-out", "--dataset", "--gold", "--input", "--kind",
                                  "--raters", "--seeds", "--state-dir", "--taxonomy", "--url", "-k"],
    "semisynth preference raters": ["--config", "--credentials-out", "--print-credentials", "--role",
                                    "--state-dir", "--url", "POS:action", "POS:names"],
    "semisynth preference report": ["--config", "--dataset", "--out", "--state-dir", "--taxonomy", "--url"],
    "semisynth preference escalate": ["--config", "--credentials-out", "--dataset", "--experts", "--state-dir",
                                      "--taxonomy", "--url"],
    "semisynth preference export": ["--config", "--dataset", "--format", "--out", "--state-dir", "--taxonomy",
                                    "--url"],
}


# Commands still mapping flags by hand: none.
NOT_YET_GENERATED: set[str] = set()


def _leaf_parsers(parser: argparse.ArgumentParser, prog: str = "semisynth") -> dict[str, argparse.ArgumentParser]:
    out = {}
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return {prog: parser}
    for name, sp in subs[0].choices.items():
        out.update(_leaf_parsers(sp, f"{prog} {name}"))
    return out


def _positionals(parser: argparse.ArgumentParser) -> set[str]:
    return {str(a.metavar or a.dest) for a in parser._actions if not a.option_strings}


# --- the mechanism, on a throwaway config --------------------------------------------------------------------


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    depth: int = Field(3, ge=1, description="how deep it goes")
    mode: Literal["fast", "slow"] = Field("fast", description="speed")


class _Toy(CommandConfig):
    name: str = Field(..., description="the toy's name")
    ratio: float = Field(0.5, ge=0, le=1, description="a share")
    loud: bool = Field(False, description="make noise")
    tags: list[str] = Field(default_factory=list, description="labels")
    extra: dict[str, int] = Field(default_factory=dict, description="anything else")
    section: _Section = Field(default_factory=_Section)


def _toy_parser(cls: type[CommandConfig], **kw) -> tuple[argparse.ArgumentParser, ConfigFlags]:
    parser = OneLineParser(prog="toy")
    return parser, add_config_flags(parser, cls, **kw)


def test_a_new_config_field_is_a_flag_with_its_help_and_nothing_else_to_edit():
    class Grown(_Toy):
        brand_new_knob: int = Field(7, ge=0, description="a knob added later")
        brand_new_switch: bool = Field(True, description="a switch added later")

    parser, flags = _toy_parser(Grown)
    help_text = parser.format_help()
    assert "--brand-new-knob" in help_text and "a knob added later" in help_text and "(default: 7)" in help_text
    assert "--no-brand-new-switch" in help_text and "a switch added later" in help_text
    cfg = flags.load(parser.parse_args(["--name", "x", "--brand-new-knob", "9", "--no-brand-new-switch"]))
    assert cfg.brand_new_knob == 9 and cfg.brand_new_switch is False
    _, before = _toy_parser(_Toy)
    assert set(flags.paths) - set(before.paths) == {"brand_new_knob", "brand_new_switch"}


def test_flag_shapes_follow_the_annotation(tmp_path):
    parser, flags = _toy_parser(_Toy, aliases={"--depth": "section.depth", "--quiet": "loud"})
    args = parser.parse_args(["--name", "t", "--ratio", "0.25", "--loud", "--tags", "a,b", "--tags", "c",
                              "--extra", "{x: 1, y: 2}", "--section-mode", "slow", "--depth", "5"])
    cfg = flags.load(args)
    assert (cfg.name, cfg.ratio, cfg.loud, cfg.tags, cfg.extra) == ("t", 0.25, True, ["a", "b", "c"], {"x": 1, "y": 2})
    assert (cfg.section.depth, cfg.section.mode) == (5, "slow")
    assert flags.load(parser.parse_args(["--name", "t", "--no-loud"])).loud is False
    assert flags.paths["section.depth"] == ["--section-depth", "--depth"]
    with pytest.raises(UserError, match="invalid choice"):
        parser.parse_args(["--section-mode", "medium"])
    with pytest.raises(UserError, match="invalid float value"):
        parser.parse_args(["--ratio", "half"])
    with pytest.raises(UserError, match="invalid YAML value"):
        parser.parse_args(["--extra", "{x: [1"])


def test_the_yaml_file_is_the_base_and_only_flags_given_override_it(tmp_path):
    cfg_file = tmp_path / "toy.yaml"
    cfg_file.write_text("name: from-yaml\nratio: 0.1\nsection: {depth: 4}\n")
    parser, flags = _toy_parser(_Toy)
    cfg = flags.load(parser.parse_args(["--config", str(cfg_file), "--section-depth", "8"]))
    assert (cfg.name, cfg.ratio, cfg.section.depth, cfg.section.mode, cfg.loud) == ("from-yaml", 0.1, 8, "fast", False)
    with pytest.raises(UserError) as e:  # a bad value is the config's one line naming the field
        flags.load(parser.parse_args(["--config", str(cfg_file), "--ratio", "2"]))
    assert "field 'ratio'" in str(e.value) and "<= 1" in str(e.value)


def test_a_union_of_models_gets_the_flags_of_every_member_tagged_with_their_kind():
    from semisynth.backends import BackendSpec

    class WithBackend(CommandConfig):
        backend: BackendSpec

    fields = {f.path: f for f in config_fields(WithBackend)}
    assert fields["backend.kind"].choices == ["vllm", "http", "transformers"]
    assert fields["backend.base_url"].kinds == ["http"] and not fields["backend.base_url"].all_kinds
    parser, flags = _toy_parser(WithBackend)
    cfg = flags.load(parser.parse_args(["--backend-kind", "http", "--backend-model", "m",
                                        "--backend-base-url", "http://127.0.0.1:1"]))
    assert cfg.backend.kind == "http" and cfg.backend.base_url == "http://127.0.0.1:1"
    assert "[http] server URL" in parser.format_help()
    with pytest.raises(UserError, match="kind: http"):  # an option of another kind: the config's error
        flags.load(parser.parse_args(["--backend-model", "m", "--backend-base-url", "http://x"]))


def test_two_fields_on_one_flag_name_are_refused_at_registration():
    with pytest.raises(ValueError, match="would set both"):
        _toy_parser(_Toy, aliases={"--ratio": "section.depth"})
    with pytest.raises(ValueError, match="name no field"):
        _toy_parser(_Toy, aliases={"--x": "nope"})


# --- every registered command -------------------------------------------------------------------------------


def test_every_config_field_of_every_registered_command_has_a_flag():
    leaves = _leaf_parsers(build_parser())
    undeclared = sorted(prog for prog, p in leaves.items() if FLAGS_DEFAULT not in p._defaults)
    assert undeclared == sorted(NOT_YET_GENERATED), f"commands whose flags are not generated from a config: {undeclared}"
    for prog, parser in leaves.items():
        if prog in NOT_YET_GENERATED:
            continue
        flags: ConfigFlags = parser._defaults[FLAGS_DEFAULT]
        options = set(parser._option_string_actions)
        for f in config_fields(flags.cls):
            if f.path in flags.positionals:
                assert f.path in _positionals(parser), (prog, f.path)
                continue
            assert flag_name(f.path) in options, f"{prog}: field {f.path} has no flag {flag_name(f.path)}"
            action = parser._option_string_actions[flag_name(f.path)]
            assert action.help, f"{prog}: {flag_name(f.path)} has no help"


@pytest.mark.parametrize("prog", sorted(OLD_FLAGS))
def test_flag_names_users_already_type_still_exist(prog):
    parser = _leaf_parsers(build_parser())[prog]
    have = set(parser._option_string_actions) | {f"POS:{p}" for p in _positionals(parser)}
    missing = sorted(set(OLD_FLAGS[prog]) - have)
    assert not missing, f"{prog} lost {missing}"


def test_generate_flags_land_in_the_same_fields_as_before(tmp_path):
    from generation.commands import _overrides
    from generation.run import GenerateConfig
    from semisynth.config import load_config

    args = build_parser().parse_args([
        "generate", "--input", "s.jsonl", "--text-field", "body", "--messages-field", "m", "--limit", "5",
        "--no-pii-mask", "--model", "mdl", "--max-tokens", "40", "--temperature", "0.3", "--out", "o", "--seed", "2",
        "--shard-size", "8", "--token-budget", "99", "--runner", "ray", "--ray-address", "auto", "--workers", "3",
        "--no-transfer", "--variants", "1", "--style", "clean"])
    cfg = load_config(GenerateConfig, None, _overrides(args))
    assert (cfg.input.path, cfg.input.text_field, cfg.input.messages_field, cfg.input.limit, cfg.input.mask_pii) == \
        ("s.jsonl", "body", "m", 5, False)
    assert (cfg.backend.kind, cfg.backend.model, cfg.sampling.max_tokens, cfg.sampling.temperature) == \
        ("vllm", "mdl", 40, 0.3)
    assert (cfg.out, cfg.seed, cfg.shard_size, cfg.token_budget) == ("o", 2, 8, 99)
    assert (cfg.runner.kind, cfg.runner.address, cfg.runner.workers, cfg.transfer.enabled) == ("ray", "auto", 3, False)
    assert [(g.kind, g.variants, g.style) for g in cfg.generators] == [("paraphrase", 1, "clean")]


def test_help_works_for_every_command(capsys):
    for prog in _leaf_parsers(build_parser()):
        assert main([*prog.split()[1:], "--help"]) == 0
        assert "usage:" in capsys.readouterr().out


def test_candidates_take_the_runner_flags_generate_has():
    args = build_parser().parse_args(["preference", "candidates", "--prompts", "p.jsonl", "--out", "o.jsonl",
                                      "--arm", "a=m", "--arm", "b=m@1.1", "--runner", "ray", "--ray-address", "auto",
                                      "--workers", "3", "--shard-size", "5"])
    cfg = args.config_flags.load(args, {"arms": [{"name": "a", "backend": {"model": "m"}},
                                                 {"name": "b", "backend": {"model": "m"}}]})
    assert (cfg.runner.kind, cfg.runner.address, cfg.runner.workers, cfg.shard_size) == ("ray", "auto", 3, 5)


def test_a_bad_flag_value_is_reported_under_the_flag_not_the_yaml(tmp_path):
    cfg_file = tmp_path / "toy.yaml"
    cfg_file.write_text("name: n\nratio: 0.2\n")
    parser, flags = _toy_parser(_Toy, aliases={"--depth": "section.depth"})
    with pytest.raises(UserError) as e:
        flags.load(parser.parse_args(["--config", str(cfg_file), "--depth", "0"]))
    assert e.value.where.startswith("--section-depth/--depth: field 'section.depth'")
    cfg_file.write_text("name: n\nratio: 7\n")  # the file's own mistake stays the file's
    with pytest.raises(UserError) as e:
        flags.load(parser.parse_args(["--config", str(cfg_file), "--depth", "2"]))
    assert e.value.where.startswith(f"{cfg_file}: field 'ratio'")
    cfg_file.write_text("name: n\nsection: deep\n")  # a flag into a section the YAML wrote as a scalar
    with pytest.raises(UserError) as e:
        flags.load(parser.parse_args(["--config", str(cfg_file), "--depth", "2"]))
    assert "not a mapping" in str(e.value)


def test_a_stage_whose_config_cannot_be_imported_leaves_the_other_commands_working(monkeypatch, capsys):
    """Registering imports a stage's config; an ImportError there marks that stage unavailable, as a
    failed entry point load does (fault injected at the entry point list)."""
    from semisynth import cli

    real = cli.entry_points

    class BrokenStage:
        name = "broken"

        def load(self):
            def register(sub):
                raise ImportError("cannot import name 'Nowhere'")
            return register

    monkeypatch.setattr(cli, "entry_points", lambda group: [*real(group=group), BrokenStage()])
    assert cli.main(["broken"]) == 2
    assert "could not be loaded (cannot import name 'Nowhere')" in capsys.readouterr().err
    assert cli.main(["model", "tiny", "--help"]) == 0


def test_every_command_with_a_runner_takes_the_same_runner_flags():
    from semisynth.flags import RUNNER_ALIASES

    with_runner = []
    for prog, parser in _leaf_parsers(build_parser()).items():
        flags: ConfigFlags = parser._defaults[FLAGS_DEFAULT]
        if "runner.kind" in flags.paths:
            with_runner.append(prog)
            for alias, path in RUNNER_ALIASES.items():
                assert alias in flags.paths[path], f"{prog}: {alias} missing"
    assert {"semisynth generate", "semisynth monitor", "semisynth preference candidates"} <= set(with_runner)
