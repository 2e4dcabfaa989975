"""World-file sections: one pydantic model per simulated instrument, data-sheet values in SI."""
