"""The NV centre's place under a magnetic tip, fitted to the tip's field map from a frequency
lock (the field on the NV axis at every tip place) with a point dipole's field.

The map holds B(P - apex - offset) . axis for the NV at P and the tip's apex at each pixel: it
fixes where the NV is relative to the tip's dipole, P - offset, not P and the offset apart.
Taking the offset as calibrated fixes P; an error in the offset (its z above all: the height of
the dipole over the apex) moves the fitted P by the same amount.
"""

from dataclasses import dataclass

import numpy as np
from scipy import optimize

from nanomri.magnetic_tip import MU0_OVER_4PI, dipole_field
from nanomri.vectors import finite_vector

from .fits import Measured
from .localize import Grid

NM = 1e-9
PARAMETERS = 4  # the NV's x, y, z and the tip's moment along its calibrated direction
DEPTHS = (0.5, 1.0, 2.0)  # starting distances under the dipole, in units of the guessed one


@dataclass(frozen=True)
class NVPlace:
    """The NV's position (m, the scan head's frame) and its one-sigma error per axis, the tip's
    moment along its calibrated direction (A m^2, negative if against it), the rms of the fit's
    residual (T) and how many pixels of the map the fit used."""

    position: np.ndarray
    error: np.ndarray
    moment: Measured
    residual_rms: float
    pixels: int


def _unit(value: np.ndarray, name: str) -> np.ndarray:
    """The unit vector along `value`; ValueError naming it if it is zero."""
    vector = finite_vector(value, name)
    if not np.any(vector):
        raise ValueError(f"{name} must not be zero: it gives a direction")
    return vector / np.linalg.norm(vector)


