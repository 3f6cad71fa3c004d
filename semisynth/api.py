"""The Python API: the CLI's commands as functions, over the same configs and the same stage functions.

    import semisynth
    run = semisynth.generate("generate.yaml", seeds=my_dataset, out="runs/a")   # or a dict, or a GenerateConfig
    run.records, run.rejects, run.manifest, run.to_dataset(), run.card, run.push_to_hub("me/paraphrases")
    report = semisynth.monitor(run.dir / "seeds.jsonl", run, out=run.dir / "monitor")   # shows as HTML in Jupyter
    mix = semisynth.mix({"sources": [...], "out": "mix"})

Why functions over the same configs: one implementation. `semisynth generate --config c.yaml --x y` and
`semisynth.generate("c.yaml", x=y)` build the same config (load_config: the YAML, then the overrides) and call the
same function (generation/run.py generate, collapse/monitor/commands.py monitor_paths, collapse/mix/builder.py
build_mix, the preference run_* functions), so a run made from a notebook resumes from the command line and the
reverse. A mistake is the same one-line UserError the CLI prints (the CLI adds only the exit code).

This module imports no stage at import time (`import semisynth` stays light); each function imports its stage.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from semisynth.errors import UserError
from semisynth.records import Record, Reject

C = TypeVar("C")
ConfigLike = Any  # a CommandConfig, a dict of its fields, or the path of a YAML file (None: from overrides alone)


def _flat(overrides: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"sampling": {"max_tokens": 16}, "seed__x": 1} -> {"sampling.max_tokens": 16, "seed.x": 1}: a dict sets the
    fields it names inside its section and leaves the others as the config had them."""
    out: dict[str, Any] = {}
    for k, v in overrides.items():
        key = prefix + str(k).replace("__", ".")
        if hasattr(v, "model_dump"):
            v = v.model_dump(mode="json", exclude_unset=True)
        v = _plain(v)  # a Path or a Run where the config holds a path
        if isinstance(v, Mapping) and v:
            out.update(_flat(v, key + "."))
        elif v is not None:
            out[key] = v
    return out


def build_config(cls: type[C], config: ConfigLike = None, **overrides: Any) -> C:
    """A command's config from a config object, a dict or a YAML path (as `--config` reads it), then keyword
    overrides (a dotted or `__`-joined name, or a dict, sets nested fields: `sampling__max_tokens=16`,
    `sampling={"max_tokens": 16}`); a mistake is the CLI's one-line UserError naming the field."""
    from semisynth.config import load_config

    flat = _flat(overrides)
    if isinstance(config, cls) and not flat:
        return config
    if config is None or isinstance(config, (str, os.PathLike)):
        # a bad value from a keyword is named as the keyword, not as the file it overrode
        return load_config(cls, config, flat, {k: f"keyword {k.replace('.', '__')}" for k in flat})  # type: ignore
    if isinstance(config, cls):
        data = config.model_dump(mode="json", exclude_unset=True)  # type: ignore[attr-defined]  (as written)
    elif isinstance(config, Mapping):
        import copy

        data = _plain(copy.deepcopy(dict(config)))
    else:
        raise UserError("config", f"is a {type(config).__name__}",
                        f"give a {cls.__name__}, a dict of its fields or the path of a YAML file")
    from pydantic import ValidationError

    from semisynth.config import _set_path, validation_error_to_user_error

    for k, v in flat.items():
        _set_path(data, k, v)
    try:
        return cls.model_validate(data)  # type: ignore[attr-defined]
    except ValidationError as e:
        raise validation_error_to_user_error(e, "config", cls) from None  # type: ignore[arg-type]


def _rows(seeds: Any) -> list[dict[str, Any]]:
    """Seeds as rows: a `datasets.Dataset`, a list of dicts or of Records."""
    if hasattr(seeds, "to_list") and hasattr(seeds, "column_names"):  # datasets.Dataset
        return list(seeds.to_list())
    if isinstance(seeds, (str, os.PathLike)):
        raise TypeError("a path is a config field: give it as input={'path': ...}")
    rows = []
    for i, s in enumerate(seeds):
        if isinstance(s, Record):
            rows.append(s.to_dict())
        elif isinstance(s, Mapping):
            rows.append(dict(s))
        else:
            raise UserError(f"seeds[{i}]", f"is a {type(s).__name__}, not a row",
                            "give a datasets.Dataset, a list of dicts ({'text': ...}) or of Records")
    if not rows:
        raise UserError("seeds", "no rows", "give at least one seed row")
    return rows


