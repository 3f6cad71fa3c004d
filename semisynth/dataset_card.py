"""Dataset cards: a README.md with the hub's YAML front matter in every generate run, mix and export folder.

Why: data is handed on through the Hugging Face hub, and a reader there sees the card first. semisynth is the one
tool that knows the seeds, the model, the rejects, the monitor's verdicts and the humans' acceptance, so the card
says them, and says what is *there*: it is rebuilt from the folder's own files (manifest, report.json, review.json,
the data files) whenever the folder changes (a resumed or extended run, a monitor run on it), never from memory.

The front matter is `huggingface_hub.DatasetCardData`: tags [synthetic, ...], language_creators [found,
machine-generated], source_datasets, size_categories, licence when the seeds carry one, and a `configs:` block whose
data_files name the data and only the data, so `datasets.load_dataset(folder)` loads the records (not the rejects,
seeds or manifests) and the hub's viewer shows the same rows.

The core imports no stage: what the card needs from a monitor report or a review is read as JSON. Whether a report
is about the records there now is checked on the record ids (n and the ids digest of the monitor's fingerprint,
collapse/monitor/fingerprint.py `records_fingerprint`), which a resumed or extended run changes.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from semisynth.atomic import atomic_open
from semisynth.errors import UserError
from semisynth.hashing import content_hash, ids_digest
from semisynth.pii import PLACEHOLDERS

CARD = "README.md"
# What the hub's size_categories accepts, with each category's exclusive upper bound.
_SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
          (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B"))
# Licence names the sample's and common seed corpora carry -> the hub's identifiers.
_LICENSES = {"mit": "mit", "bsd-3-clause": "bsd-3-clause", "bsd-2-clause": "bsd-2-clause", "apache-2.0": "apache-2.0",
             "cc-by-4.0": "cc-by-4.0", "cc-by-sa-4.0": "cc-by-sa-4.0", "cc0-1.0": "cc0-1.0", "cc-by-nc-4.0": "cc-by-nc-4.0",
             "odc-by": "odc-by", "gpl-3.0": "gpl-3.0", "unknown": "unknown", "other": "other"}


def size_category(n: int) -> str:
    for bound, name in _SIZES:
        if n < bound:
            return name
    return "n>1T" if n >= 1_000_000_000_000 else "1B<n<10B"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _jsonl(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    for p in paths:
        with open(p, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)


def _hub_license(name: Any) -> str | None:
    return _LICENSES.get(str(name).strip().lower()) if name else None


def _table(rows: Mapping[str, Any], head: tuple[str, str]) -> str:
    if not rows:
        return "_none_\n"
    lines = [f"| {head[0]} | {head[1]} |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows.items()]
    return "\n".join(lines) + "\n"


def _r3(x: Any) -> str:
    return "n/a" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)


def jsonl_features(paths: Iterable[Path]) -> list[dict[str, Any]] | None:
    """The `datasets` features of JSONL records as the card declares them (`dataset_info.features`): the union of
    every file's schema. Records leave out empty lineage fields, so two shards can differ (one has lineage.attempt,
    one has not) and `load_dataset` would refuse to cast one to the other; declared, each file is cast to the
    union, a field it lacks read as null. None when there is nothing to read or the schema has no `datasets` form."""
    import pyarrow as pa
    import pyarrow.json as pj

    schemas = [pj.read_json(p).schema for p in paths if p.stat().st_size > 0]
    if not schemas:
        return None
    try:
        import datasets

        schema = pa.unify_schemas(schemas, promote_options="permissive")
        return datasets.Features.from_arrow_schema(schema)._to_yaml_list()
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):  # e.g. a text that is a number in one file
        return None


# -- what a monitor report and a review say, when they are about the records there ------------------------------
def monitor_summary(report_path: Path, ids: list[str], shown: str | None = None) -> dict[str, Any] | None:
    """The headline of a monitor report.json, with `current`: whether it judged exactly these record ids."""
    report = _read_json(report_path)
    if not isinstance(report, dict) or not isinstance(report.get("verdict"), dict):
        return None
    v, gates = report["verdict"], report.get("gates") or {}
    syn = (report.get("fingerprint") or {}).get("synthetic") or {}
    current = syn.get("n") == len(ids) and syn.get("ids") == ids_digest(ids)
    return {"path": shown or str(report_path), "current": current, "n_real": report.get("n_real"),
            "n_synthetic": report.get("n_synthetic"),
            "smoothing_index": v.get("smoothing_index"), "smoothing_index_ci": v.get("smoothing_index_ci"),
            "smoothing_index_verdict": v.get("smoothing_index_verdict"),
            "exaggeration_index": v.get("exaggeration_index"),
            "exaggeration_index_verdict": v.get("exaggeration_index_verdict"),
            "classifier_two_sample": {k: {"auc": c.get("auc"), "verdict": c.get("verdict")}
                                      for k, c in (v.get("classifier_two_sample") or {}).items()},
            "smoothed_features": v.get("smoothed_features") or [],
            "gates": gates.get("status"), "gates_failed": [g.get("figure") for g in gates.get("failed") or []],
            "synthetic_records": syn.get("records")}


def review_summary(review_path: Path, monitor: dict[str, Any] | None, shown: str | None = None
                   ) -> dict[str, Any] | None:
    """The human review's acceptance (review.json of `semisynth preference report`), `current` when it reviewed
    the population of a current monitor report."""
    review = _read_json(review_path)
    if not isinstance(review, dict) or not isinstance((review.get("acceptance") or {}).get("overall"), dict):
        return None
    population = ((review.get("fingerprint") or {}).get("population") or {}).get("records")
    current = bool(monitor and monitor["current"] and population and population == monitor["synthetic_records"])
    acc = review["acceptance"]
    return {"path": shown or str(review_path), "current": current, "dataset": review.get("dataset"),
            "raters": len(review.get("raters") or []), "overall": acc["overall"],
            "by_generator": acc.get("by_generator") or {}, "estimator": (review.get("method") or {}).get("estimator")}


def _monitor_section(monitor: dict[str, Any] | None, review: dict[str, Any] | None) -> str:
    out = ["## Monitor and human review\n"]
    if monitor is None:
        out.append("No monitor report yet (`semisynth monitor --synthetic <this folder> --out <this folder>/monitor`"
                   " writes one, and this card is rewritten with its verdicts).\n")
    elif not monitor["current"]:
        out.append(f"The monitor report at `{monitor['path']}` judged other records ({monitor['n_synthetic']} "
                   "synthetic) than this folder holds now (the run was resumed or extended after it): its verdicts "
                   "are not quoted here. Run the monitor again.\n")
    else:
        ci = monitor["smoothing_index_ci"] or [None, None]
        lines = [f"- smoothing index {_r3(monitor['smoothing_index'])} [{_r3(ci[0])}, {_r3(ci[1])}]: "
                 f"{monitor['smoothing_index_verdict']}",
                 f"- exaggeration index {_r3(monitor['exaggeration_index'])}: {monitor['exaggeration_index_verdict']}"]
        lines += [f"- classifier two-sample test ({k}): AUC {_r3(c['auc'])}, {c['verdict']}"
                  for k, c in monitor["classifier_two_sample"].items()]
        lines.append(f"- smoothed features: {', '.join(monitor['smoothed_features']) or 'none'}")
        lines.append(f"- gates: {monitor['gates']}" + (f" (failed: {', '.join(monitor['gates_failed'])})"
                                                       if monitor["gates_failed"] else ""))
        out.append(f"From `{monitor['path']}` ({monitor['n_real']} real vs {monitor['n_synthetic']} synthetic "
                   "records):\n\n" + "\n".join(lines) + "\n")
    if review is not None:
        o = review["overall"]
        if review["current"]:
            out.append(f"\nHuman review ({review['raters']} raters, dataset {review['dataset']}): accepted as "
                       f"generated {_r3(o.get('rate'))} [{_r3(o.get('ci_low'))}, {_r3(o.get('ci_high'))}] of "
                       f"{o.get('n')} decided records ({review['estimator']}).\n")
        else:
            out.append(f"\nA human review (`{review['path']}`) exists but reviewed a sample of other records: "
                       "not quoted.\n")
    return "\n".join(out)


def _privacy_section(pii: Mapping[str, Any] | None, seeds_real: bool = True) -> str:
    lines = ["## Privacy\n"]
    if seeds_real:
        lines.append("The seeds are real user text (conversations, posts, messages written by people): the records "
                     "paraphrase or extend them, and keep their irregularities on purpose. Read them before "
                     "publishing.")
    if pii is None:
        lines.append("\nWhat was masked is not recorded for this folder.")
    elif pii.get("enabled"):
        counts = pii.get("counts") or {}
        masked = ", ".join(f"{p[1:-1].lower()}s as `{p}` ({counts.get(p[1:-1], 0)})" for p in sorted(PLACEHOLDERS))
        lines.append(f"\nBefore any prompt, the seeds were PII-masked (semisynth.pii): {masked}. Names, addresses "
                     "and other identifiers in free text are NOT masked.")
    else:
        lines.append("\nPII masking was turned OFF for this run (`input.mask_pii: false`): seeds went to the model "
                     "as written, and records may repeat e-mails, phone numbers, handles or URLs from them.")
    return "\n".join(lines) + "\n"


# -- the three kinds of folder -----------------------------------------------------------------------------------
def _card_data(*, n: int, languages: Iterable[str], licenses: Iterable[str], source_datasets: list[str],
               tags: list[str], configs: list[dict[str, Any]], pretty_name: str,
               annotations: list[str], folder: Path, rows: Mapping[str, int],
               features: Mapping[str, list[dict[str, Any]] | None] | None = None) -> Any:
    from huggingface_hub import DatasetCardData

    langs = sorted({lang for lang in languages if lang and lang != "und"})
    lic = sorted({x for x in (_hub_license(v) for v in licenses) if x})
    return DatasetCardData(
        pretty_name=pretty_name, language=langs or None, license=lic or None,
        annotations_creators=annotations, language_creators=["found", "machine-generated"],
        multilinguality="multilingual" if len(langs) > 1 else "monolingual",
        size_categories=[size_category(n)], source_datasets=source_datasets or ["original"],
        task_categories=["text-generation"], tags=sorted({"synthetic", "semisynth", *tags}), configs=configs,
        dataset_info=_dataset_info(folder, configs, rows, features or {}))


def _dataset_info(folder: Path, configs: list[dict[str, Any]], rows: Mapping[str, int],
                  features: Mapping[str, list[dict[str, Any]] | None]) -> Any:
    """`dataset_info` per config: the features when declared, the rows (datasets checks them on load) and the data
    files' bytes. Why the counts: `datasets` caches a local folder under a hash of its card's configs and
    dataset_info, not of the files, so a run resumed or extended (or another folder of the same name) would load
    the rows cached before; counts and bytes that change with the data give it a new cache entry."""
    infos = []
    for c in configs:
        name = c["config_name"]
        size = sum(f.stat().st_size for df in c["data_files"] for f in folder.glob(df["path"]) if f.is_file())
        info: dict[str, Any] = {"config_name": name}
        if features.get(name):
            info["features"] = features[name]
        info.update(splits=[{"name": "train", "num_bytes": size, "num_examples": int(rows.get(name, 0))}],
                    download_size=size)
        infos.append(info)
    return infos[0] if len(infos) == 1 else infos


def _render(data: Any, title: str, body: list[str]) -> str:
    return f"---\n{data.to_yaml()}\n---\n\n# {title}\n\n" + "\n".join(body)


def _seed_sources(seeds: Iterable[Mapping[str, Any]], fallback: str) -> tuple[Counter, Counter]:
    """(sources, licences) the seeds carry in meta (a `source`/`license` column kept with keep_fields)."""
    sources: Counter = Counter()
    licenses: Counter = Counter()
    for s in seeds:
        meta = s.get("meta") or {}
        src = meta.get("source")
        # a plain row's meta.source is the file:line it was read from: the corpus is the file
        sources[Path(str(src).rsplit(":", 1)[0]).name if src and ":" in str(src) and str(src).rsplit(":", 1)[1].isdigit()
                else str(src or fallback)] += 1
        licenses[str(meta.get("license") or "unknown")] += 1
    return sources, licenses


def _model_name(model: Any) -> str:
    """A packaged name or hub id as it is; a local model folder by its name (its place on this disk is not news)."""
    return f"{Path(model).name} (a local model folder)" if isinstance(model, str) and os.path.isabs(model) else str(model)


def run_card(run: Path, name: str | None = None) -> str:
    """The card of a `semisynth generate` run directory (manifest.json, seeds.jsonl, records/, rejects/)."""
    manifest = _read_json(run / "manifest.json")
    if not isinstance(manifest, dict):
        raise UserError(str(run), "has no readable manifest.json (not a finished semisynth run)",
                        "run `semisynth generate` into it (rerun to resume)")
    cfg = manifest.get("config") or {}
    shards = sorted((run / "records").glob("shard-*.jsonl"))
    ids: list[str] = []
    languages: Counter = Counter()
    for r in _jsonl(shards):  # streamed: a card of a 10M-record run holds its ids, not its records
        ids.append(r["id"])
        languages[r.get("language") or "und"] += 1
    seeds = _jsonl([run / "seeds.jsonl"]) if (run / "seeds.jsonl").exists() else iter(())
    c = manifest.get("counts") or {}
    input_path = str((cfg.get("input") or {}).get("path", ""))
    sources, licenses = _seed_sources(seeds, Path(input_path).name or "seeds")
    # paths inside the folder as the folder names them: a card travels, the folder's place on this disk does not
    monitor = monitor_summary(run / "monitor" / "report.json", ids, shown="monitor/report.json")
    review = review_summary(run / "monitor" / "review.json", monitor, shown="monitor/review.json")
    generators = [f"{g.get('kind')} x{g.get('variants', 1)}" + (f" ({g['style']})" if g.get("style") else "") +
                  (f" (taxonomy {g['taxonomy']})" if g.get("taxonomy") else "") for g in cfg.get("generators") or []]
    digest = content_hash({k: v for k, v in cfg.items() if k not in ("out", "runner")}, 64)
    data = _card_data(n=len(ids), languages=languages, licenses=licenses, source_datasets=sorted(sources),
                      tags=["semi-synthetic", "paraphrase"], pretty_name=f"semisynth run {manifest.get('run_id')}",
                      annotations=["machine-generated"], folder=run, rows={"default": len(ids)},
                      features={"default": jsonl_features(shards)},
                      configs=[{"config_name": "default", "data_files": [{"split": "train",
                                                                          "path": "records/shard-*.jsonl"}]}])
    by_origin = c.get("outputs_by_origin") or {}
    body = [
        "Semi-synthetic records made by semisynth `generate` from real seeds: "
        f"**{len(ids)} records** ({', '.join(f'{k}: {v}' for k, v in sorted(by_origin.items())) or 'none'}), "
        f"status: {manifest.get('status')}. Load them with `datasets.load_dataset(\"<this folder>\")` or "
        "`semisynth.load_run(...)`; each row is a semisynth Record (id, origin, text or messages, parents: the "
        "seed ids in seeds.jsonl, language, lineage: generator, template, model, sampling, seed, meta).\n",
        "## What made it\n",
        f"- model: `{_model_name(manifest.get('model'))}`" + (f" (engine: `{json.dumps(manifest['engine'], sort_keys=True)}`)"
                                                 if manifest.get("engine") else ""),
        f"- generators: {', '.join(generators) or 'n/a'}",
        f"- templates: {', '.join(f'{k} ({v})' for k, v in (manifest.get('templates') or {}).items()) or 'n/a'}",
        f"- config digest: `{digest}` (sha256 of the config without where it was written); run id "
        f"`{manifest.get('run_id')}`, seed {cfg.get('seed')}",
        f"- seeds: {c.get('seeds')} of {c.get('input_rows')} input rows of `{Path(input_path).name}`; sources: "
        f"{', '.join(f'{k} ({v})' for k, v in sources.most_common()) or 'n/a'}; licences: "
        f"{', '.join(f'{k} ({v})' for k, v in licenses.most_common()) or 'unknown'}",
        f"- versions: {', '.join(f'{k} {v}' for k, v in (manifest.get('versions') or {}).items())}\n",
        "## Counts\n",
        _table({"input rows": c.get("input_rows"), "seeds": c.get("seeds"), "tasks": c.get("tasks"),
                "records": c.get("outputs"), "rejected": c.get("rejected"),
                "seed rows rejected": sum((c.get("seed_rejects") or {}).values())}, ("", "n")),
        "Rejected tasks by reason (each is in rejects/ with its reason, none dropped silently):\n",
        _table(dict(sorted((c.get("rejected_by_reason") or {}).items())), ("reason", "n")),
        "Languages of the records:\n",
        _table(dict(languages.most_common()), ("language", "records")),
        _monitor_section(monitor, review),
        _privacy_section(manifest.get("pii_masked")),
    ]
    return _render(data, f"semisynth run {manifest.get('run_id')}", body)


def mix_card(mix: Path, name: str | None = None) -> str:
    """The card of a `semisynth mix` folder (corpus/, rejects.jsonl, manifest.json)."""
    manifest = _read_json(mix / "manifest.json")
    if not isinstance(manifest, dict) or "sources" not in manifest:
        raise UserError(str(mix), "has no readable mix manifest.json", "build the mix with `semisynth mix`")
    import pyarrow as pa

    langs: Counter = Counter()
    licenses: Counter = Counter()
    for f in sorted((mix / "corpus").glob("*.arrow")):
        with pa.memory_map(str(f)) as src:
            table = pa.ipc.open_stream(src).read_all()
        langs.update(table.column("language").to_pylist())
        for m in table.column("meta_json").to_pylist():
            licenses[str((json.loads(m) if m else {}).get("license") or "unknown")] += 1
    rows = {s["name"]: f"{s['kind']}, {s['selected']} of {s['inputs']} records, share {_r3(s['realised_share'])} "
                       f"(target {_r3(s['target_share'])}), gates: " +
                       ("real, not gated" if s["kind"] == "real" else
                        (f"forced past: {(s.get('gates') or {}).get('forced')}" if (s.get("gates") or {}).get("forced")
                         else "passed"))
            for s in manifest["sources"]}
    for s in manifest["sources"]:  # the monitor report and human review each source was let in on (mix/trust.py,
        gate = s.get("gates") or {}  # mix/review_gate.py): quoted when the mix found it judged these very records
        report = _read_json(Path(gate["report"])) if gate.get("report") and gate.get("fingerprint_match") else None
        v = (report or {}).get("verdict") if isinstance(report, dict) else None
        if isinstance(v, dict):
            rows[s["name"]] += (f"; monitor: smoothing index {_r3(v.get('smoothing_index'))} "
                                f"{v.get('smoothing_index_verdict')}, gates {gate.get('status')}")
        review = gate.get("review") or {}
        acc = review.get("acceptance_overall") or {}
        if review.get("checked") and acc.get("rate") is not None:
            rows[s["name"]] += (f"; human review: accepted as generated {_r3(acc['rate'])} [{_r3(acc.get('ci_low'))}, "
                                f"{_r3(acc.get('ci_high'))}] of {acc.get('n')}, rejected left out "
                                f"{review.get('rejected_left_out', 0)}, edited entered {review.get('edited_entered', 0)}")
    data = _card_data(n=manifest["size"], languages=langs, licenses=licenses,
                      source_datasets=[s["name"] for s in manifest["sources"]], tags=["training-mix"],
                      pretty_name=f"semisynth mix {name or mix.name}", annotations=["machine-generated"],
                      folder=mix, rows={"default": manifest["size"]},
                      configs=[{"config_name": "default", "data_files": [{"split": "train",
                                                                          "path": "corpus/*.arrow"}]}])
    body = [f"A fine-tuning mix built by semisynth `mix`: **{manifest['size']} records**, real share "
            f"{_r3(manifest['realised_real_share'])} (floor {manifest['real_floor']}); by origin: "
            f"{', '.join(f'{k} {_r3(v)}' for k, v in manifest['realised_shares_by_origin'].items())}. Each row keeps "
            "its record's lineage (lineage, parents, meta_json) and the source it came from (mix_source).\n",
            "## Sources\n", _table(rows, ("source", "what")),
            "Records left out, by reason (each in rejects.jsonl):\n",
            _table(manifest.get("rejects_by_reason") or {}, ("reason", "n")),
            "Languages:\n", _table(dict(langs.most_common()), ("language", "records")),
            *([f"Notes: {'; '.join(manifest['notes'])}\n"] if manifest.get("notes") else []),
            _privacy_section(None)]
    return _render(data, f"semisynth mix {name or mix.name}", body)


def export_card(export: Path, name: str | None = None) -> str:
    """The card of a `semisynth preference export` folder (one manifest_<format>.json per format written)."""
    manifests = {p.stem.removeprefix("manifest_"): _read_json(p) for p in sorted(export.glob("manifest_*.json"))}
    manifests = {k: v for k, v in manifests.items() if isinstance(v, dict)}
    if not manifests:
        raise UserError(str(export), "has no manifest_<format>.json", "write it with `semisynth preference export`")
    configs, langs, licenses = [], Counter(), Counter()
    for fmt in manifests:
        path = "reviewed.jsonl" if fmt == "review" else f"{fmt}/*.arrow"
        configs.append({"config_name": fmt, "data_files": [{"split": "train", "path": path}]})
        if fmt == "review" and (export / "reviewed.jsonl").exists():
            for r in _jsonl([export / "reviewed.jsonl"]):
                langs[r.get("language") or "und"] += 1
                licenses[str((r.get("meta") or {}).get("license") or "unknown")] += 1
    configs[0]["default"] = True
    n = sum(m.get("rows", 0) for m in manifests.values())
    data = _card_data(n=n, languages=langs, licenses=licenses, source_datasets=["original"],
                      tags=["human-feedback", *(["preference", "dpo"] if set(manifests) - {"review", "moderation"}
                                                else [])],
                      pretty_name=f"semisynth export {name or export.name}", annotations=["expert-generated", "crowdsourced"],
                      folder=export, rows={fmt: m.get("rows", 0) for fmt, m in manifests.items()}, configs=configs,
                      # reviewed records are Records (meta and lineage keys vary from record to record): declared
                      features={"review": jsonl_features([export / "reviewed.jsonl"])}
                      if (export / "reviewed.jsonl").exists() else None)
    rows = {fmt: f"{m.get('rows')} rows from {m.get('items_exported')} of {m.get('items_total')} items; excluded: "
                 f"{', '.join(f'{k} {v}' for k, v in sorted((m.get('excluded') or {}).items())) or 'none'}"
            for fmt, m in manifests.items()}
    body = ["Human-curated data exported by semisynth `preference export` from Argilla: only items the raters (or "
            "an expert) decided; ties, both-bad, unresolved and still-escalated items are excluded and counted. "
            f"Formats (one `datasets` config each; `{configs[0]['config_name']}` is the default):\n",
            _table(rows, ("format", "rows")),
            *(["Languages:\n", _table(dict(langs.most_common()), ("language", "records"))] if langs else []),
            _privacy_section(None)]
    return _render(data, f"semisynth export {name or export.name}", body)


def folder_kind(folder: Path) -> str:
    if (folder / "run.json").exists() and (folder / "manifest.json").exists():
        return "run"
    if (folder / "corpus").is_dir() and (folder / "manifest.json").exists():
        return "mix"
    if any(folder.glob("manifest_*.json")):
        return "export"
    raise UserError(str(folder), "is not a semisynth run, mix or export folder",
                    "give the folder `semisynth generate`, `mix` or `preference export` wrote")


def card_text(folder: str | os.PathLike, name: str | None = None) -> str:
    """The card of a run, mix or export folder as it is now; `name`: the folder's name when it is built under a
    temporary one (a mix is renamed into place)."""
    folder = Path(folder)
    return {"run": run_card, "mix": mix_card, "export": export_card}[folder_kind(folder)](folder, name)


def write_card(folder: str | os.PathLike, name: str | None = None) -> Path:
    """(Re)write <folder>/README.md from what the folder holds now; atomic."""
    folder = Path(folder)
    text = card_text(folder, name)
    with atomic_open(folder / CARD) as f:
        f.write(text)
    return folder / CARD


# -- the hub ---------------------------------------------------------------------------------------------------
def hub_api(token: str | None = None) -> Any:
    """The one seam to the hub: tests replace it to record what would be uploaded (no network in tests)."""
    from huggingface_hub import HfApi

    return HfApi(token=token)


def data_files(folder: Path) -> list[str]:
    """The paths (relative to the folder) the card's configs name: what `load_dataset` and the hub load."""
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(folder / CARD)
    out: list[str] = []
    for c in card.data.configs or []:
        for df in c.get("data_files") or []:
            out += sorted(str(p.relative_to(folder)) for p in folder.glob(df["path"]))
    return out


