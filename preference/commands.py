"""CLI: `semisynth argilla up|down|status` and
`semisynth preference candidates|raters|push|report|escalate|export`.

Only parsing here: each command's flags come from its config (preference/configs.py, YAML via --config,
flags override); the work is in the modules named for it (candidates, push, pull, escalation, raters,
stack). Secrets only from the environment (`$ARGILLA_API_KEY` or the name in argilla.api_key_env) or the
local stack's 0600 file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from semisynth.errors import UserError
from semisynth.flags import RUNNER_ALIASES, add_config_flags
from semisynth.preference.client import rerun_if_lost
from semisynth.preference.configs import (
    CandidatesConfig,
    EscalateConfig,
    ExportConfig,
    PushConfig,
    RatersConfig,
    ReportConfig,
    StackConfig,
)


def cmd_stack(args: argparse.Namespace) -> int:
    from semisynth.preference.stack import LocalStack, describe

    cfg = args.config_flags.load(args)
    stack = LocalStack(Path(cfg.state_dir), Path(cfg.server_python) if cfg.server_python else None)
    if args.action == "up":
        from semisynth.paths import check_output_dir

        check_output_dir(cfg.state_dir, "state_dir (--state-dir)")  # a file on the way was an OSError's line
        stack.up()
        print(describe(stack, cfg.show_secrets))
    elif args.action == "down":
        stopped = stack.down()
        print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
    else:
        print(describe(stack, cfg.show_secrets))
        return 0 if stack.healthy() else (3 if stack.stopped() else 1)
    return 0


def _arms_from_flags(specs: list[str] | None, max_tokens: int | None) -> list[dict] | None:
    """`--arm NAME=MODEL[@TEMPERATURE]`: the quick form; configs give every field."""
    if not specs:
        if max_tokens is not None:  # it would be ignored without a word
            raise UserError("--max-tokens", "applies to the arms given with --arm, and none is given",
                            "set max_tokens on each arm of --arms / the config's arms, or give the arms with --arm")
        return None
    arms = []
    for spec in specs:
        name, sep, rest = spec.partition("=")
        model, _, temp = rest.partition("@")
        if not sep or not name or not model:
            raise UserError(f"--arm {spec!r}", "expected NAME=MODEL[@TEMPERATURE]", "e.g. --arm cold=smollm2-135m-instruct@0.3")
        arm: dict[str, Any] = {"name": name, "backend": {"model": model}}
        if temp:  # otherwise ArmConfig's default
            try:
                arm["temperature"] = float(temp)
            except ValueError:
                raise UserError(f"--arm {spec!r}", f"temperature {temp!r} is not a number", "e.g. @0.7") from None
        if max_tokens is not None:  # 0 is refused by the arm's config, not dropped for the default
            arm["max_tokens"] = max_tokens
        arms.append(arm)
    return arms


def cmd_candidates(args: argparse.Namespace) -> int:
    from semisynth.preference.candidates import run_candidates

    cfg = args.config_flags.load(args, {"arms": _arms_from_flags(args.arm, args.max_tokens)})
    print(json.dumps(run_candidates(cfg)))
    return 0


@rerun_if_lost("pushing", "the batches already sent are skipped")
def cmd_push(args: argparse.Namespace) -> int:
    from semisynth.preference.push import run_push

    print(json.dumps(run_push(args.config_flags.load(args))))
    return 0


@rerun_if_lost("reading the answers", "it changes nothing in Argilla")
def cmd_report(args: argparse.Namespace) -> int:
    from semisynth.preference.pull import run_report

    paths = run_report(args.config_flags.load(args))
    print(f"wrote {', '.join(map(str, paths))}")
    for p in paths:
        if Path(p).name == "review.json":
            print(review_summary(json.loads(Path(p).read_text(encoding="utf-8"))))
    return 0


def review_summary(review: dict) -> str:
    """The reviewers' verdict on the terminal: acceptance overall and per generator with its interval, what is
    still undecided, and the commonest failure reason (the rest is in review.json and the report's HTML)."""
    def rate(a: dict) -> str:
        if a.get("rate") is None:
            return "nothing decided"
        return f"{a['rate']:.1%} [{a['ci_low']:.1%}, {a['ci_high']:.1%}] of {a['n']}"

    acc, items = review["acceptance"], review["items"]
    lines = [f"reviewed acceptance ({review['confidence']:.0%} interval): {rate(acc['overall'])}"]
    lines += [f"  {g}: {rate(a)}" for g, a in (acc.get("by_generator") or {}).items()]
    undecided = items["kept_sample"] - items["decided"]
    if undecided:
        lines.append(f"  undecided: {undecided} of {items['kept_sample']} sampled records"
                     + (f" ({items['awaiting_expert']} awaiting the expert)" if items.get("awaiting_expert") else ""))
    reasons = {k: v["n"] for k, v in (review.get("failure_reasons") or {}).items() if v.get("n")}
    if reasons:
        top = max(reasons, key=reasons.get)
        lines.append(f"  commonest failure: {top} ({reasons[top]} of {sum(reasons.values())} rejected)")
    return "\n".join(lines)


@rerun_if_lost("reading the answers", "it changes nothing in Argilla")
def cmd_export(args: argparse.Namespace) -> int:
    from semisynth.preference.pull import run_export

    print(json.dumps(run_export(args.config_flags.load(args))))
    return 0


@rerun_if_lost("escalating", "items already with an expert are not sent again")
def cmd_escalate(args: argparse.Namespace) -> int:
    from semisynth.preference.escalation import run_escalate

    print(json.dumps(run_escalate(args.config_flags.load(args))))
    return 0


def cmd_raters(args: argparse.Namespace) -> int:
    from semisynth.preference import raters

    cfg = args.config_flags.load(args)
    res = raters.run_raters(cfg)
    if cfg.action == "list":
        for r in res:
            queues = ", ".join(f"{d}: {q['completed']}/{q['records']} done" for d, q in r["datasets"].items())
            print(f"{r['rater']}  ({r['role']}, workspace {r['workspace']})  {queues or 'no datasets yet'}")
        return 0
    if cfg.print_credentials:  # the passwords were printed above; keep stdout a single human block
        print(f"workspaces: {', '.join(res['workspaces'].values())}")
    else:
        print(json.dumps(res))
    return 0


# Flag names users already type, beside the generated ones (`--argilla-url`, ...).
ARGILLA_ALIASES = {"--url": "argilla.url", "--state-dir": "argilla.state_dir"}


def register(subparsers: argparse._SubParsersAction) -> None:
    st = subparsers.add_parser("argilla", help="start/stop/inspect the local Argilla workspace")
    st.add_argument("action", choices=("up", "down", "status"))
    add_config_flags(st, StackConfig)
    st.set_defaults(func=cmd_stack)

    p = subparsers.add_parser("preference", help="human curation in Argilla: push, report, escalate, export")
    sub = p.add_subparsers(dest="preference_command", metavar="ACTION")
    sub.required = True

    cand = sub.add_parser("candidates", help="answer prompts with two or more arms -> preference items JSONL")
    add_config_flags(cand, CandidatesConfig, aliases=RUNNER_ALIASES)
    cand.add_argument("--arm", action="append", metavar="NAME=MODEL[@TEMP]",
                      help="an arm in short: repeat it, at least two (replaces `arms`)")
    cand.add_argument("--max-tokens", type=int, help="with --arm: max_tokens of every arm")
    cand.set_defaults(func=cmd_candidates)

    push = sub.add_parser("push", help="create/update a curation dataset (idempotent)")
    add_config_flags(push, PushConfig, aliases={**ARGILLA_ALIASES, "-k": "k"})
    push.set_defaults(func=cmd_push)

    rat = sub.add_parser("raters", help="create raters (credentials handed over once), list them, reset passwords")
    add_config_flags(rat, RatersConfig, aliases=ARGILLA_ALIASES, positional=("action", "names"))
    rat.set_defaults(func=cmd_raters)

    rep = sub.add_parser("report", help="agreement report (JSON + HTML)")
    add_config_flags(rep, ReportConfig, aliases=ARGILLA_ALIASES)
    rep.set_defaults(func=cmd_report)

    esc = sub.add_parser("escalate", help="send escalated items to experts")
    add_config_flags(esc, EscalateConfig, aliases=ARGILLA_ALIASES)
    esc.set_defaults(func=cmd_escalate)

    ex = sub.add_parser("export", help="consensus-only exports for TRL")
    add_config_flags(ex, ExportConfig, aliases=ARGILLA_ALIASES)
    ex.set_defaults(func=cmd_export)
