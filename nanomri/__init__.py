"""nanomri core library: physics, pulse sequences, analysis and data files (no Tango)."""

__version__ = "0.1.0"
