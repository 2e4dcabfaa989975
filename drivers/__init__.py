"""Drivers of real instruments: SCPI and serial command sets over pyvisa."""
