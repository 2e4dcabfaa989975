"""Fits with errors: a measured value (`Measured`), a fit's parameters (`Fit`), the starting
guess of an oscillation's frequency, and the fits of NV point measurements (ODMR, Rabi, Ramsey,
echo, T1, DEER)."""

from dataclasses import dataclass

import lmfit
import numpy as np

MIN_POINTS = 6


@dataclass(frozen=True)
class Measured:
    """A value and its 1-sigma error, in SI units."""

    value: float
    error: float


@dataclass(frozen=True)
class Fit:
    """Fitted parameters, each a Measured, and the model evaluated on the data's x."""

    parameters: dict[str, Measured]
    best: np.ndarray

    def __getitem__(self, name: str) -> float:
        return self.parameters[name].value

    @property
    def errors(self) -> dict[str, float]:
        """The 1-sigma error of each parameter by its name."""
        return {name: p.error for name, p in self.parameters.items()}

    def describe(self, units: dict[str, str]) -> str:
        """One line, e.g. `frequency = 1.002e+07 ± 3e+04 Hz`, of the parameters in `units`."""
        return ", ".join(f"{k} = {self.parameters[k].value:.4g} ± "
                         f"{self.parameters[k].error:.2g} {u}".rstrip() for k, u in units.items())


def dominant_frequency(x: np.ndarray, y: np.ndarray, oversampling: int = 4,
                       detrended: bool = False) -> float:
    """Strongest frequency of y(x), a fit's starting guess: y resampled uniformly at
    `oversampling` points per sample, less its mean (`detrended`: less its straight-line trend
    and Hann-windowed, for a line whose level drifts), zero-padded to an eighth of a Fourier
    bin. x increasing."""
    grid = np.linspace(x.min(), x.max(), oversampling * len(x))
    values = np.interp(grid, x, y)
    if detrended:
        values = (values - np.polyval(np.polyfit(grid, values, 1), grid)) * np.hanning(len(grid))
    else:
        values = values - y.mean()
    n = 8 * len(grid)
    spectrum = np.abs(np.fft.rfft(values, n))
    freqs = np.fft.rfftfreq(n, grid[1] - grid[0])
    return float(freqs[1 + np.argmax(spectrum[1:])])


def _checked(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D of one length, got {x.shape} and {y.shape}")
    if len(x) < MIN_POINTS:
        raise ValueError(f"need at least {MIN_POINTS} points to fit, got {len(x)}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("x and y must be finite (a point is NaN or infinite)")
    return x, y


def _run(model: lmfit.Model, params: lmfit.Parameters, x: np.ndarray, y: np.ndarray) -> Fit:
    result = model.fit(y, params, x=x)
    return Fit({k: Measured(float(p.value), float(p.stderr) if p.stderr is not None else np.nan)
                for k, p in result.params.items()}, result.best_fit)


def _lorentzian_dip(x, offset, depth, centre, fwhm):
    return offset * (1 - depth / (1 + ((x - centre) / (fwhm / 2)) ** 2))


def odmr(frequency: np.ndarray, signal: np.ndarray) -> Fit:
    """A Lorentzian dip: `centre` (Hz), `fwhm` (Hz), `depth` (fraction of `offset`)."""
    x, y = _checked(frequency, signal)
    model = lmfit.Model(_lorentzian_dip)
    p = model.make_params(offset=np.percentile(y, 90), centre=x[np.argmin(y)],
                          fwhm=(x.max() - x.min()) / 10)
    p.add("depth", value=max(1 - y.min() / np.percentile(y, 90), 0.01), min=0, max=1)
    p["fwhm"].min = 0
    return _run(model, p, x, y)


def _damped_cosine(x, offset, amplitude, frequency, phase, decay):
    return offset + amplitude * np.cos(2 * np.pi * frequency * x + phase) * np.exp(-x / decay)


def rabi(duration: np.ndarray, signal: np.ndarray) -> Fit:
    """offset + amplitude cos(2 pi f t + phase) exp(-t/decay): `frequency` (Hz) gives the pi
    pulse 1/(2 f)."""
    x, y = _checked(duration, signal)
    model = lmfit.Model(_damped_cosine)
    p = model.make_params(offset=y.mean(), amplitude=(y.max() - y.min()) / 2,
                          frequency=dominant_frequency(x, y), phase=0.0, decay=10 * x.max())
    p["decay"].min, p["frequency"].min = x.max() / 100, 0
    return _run(model, p, x, y)


def _gaussian_decay_cosine(x, offset, amplitude, frequency, phase, t2_star):
    return offset + amplitude * np.cos(2 * np.pi * frequency * x + phase) * np.exp(
        -((x / t2_star) ** 2))


def ramsey(tau: np.ndarray, signal: np.ndarray) -> Fit:
    """Fringes at the MW detuning `frequency` (Hz) decaying as exp(-(tau/T2*)^2)."""
    x, y = _checked(tau, signal)
    model = lmfit.Model(_gaussian_decay_cosine)
    p = model.make_params(offset=y.mean(), amplitude=(y.max() - y.min()) / 2,
                          frequency=dominant_frequency(x, y), phase=0.0, t2_star=x.max() / 2)
    p["t2_star"].min, p["frequency"].min = x.max() / 100, 0
    return _run(model, p, x, y)


def _stretched(x, offset, amplitude, time, power):
    return offset + amplitude * np.exp(-((x / time) ** power))


def decay(tau: np.ndarray, signal: np.ndarray, power: float | None = 1.0) -> Fit:
    """offset + amplitude exp(-(tau/time)^power): T1 (power 1) or the echo's T2 (`power`
    None: fitted, between 1 and 4)."""
    x, y = _checked(tau, signal)
    model = lmfit.Model(_stretched)
    guess = x[np.argmin(np.abs(y - (y[0] + y[-1]) / 2))] or x.max() / 3  # the half-way point
    p = model.make_params(offset=y[-1], amplitude=y[0] - y[-1], time=guess,
                          power=power or 2.0)
    p["time"].min = 0
    if power is None:
        p["power"].set(min=1, max=4)
    else:
        p["power"].vary = False
    return _run(model, p, x, y)


def deer_oscillation(tau: np.ndarray, signal: np.ndarray) -> Fit:
    """A coherently coupled dark spin: cos(2 pi a tau) at its coupling `frequency` a (Hz)
    (seed 001, Fig. 4a), decaying with `decay`."""
    return rabi(tau, signal)


# the fit of each point measurement, and the units of the parameters it reports
FOR_MACRO = {
    "odmr": (odmr, {"centre": "Hz", "fwhm": "Hz", "depth": ""}),
    "rabi": (rabi, {"frequency": "Hz", "decay": "s"}),
    "ramsey": (ramsey, {"frequency": "Hz", "t2_star": "s"}),
    "echo": (lambda x, y: decay(x, y, power=None), {"time": "s", "power": ""}),
    "t1": (decay, {"time": "s"}),
    "deer": (odmr, {"centre": "Hz", "fwhm": "Hz", "depth": ""}),
    "deer_tau": (deer_oscillation, {"frequency": "Hz", "decay": "s"}),
}
