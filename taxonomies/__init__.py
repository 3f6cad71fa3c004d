"""Versioned taxonomies (YAML data): moderation labels, intents. Loaded via importlib.resources."""
