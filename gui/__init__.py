"""Taurus panels and the operator GUI."""
