"""`semisynth model ...`: build a tiny model for dry runs, prepare the packaged demo model."""
