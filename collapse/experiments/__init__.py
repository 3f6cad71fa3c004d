"""Iterative-collapse experiments (`semisynth collapse run`); `chains.run_experiment` is the entry point."""
