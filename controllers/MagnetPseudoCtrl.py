"""Sardana pseudo motors |B|, theta, phi of a vector magnet over its motors Bx, By, Bz.

theta is the polar angle from +z, phi the azimuth from +x towards +y (rad, phi in [-pi, pi]),
as the VectorMagnet device defines them. Pure functions of the positions: where an angle is
undefined (zero field, field along z) it keeps its present value, so turning a zero field, or
setting |B| after it, goes the way the angles say.
"""

import math

from sardana.pool.controller import PseudoMotorController

from nanomri.interfaces.magnet import from_spherical, to_spherical


def _direction(curr_pseudo_pos) -> tuple[float, float]:
    """(theta, phi) now, or (0, 0) before the Pool knows them."""
    try:
        theta, phi = float(curr_pseudo_pos[1]), float(curr_pseudo_pos[2])
    except (TypeError, IndexError, ValueError):
        return 0.0, 0.0
    return (theta, phi) if math.isfinite(theta) and math.isfinite(phi) else (0.0, 0.0)


class MagnetPseudoCtrl(PseudoMotorController):
    """B (T), theta and phi (rad) of the field vector (Bx, By, Bz) in T."""

    pseudo_motor_roles = ("B", "theta", "phi")
    motor_roles = ("Bx", "By", "Bz")

    def CalcAllPhysical(self, pseudo_pos, curr_physical_pos):
        magnitude, theta, phi = pseudo_pos
        if magnitude < 0:
            raise ValueError(f"|B| must not be negative, got {magnitude} T")
        return from_spherical(magnitude, theta, phi)

    def CalcAllPseudo(self, physical_pos, curr_pseudo_pos):
        return to_spherical(tuple(physical_pos), _direction(curr_pseudo_pos))

    def CalcPhysical(self, index, pseudo_pos, curr_physical_pos):
        return self.CalcAllPhysical(pseudo_pos, curr_physical_pos)[index - 1]

    def CalcPseudo(self, index, physical_pos, curr_pseudo_pos):
        return self.CalcAllPseudo(physical_pos, curr_pseudo_pos)[index - 1]
