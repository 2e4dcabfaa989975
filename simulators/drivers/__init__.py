"""Simulated drivers, one per instrument, reading the shared world of their server process."""