# -- generate ----------------------------------------------------------------------------------------------------
@dataclass
class Run:
    """A generate run directory: what `semisynth generate` wrote, read lazily."""

    dir: Path
    _records: list[Record] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.dir = Path(self.dir)

    @property
    def manifest(self) -> dict[str, Any]:
        import json

        return json.loads((self.dir / "manifest.json").read_text(encoding="utf-8"))

    @property
    def records(self) -> list[Record]:
        if self._records is None:
            from semisynth.io import read_records

            has = any((self.dir / "records").glob("*.jsonl")) and any(
                p.stat().st_size for p in (self.dir / "records").glob("*.jsonl"))
            self._records = read_records(self.dir) if has else []
        return self._records

    @property
    def rejects(self) -> list[Reject]:
        """Every rejected task (rejects/shard-*.jsonl) and input row (rejects/seeds.jsonl), with its reason."""
        import json

        out = []
        for p in sorted((self.dir / "rejects").glob("*.jsonl")):
            out += [Reject.from_dict(json.loads(line)) for line in p.read_text(encoding="utf-8").splitlines()
                    if line.strip()]
        return out

    @property
    def seeds(self) -> list[Record]:
        from semisynth.io import read_records

        return read_records(self.dir / "seeds.jsonl")

    def to_dataset(self) -> Any:
        """The records as a `datasets.Dataset`, loaded the way the card says (`load_dataset(run_dir)`)."""
        import datasets

        if not self.records:  # `datasets` cannot load a folder whose data files are all empty
            return datasets.Dataset.from_list([])
        return datasets.load_dataset(str(self.dir), split="train")

    @property
    def card(self) -> Any:
        from huggingface_hub import DatasetCard

        from semisynth.dataset_card import CARD

        return DatasetCard.load(self.dir / CARD)

    def write_card(self) -> Path:
        """Rewrite README.md from what the run holds now (e.g. after a monitor report or a review was added)."""
        from semisynth.dataset_card import write_card

        return write_card(self.dir)

    def push_to_hub(self, repo_id: str, token: str | None = None, private: bool | None = None) -> dict[str, Any]:
        from semisynth.dataset_card import push_to_hub

        return push_to_hub(self.dir, repo_id, token, private)

    def __repr__(self) -> str:
        try:
            c = self.manifest["counts"]
            return f"Run({str(self.dir)!r}: {c['outputs']} records, {c['rejected']} rejected)"
        except (OSError, ValueError, KeyError):
            return f"Run({str(self.dir)!r})"


def load_run(path: str | os.PathLike) -> Run:
    """An existing run directory as a Run."""
    p = Path(path)
    if not (p / "manifest.json").exists():
        raise UserError(str(p), "is not a finished semisynth run (no manifest.json)",
                        "give the folder `semisynth generate` wrote (rerun generate to resume it)")
    return Run(p)


def generate(config: ConfigLike = None, *, seeds: Any = None, progress: bool | None = False,
             push_to_hub: str | None = None, **overrides: Any) -> Run:
    """Run (or resume: same config, same out) a generation; the Run. `seeds`: rows (a `datasets.Dataset`, a list of
    dicts or Records) written into the run's input/ folder and read from there as any seed file (the config's
    `input:` mapping applies: text_field, messages_field, ...). The same seeds resume the run; other seeds are
    another run (refused in the same folder, as with the CLI)."""
    from semisynth.generation.run import SEEDS_INPUT, GenerateConfig
    from semisynth.generation.run import generate as run_generate

    if push_to_hub:
        from semisynth.dataset_card import check_repo_id

        check_repo_id(push_to_hub)  # before the run, not after it
    placeholder = {"input.path": "<seeds>"} if seeds is not None else {}  # replaced by the seeds' file below
    cfg = build_config(GenerateConfig, config, **placeholder, **overrides)
    out = Path(cfg.out)
    created, wrote = not out.exists(), None
    if seeds is not None:
        from semisynth.atomic import write_jsonl
        from semisynth.hashing import content_hash
        from semisynth.paths import check_output_dir

        check_output_dir(cfg.out, "out")
        rows = _rows(seeds)
        path = out / SEEDS_INPUT / f"seeds-{content_hash(rows, 12)}.jsonl"
        if not path.exists():
            write_jsonl(path, rows)
            wrote = path
        cfg = build_config(GenerateConfig, cfg, **{"input.path": str(path)})
    try:
        run_generate(cfg, progress=progress)
    except BaseException:
        if created and out.exists() and not any((out / "done").glob("*.json")):
            shutil.rmtree(out, ignore_errors=True)  # nothing partial: not even the seeds written for it
        elif wrote is not None:
            wrote.unlink(missing_ok=True)  # other seeds refused by an existing run: the run stays as it was
        raise
    run = Run(out)
    if push_to_hub:
        run.push_to_hub(push_to_hub)
    return run


