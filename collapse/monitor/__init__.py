"""The irregularity and collapse monitor (`semisynth monitor`); `pipeline.run_monitor` is the entry point.

Submodules import lazily-heavy libraries (torch, sklearn) only where used, so importing one of them, e.g.
`embeddings` inside a Ray worker, does not load the rest.
"""
