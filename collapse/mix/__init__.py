"""The training-mix builder (`semisynth mix`); `builder.build_mix` is the entry point."""
