"""semisynth.collapse: three products over one core.

- `monitor/`: does the synthetic data keep the real distribution (irregularities, tails, diversity)?
- `experiments/`: iterative-collapse chains (replace / accumulate / mix) on model families with closed forms.
- `mix/`: the training-mix builder, which trusts a source only through its monitor report.
"""