# -- monitor -----------------------------------------------------------------------------------------------------
@dataclass
class Report:
    """A monitor report folder (report.json, report.html); shows as the monitor's HTML report in a notebook."""

    dir: Path
    report: dict[str, Any]

    @property
    def verdicts(self) -> dict[str, Any]:
        """The headline verdicts (report.json `verdict`): smoothing / exaggeration index, classifier tests ..."""
        return self.report["verdict"]

    @property
    def gates(self) -> dict[str, Any]:
        return self.report["gates"]

    @property
    def passed(self) -> bool:
        return bool(self.report["gates"]["passed"])

    @property
    def html_path(self) -> Path:
        return self.dir / "report.html"

    def _repr_html_(self) -> str:
        """The body of the monitor's own report.html (its style scoped to a div), so a notebook shows the
        same report the browser does."""
        try:
            page = self.html_path.read_text(encoding="utf-8")
        except OSError:
            return f"<pre>{html.escape(str(self))}</pre>"
        style = re.search(r"<style>(.*?)</style>", page, re.S)
        body = re.search(r"<body>(.*)</body>", page, re.S)
        def scoped(selector: str) -> str:  # the page's `body` rule styles the div that holds it
            selector = selector.strip()
            return ".semisynth-monitor" if selector == "body" else f".semisynth-monitor {selector}"

        css = re.sub(r"(^|})\s*([^{}]+){", lambda m: m.group(1) + ", ".join(
            scoped(s) for s in m.group(2).split(",")) + "{", style.group(1)) if style else ""
        return f"<div class='semisynth-monitor'><style>{css}</style>{body.group(1) if body else page}</div>"

    def __repr__(self) -> str:
        v = self.verdicts
        return (f"Report({str(self.dir)!r}: smoothing index {v.get('smoothing_index')} "
                f"{v.get('smoothing_index_verdict')}, gates {self.gates.get('status')})")


def _corpus_path(corpus: Any, side: str, out: Path) -> str:
    """A path the monitor reads (and its report names, for the mix to read again): a path as given, a Run's
    folder, or rows written to <out>/inputs/<side>.jsonl."""
    if isinstance(corpus, (str, os.PathLike)):
        return str(corpus)
    if isinstance(corpus, Run):
        return str(corpus.dir)
    from semisynth.atomic import write_jsonl

    path = out / "inputs" / f"{side}.jsonl"
    write_jsonl(path, _rows(corpus))
    return str(path)


def monitor(real: Any, synthetic: Any, out: str | os.PathLike | None = None, *, config: ConfigLike = None,
            real_embeddings: str | os.PathLike | None = None, synthetic_embeddings: str | os.PathLike | None = None,
            **cfg: Any) -> Report:
    """`semisynth monitor`: does the synthetic corpus keep the real distribution? `real` / `synthetic`: a path (run
    folder, JSONL, CSV, Parquet, datasets folder), a Run, or rows; `out` (default: a new temporary folder) gets
    report.json and report.html; `cfg`: MonitorConfig fields (`n_boot=100`, `html=False` ...). A generate run judged
    into <run>/monitor gets its card rewritten with the verdicts."""
    from semisynth.collapse.monitor.commands import monitor_paths
    from semisynth.collapse.monitor.config import MonitorConfig
    from semisynth.paths import check_output_dir

    mc = build_config(MonitorConfig, config, **cfg)
    out_dir = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="semisynth-monitor-"))
    check_output_dir(out_dir, "out")
    report = monitor_paths(_corpus_path(real, "real", out_dir), _corpus_path(synthetic, "synthetic", out_dir), mc,
                           out_dir, real_embeddings, synthetic_embeddings)
    return Report(out_dir, report)


