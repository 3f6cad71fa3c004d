"""semisynth.collapse stage."""
