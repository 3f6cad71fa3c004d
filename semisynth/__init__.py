"""semisynth: fine-tuning data anchored to real conversations, measured, and checked by humans.

The core package holds what every stage shares: the record contract, config loading, seed I/O,
runners and the CLI. Stages (semisynth.generation, .collapse, .preference) depend on the core;
the core never imports a stage.

The Python API (semisynth/api.py: `semisynth.generate`, `.monitor`, `.mix`, the preference steps) is loaded on
first use (module `__getattr__`), so `import semisynth` imports no stage, no engine and no `datasets`.
"""

from semisynth.records import Lineage, Message, Origin, Record

# name -> module that defines it, imported when the name is first used
_LAZY = {
    **{name: "semisynth.api" for name in (
        "generate", "monitor", "mix", "Run", "Report", "Mix", "load_run", "load_config", "build_config",
        "write_card", "preference_candidates", "preference_push", "preference_report", "preference_escalate",
        "preference_export")},
    "GenerateConfig": "semisynth.generation.run",
    "MonitorConfig": "semisynth.collapse.monitor.config",
    "MixConfig": "semisynth.collapse.mix.config",
}

__all__ = ["Lineage", "Message", "Origin", "Record", *_LAZY]
__version__ = "0.1.0"


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'semisynth' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later uses skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