_REPO_ID = re.compile(r"(?:[A-Za-z0-9][\w.-]{0,95}/)?[A-Za-z0-9][\w.-]{0,95}")


def check_repo_id(repo_id: str) -> None:
    """A hub repo id (NAME or OWNER/NAME), checked before any work so a typo does not cost a run."""
    if not isinstance(repo_id, str) or not _REPO_ID.fullmatch(repo_id) or ".." in repo_id or \
            repo_id.endswith((".git", ".")):
        raise UserError(f"--push-to-hub {repo_id!r}", "is not a hub repo id",
                        "use NAME or OWNER/NAME (letters, digits, '-', '_', '.'), e.g. my-org/support-paraphrases")


def push_to_hub(folder: str | os.PathLike, repo_id: str, token: str | None = None, private: bool | None = None,
                ) -> dict[str, Any]:
    """Upload the folder's data files and its card, rewritten first, in one commit to a dataset repo."""
    folder = Path(folder)
    check_repo_id(repo_id)
    write_card(folder)
    files = [CARD, *data_files(folder)]
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    api = hub_api(token)
    try:
        url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        commit = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="dataset",
                                   allow_patterns=files,
                                   commit_message=f"semisynth: {folder_kind(folder)} {folder.name} with its card")
    except OfflineModeIsEnabled:
        raise UserError(f"push to hub repo {repo_id}", "HF_HUB_OFFLINE is set, so nothing can be uploaded",
                        f"unset HF_HUB_OFFLINE and push again ({folder} is complete)") from None
    except (HfHubHTTPError, OSError, ValueError) as e:  # 401/403/404, no network, the hub refusing the card's YAML
        raise UserError(f"push to hub repo {repo_id}", f"the upload failed ({' '.join(str(e).split())[:200]})",
                        "check the token (HF_TOKEN or `hf auth login`), that it may write to the repo, and the "
                        f"network; {folder} is complete, push it again") from None
    return {"repo_id": repo_id, "files": files, "repo_url": str(url), "commit": str(getattr(commit, "oid", commit))}
