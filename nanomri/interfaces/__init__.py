"""Driver interfaces: one Protocol and one constraints dataclass per instrument (Qudi-style)."""
