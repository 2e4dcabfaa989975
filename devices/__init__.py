"""Tango device classes, one per instrument; each picks its driver through the registry."""
