"""The nanomri command: bring the stack up and down, run macros on the Door."""
