"""semisynth.preference stage."""