# -- mix ---------------------------------------------------------------------------------------------------------
@dataclass
class Mix:
    """A mix folder (corpus/, rejects.jsonl, manifest.json, README.md)."""

    dir: Path

    @property
    def manifest(self) -> dict[str, Any]:
        import json

        return json.loads((self.dir / "manifest.json").read_text(encoding="utf-8"))

    @property
    def records(self) -> list[Record]:
        from semisynth.collapse.mix.corpus import load_mix

        return load_mix(self.dir / "corpus")

    def to_dataset(self) -> Any:
        import datasets

        return datasets.load_from_disk(str(self.dir / "corpus"))

    @property
    def card(self) -> Any:
        from huggingface_hub import DatasetCard

        return DatasetCard.load(self.dir / "README.md")

    def push_to_hub(self, repo_id: str, token: str | None = None, private: bool | None = None) -> dict[str, Any]:
        from semisynth.dataset_card import push_to_hub

        return push_to_hub(self.dir, repo_id, token, private)

    def __repr__(self) -> str:
        return f"Mix({str(self.dir)!r}: {self.manifest.get('size')} records)"


def mix(config: ConfigLike = None, *, push_to_hub: str | None = None, **overrides: Any) -> Mix:
    """`semisynth mix`: sources (runs, files) with their kind and share -> a training corpus with a card."""
    from semisynth.collapse.mix.builder import build_mix
    from semisynth.collapse.mix.config import MixConfig

    if push_to_hub:
        from semisynth.dataset_card import check_repo_id

        check_repo_id(push_to_hub)  # before the mix is built
    cfg = build_config(MixConfig, config, **overrides)
    build_mix(cfg)
    m = Mix(Path(cfg.out))
    if push_to_hub:
        m.push_to_hub(push_to_hub)
    return m


def _plain(v: Any) -> Any:
    """Runs and paths inside `sources=[...]` as the config spells them."""
    if isinstance(v, Run):
        return str(v.dir)
    if isinstance(v, os.PathLike):
        return str(v)
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items()}
    return v


# -- preference (Argilla) ------------------------------------------------------------------------------------------
def preference_candidates(config: ConfigLike = None, **overrides: Any) -> dict[str, Any]:
    """`semisynth preference candidates`: two or more arms answer the prompts -> preference items JSONL."""
    from semisynth.preference.candidates import run_candidates
    from semisynth.preference.configs import CandidatesConfig

    return run_candidates(build_config(CandidatesConfig, config, **overrides))


def preference_push(config: ConfigLike = None, **overrides: Any) -> dict[str, Any]:
    """`semisynth preference push`: create or update a curation dataset in Argilla (idempotent)."""
    from semisynth.preference.configs import PushConfig
    from semisynth.preference.push import run_push

    return run_push(build_config(PushConfig, config, **overrides))


def preference_report(config: ConfigLike = None, **overrides: Any) -> list[Path]:
    """`semisynth preference report`: agreement report (and review.json for a review dataset); the paths."""
    from semisynth.preference.configs import ReportConfig
    from semisynth.preference.pull import run_report

    return [Path(p) for p in run_report(build_config(ReportConfig, config, **overrides))]


def preference_escalate(config: ConfigLike = None, **overrides: Any) -> dict[str, Any]:
    """`semisynth preference escalate`: send escalated items to experts."""
    from semisynth.preference.configs import EscalateConfig
    from semisynth.preference.escalation import run_escalate

    return run_escalate(build_config(EscalateConfig, config, **overrides))


def preference_export(config: ConfigLike = None, **overrides: Any) -> dict[str, Any]:
    """`semisynth preference export`: consensus-only exports in TRL's formats, with a card."""
    from semisynth.preference.configs import ExportConfig
    from semisynth.preference.pull import run_export

    return run_export(build_config(ExportConfig, config, **overrides))


def load_config(cls: type[C], path: str | os.PathLike) -> C:
    """A config from YAML, as `--config` reads it (the inverse of `cfg.to_yaml(path)`)."""
    from semisynth.config import load_config as _load

    return _load(cls, path)  # type: ignore[type-var]


def write_card(folder: str | os.PathLike) -> Path:
    """(Re)write the dataset card (README.md) of a run, mix or export folder from what it holds now."""
    from semisynth.dataset_card import write_card as _write

    return _write(folder)


def as_rows(records: Iterable[Record]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in records]
