"""Jinja2 prompt templates (data). Loaded via importlib.resources."""
