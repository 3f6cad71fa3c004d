# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # semisynth quickstart: real seeds in, a monitored, carded dataset out
#
# Generate paraphrases of a few real seeds with a small packaged model, ask the monitor whether they keep the
# real data's irregularities, build a training mix, and read the dataset card that travels with each folder.
# Runs on a CPU in a few minutes. Open it in Jupyter with `jupytext --to ipynb examples/quickstart.py`, or run it
# as a script: `python examples/quickstart.py`.

# %%
import json
import os
from importlib.resources import files
from pathlib import Path

import datasets

import semisynth

MODEL = os.environ.get("SEMISYNTH_QUICKSTART_MODEL", "smollm2-135m-instruct")  # a packaged model name or a folder
OUT = Path(os.environ.get("SEMISYNTH_QUICKSTART_OUT", "runs/quickstart"))
N_SEEDS = int(os.environ.get("SEMISYNTH_QUICKSTART_SEEDS", "8"))

# %% [markdown]
# ## Seeds: real rows as a `datasets.Dataset`
# Any `Dataset` (or list of dicts) with a text column will do; here, a few of the bundled airline tweets, with
# their source and licence kept so the card can name them.

# %%
sample = files("semisynth") / "data" / "sample_conversations.jsonl"
rows = [json.loads(line) for line in sample.read_text(encoding="utf-8").splitlines() if line.strip()]
seeds = datasets.Dataset.from_list([{"text": r["text"], "source": r["source"], "license": r["license"]}
                                    for r in rows if r.get("text")][:N_SEEDS])
seeds  # noqa: B018 (a cell's last expression: Jupyter shows it)

# %% [markdown]
# ## Generate
# The config is the one `semisynth generate --config` reads (a dict here; `semisynth.GenerateConfig(...)` and
# `.to_yaml()` work too). Calling it again with the same config and seeds resumes the run.

# %%
config = {
    "input": {"keep_fields": ["source", "license"]},
    "backend": {"kind": "vllm", "model": MODEL},
    "generators": [{"kind": "paraphrase", "variants": 2, "style": "keep_irregularities"}],
    "sampling": {"max_tokens": 64, "temperature": 0.8},
    "seed": 0,
}
config.update(json.loads(os.environ.get("SEMISYNTH_QUICKSTART_CONFIG", "{}")))  # a test's overrides, if any
run = semisynth.generate(config, seeds=seeds, out=OUT / "generate")
counts = run.manifest["counts"]
print(f"{counts['outputs']} records, {counts['rejected']} rejected {counts['rejected_by_reason']}")
run.to_dataset()

# %%
for record in run.records[:3]:
    print(record.origin.value, "|", record.content, "| from seed", record.parents[0])

# %% [markdown]
# ## Monitor: does the synthetic part keep the real distribution?
# The real side is the run's own seeds (PII-masked as the model saw them). Written into `<run>/monitor`, the report
# is the one `semisynth mix` checks, and the run's card is rewritten to quote it. The last line shows the HTML report.

# %%
report = semisynth.monitor(run.dir / "seeds.jsonl", run, out=run.dir / "monitor", n_boot=100, n_perm=200,
                           cache_dir=None)
print("gates:", report.gates["status"], "| smoothing index:", report.verdicts["smoothing_index"],
      report.verdicts["smoothing_index_verdict"])
report  # noqa: B018 (shown as the monitor's HTML report)

# %% [markdown]
# ## Mix: real seeds and their paraphrases, half and half
# The mix refuses a synthetic source whose monitor gates did not pass; with 8 seeds most gates cannot be
# evaluated, so this quickstart forces it (recorded in the mix's manifest and card).

# %%
mix = semisynth.mix(sources=[{"path": run.dir / "seeds.jsonl", "kind": "real", "name": "seeds"},
                             {"path": run, "kind": "semi_synthetic", "name": "paraphrases",
                              "force": not report.passed}],
                    out=OUT / "mix", overwrite=True)
print(mix.manifest["size"], "records; real share", mix.manifest["realised_real_share"])

# %% [markdown]
# ## The dataset card
# Every run, mix and export folder has a README.md that the hub reads as its card, and `datasets` loads the
# folder as it is. `run.push_to_hub("you/quickstart")` uploads the records with it.

# %%
card = run.card
print(card.data.tags, card.data.size_categories, card.data.language_creators)
print(card.text[:600])
loaded = datasets.load_dataset(str(run.dir), split="train")
mixed = datasets.load_dataset(str(mix.dir), split="train")
print(f"run: {len(loaded)} rows, mix: {len(mixed)} rows")
