"""semisynth.generation stage."""
