"""Checked 3-vectors: positions, displacements and directions given by files and callers."""

import numpy as np


def finite_vector(value, name: str) -> np.ndarray:
    """`value` as a finite 3-vector of floats; ValueError naming it otherwise."""
    vector = np.asarray(value, dtype=float)
    if vector.shape != (3,) or not np.all(np.isfinite(vector)):
        raise ValueError(f"{name} must be a finite 3-vector, got {value!r}")
    return vector
