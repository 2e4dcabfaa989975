"""The positions of a scan's axis, checked once for every scan macro: finite, distinct ends
and at least two points."""

import numpy as np


def positions(name: str, start: float, end: float, n: int) -> np.ndarray:
    """n positions from start to end; ValueError naming `name` for what makes no axis."""
    if not (np.isfinite(start) and np.isfinite(end)) or n < 2 or end == start:
        raise ValueError(f"{name}: need finite, distinct start and end and n >= 2, got "
                         f"{start}, {end}, {n}")
    return np.linspace(start, end, n)
