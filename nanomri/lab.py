"""What an experimenter knows of a set-up, and only that: the measurement side of the demos and
tests gets a `Lab`, never the world.

A world file describes everything, the answers included: where the NV centres, the surface and
the spins are. A lab knows its instruments (data sheets, travel, where the scan head starts),
the crystal's cut (the NV axis) and its tip's calibration, measured beforehand on a reference.
Everything else it finds by measurement; the world is opened again only to print the truth
next to the result.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .magnetic_tip import unit_vector
from .world import Instruments, load_world
from .world_sections.sensor import Dipole


@dataclass(frozen=True)
class Lab:
    """The instruments of a set-up, the NV axis of its diamond and its tip's calibration."""

    name: str
    instruments: Instruments
    nv_axis: np.ndarray  # unit vector in the lab frame: the crystal's cut
    tip: tuple[Dipole, ...]  # the scan head's magnetic tip as calibrated (none: no tip)

    @property
    def tip_start(self) -> np.ndarray:
        """Where the scan head puts its tip at power-up (m): laterally over the NV the optics
        aligned it on, to within the alignment's accuracy; retracted."""
        probe = self.instruments.probe
        if probe is None:
            raise ValueError(f"{self.name}: the set-up has no scan head")
        start = probe.initial_position
        return np.array([start.x, start.y, start.z])


def lab_of(world: str | Path) -> Lab:
    """The lab of the set-up `world` describes, without its sample, its NV's place and its
    spins."""
    model = load_world(world)
    sensor = model.sensor
    axis = unit_vector(*sensor.nv_axis) if sensor is not None else np.array([0.0, 0.0, 1.0])
    tip = tuple(sensor.tip) if sensor is not None else ()
    return Lab(model.name, model.instruments, axis, tip)
