"""Tango clients that macros, recorders and the command line share (needs Tango: not the core)."""