def _axis_field(r: np.ndarray, moment: np.ndarray, axis: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Field (T) on `axis` of a dipole `moment` at the places `r` (n, 3) from it, and its
    gradient (T/m, (n, 3)) in r: d/dr of mu0/4pi (3 (m.r)(a.r)/r^5 - m.a/r^3)."""
    field = dipole_field(r, np.zeros((1, 3)), moment[None]) @ axis
    distance = np.linalg.norm(r, axis=-1, keepdims=True)
    along_m, along_a = r @ moment, r @ axis
    gradient = MU0_OVER_4PI * (
        3 * (np.outer(along_a, moment) + np.outer(along_m, axis)) / distance**5
        + (3 * (moment @ axis) - 15 * (along_m * along_a)[:, None] / distance**2) * r
        / distance**5)
    return field, gradient


def _measured(grid: Grid, parameters: int) -> tuple[np.ndarray, np.ndarray]:
    """Tip places (n, 3) and field values (n,) of the map's measured (finite) pixels, more
    than the fit's `parameters`."""
    values = np.asarray(grid.values, dtype=float).ravel()
    inside = np.isfinite(values)
    if not inside.any():
        raise ValueError("the field map has no measured pixel (all NaN): the lock found no "
                         "resonance anywhere")
    if inside.sum() <= parameters:
        fitted = "x, y, z and the tip's moment" if parameters == PARAMETERS else "x, y, z"
        raise ValueError(f"the field map has {inside.sum()} measured pixels: fitting the NV's "
                         f"{fitted}, with an error, needs more than {parameters}")
    if not np.any(values[inside]):
        raise ValueError("the field map is zero everywhere: no tip field to fit")
    return grid.points()[inside], values[inside]


def _starts(start: np.ndarray, tips: np.ndarray, values: np.ndarray,
            offset: np.ndarray) -> list[np.ndarray]:
    """Starting places of the fit: the experimenter's guess and, laterally, the dipole's place
    where the field is strongest (over the NV for a moment and an axis along z), each at a few
    depths under the lowest dipole about the guessed one."""
    lowest_dipole = tips[:, 2].min() + offset[2]
    depth = lowest_dipole - start[2]
    if not depth > 0:
        raise ValueError(f"the start ({start / NM} nm) must lie under the tip's dipole, whose "
                         f"lowest place in the map is z = {lowest_dipole / NM:.1f} nm")
    strongest = tips[np.argmax(np.abs(values)), :2] + offset[:2]
    return [np.array([*lateral, lowest_dipole - factor * depth])
            for lateral in (start[:2], strongest) for factor in DEPTHS]


class _MapFit:
    """The least-squares problem in the fit's units: q = the NV's place from the start (nm)
    and, unless `moment` fixes it (A m^2), the moment in units of the start's best one; the
    residual in units of the strongest field of the map, so that every number the optimiser
    sees is of order one."""

    def __init__(self, tips: np.ndarray, values: np.ndarray, offset: np.ndarray,
                 direction: np.ndarray, axis: np.ndarray, origin: np.ndarray,
                 moment: float | None = None):
        self.tips, self.values, self.offset = tips, values, offset
        self.direction, self.axis, self.origin = direction, axis, origin
        self.scale = float(np.max(np.abs(values)))
        self.fixed = moment
        self.unit = abs(moment if moment is not None else self.linear_moment(origin)) or 1.0

    def moment(self, q: np.ndarray) -> float:
        """The moment (A m^2) at parameters q."""
        return self.fixed if self.fixed is not None else float(q[3] * self.unit)

    def _unit_field(self, nv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Field (T) of a moment of 1 A m^2 with the NV at `nv`, and its gradient in `nv`."""
        return _axis_field(nv - self.tips - self.offset, self.direction, self.axis)

    def linear_moment(self, nv: np.ndarray) -> float:
        """The moment (A m^2) that fits the map best with the NV at `nv`: the model is linear
        in it."""
        shape = self._unit_field(nv)[0]
        return float(shape @ self.values / (shape @ shape))

    def q(self, nv: np.ndarray) -> np.ndarray:
        """The fit's parameters starting with the NV at `nv` and its best moment there."""
        place = (nv - self.origin) / NM
        return place if self.fixed is not None else np.r_[place, self.linear_moment(nv)
                                                          / self.unit]

    def residual(self, q: np.ndarray) -> np.ndarray:
        field = self._unit_field(self.origin + q[:3] * NM)[0]
        return (self.moment(q) * field - self.values) / self.scale

    def jacobian(self, q: np.ndarray) -> np.ndarray:
        field, gradient = self._unit_field(self.origin + q[:3] * NM)
        columns = [self.moment(q) * NM * gradient]
        if self.fixed is None:
            columns.append(self.unit * field)
        return np.column_stack(columns) / self.scale


def nv_under_tip(grid: Grid, tip_offset: np.ndarray, moment_direction: np.ndarray,
                 axis: np.ndarray, start: np.ndarray, moment: float | None = None) -> NVPlace:
    """The NV's position P (m) and the tip's moment magnitude fitted by least squares to a
    field map: `grid` over the apex's places (m) of the tip's field on the NV axis (T, NaN
    where the lock was lost). The tip is a point dipole at apex + `tip_offset` (m, calibrated)
    with its moment along `moment_direction`; the NV is quantised along `axis`. `start` is the
    experimenter's guess of P; the fit also starts where the field is strongest and at a few
    depths, and keeps the best residual, so a guess off by the map's half-width still finds
    the NV. Errors are the covariance's scaled by the residual's reduced chi-square: they
    follow the map's noise. A `moment` (A m^2, along the direction) from an earlier fit fixes
    it: a small map then registers the NV's place alone (drift tracking). Only P - tip_offset
    is measured (see the module's docstring). ValueError if the map holds too few pixels, the
    fit does not converge or leaves P's error undetermined."""
    parameters = PARAMETERS if moment is None else 3
    if moment is not None and not (np.isfinite(moment) and moment):
        raise ValueError(f"a fixed moment must be finite and not zero, got {moment!r}")
    tips, values = _measured(grid, parameters)
    offset, origin = finite_vector(tip_offset, "tip_offset"), finite_vector(start, "start")
    problem = _MapFit(tips, values, offset, _unit(moment_direction, "moment_direction"),
                      _unit(axis, "axis"), origin, moment)
    lowest_dipole = tips[:, 2].min() + offset[2]
    fits = []
    for place in _starts(origin, tips, values, offset):
        fit = optimize.least_squares(problem.residual, problem.q(place), jac=problem.jacobian)
        if fit.status > 0 and origin[2] + fit.x[2] * NM < lowest_dipole:
            fits.append(fit)
    if not fits:
        raise ValueError("the fit did not converge to an NV under the tip from any start: "
                         "is the map a dipole's field on the given axis?")
    best = min(fits, key=lambda f: f.cost)
    sigma = _errors(best.jac, 2 * best.cost / (values.size - parameters))
    moment_error = 0.0 if moment is not None else float(sigma[3] * problem.unit)
    return NVPlace(position=origin + best.x[:3] * NM, error=sigma[:3] * NM,
                   moment=Measured(problem.moment(best.x), moment_error),
                   residual_rms=float(np.sqrt(2 * best.cost / values.size) * problem.scale),
                   pixels=int(values.size))


def _errors(jacobian: np.ndarray, variance: float) -> np.ndarray:
    """One-sigma errors of the parameters: the covariance (J^T J)^-1 times the residual's
    variance; ValueError if the position's are not finite."""
    with np.errstate(all="ignore"):
        try:
            covariance = np.linalg.inv(jacobian.T @ jacobian) * variance
        except np.linalg.LinAlgError:
            covariance = np.full((jacobian.shape[1],) * 2, np.inf)
        sigma = np.sqrt(np.diag(covariance))
    if not np.all(np.isfinite(sigma[:3])):
        raise ValueError("the map does not determine the NV's position: its error is not "
                         "finite (a map too small or too flat for the fit)")
    return sigma
