"""semisynth: fine-tuning data anchored to real conversations, measured, and checked by humans.

The core package holds what every stage shares: the record contract, config loading, seed I/O,
runners and the CLI. Stages (semisynth.generation, .collapse, .preference) depend on the core;
the core never imports a stage.
"""

from semisynth.records import Lineage, Message, Origin, Record

__all__ = ["Lineage", "Message", "Origin", "Record"]
__version__ = "0.1.0"
