"""Line profiles of nano-MRI images: fringe period, tip gradient, slice, edge and peak widths."""

from dataclasses import dataclass

import lmfit
import numpy as np
from scipy import ndimage
from scipy.special import erf, erfinv

from ..nv_spin import GAMMA_E
from .fits import Measured, dominant_frequency

MIN_POINTS = 8
FWHM_PER_SIGMA = 2 * np.sqrt(2 * np.log(2))  # Gaussian: FWHM = 2 sqrt(2 ln 2) sigma
RISE_PER_SIGMA = 2 * np.sqrt(2) * erfinv(0.8)  # erf step: 10-90 % in 2 sqrt(2) erfinv(0.8) sigma
SIGNIFICANCE = 3.0  # sigmas a fitted amplitude needs, at the least, to count as a signal
FALSE_ALARM = 1e-3  # chance that pure noise passes as a signal searched at many places
SMOOTHING = 2.0  # pixels: sigma of the Gaussian filter of the starting guesses
MAX_CHIRP = 1.0  # largest fitted change of the fringe period across the line, per period


@dataclass(frozen=True)
class Edge:
    """A Gaussian-blurred step: position (m), 10-90 % rise distance (m), FWHM of the
    point-spread function (m), with 1-sigma errors. A blur the line does not resolve (fitted
    under 2 errors from zero, or to a rise under one pixel) is no measurement of the edge's
    sharpness: `resolved` is False, and the rise and the FWHM are upper bounds, the largest
    blur the line allows at 2 sigma and never under a one-pixel rise (the sampling limit),
    with a NaN error."""

    position: float
    position_err: float
    rise_10_90: float
    psf_fwhm: float
    psf_fwhm_err: float
    resolved: bool = True


@dataclass(frozen=True)
class Plateau:
    """A plateau between a left and a right edge on a background: edges, the distance between
    them (m), and the plateau and background levels in the units of the signal."""

    left: Edge
    right: Edge
    width: Measured
    level: Measured
    background: Measured


@dataclass(frozen=True)
class _Frame:
    """Pixel units about the middle of the line and a signal of unit spread: what the fits see,
    so that no parameter is 1e-10 in size or starts at an exact 0 on a 1e-10 scale."""

    middle: float
    pixel: float
    level: float
    spread: float

    def x(self, u: float) -> float:
        return self.middle + self.pixel * u

    def y(self, v: float) -> float:
        return self.level + self.spread * v


def _checked(x: np.ndarray, signal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x and signal as floats, x increasing; ValueError naming what is wrong with them."""
    x, y = np.asarray(x, dtype=float), np.asarray(signal, dtype=float)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"x and signal must be 1-D of the same length, got shapes {x.shape} "
                         f"and {y.shape}")
    if len(x) < MIN_POINTS:
        raise ValueError(f"line too short: need at least {MIN_POINTS} points, got {len(x)}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("x or signal holds NaN or infinite values")
    steps = np.diff(x)
    if not ((steps > 0).all() or (steps < 0).all()):
        raise ValueError("x is not strictly monotonic")
    if np.ptp(y) == 0:
        raise ValueError("signal is constant")
    return (x, y) if steps[0] > 0 else (x[::-1], y[::-1])


def _framed(x: np.ndarray, signal: np.ndarray) -> tuple[np.ndarray, np.ndarray, _Frame]:
    """The checked line in the fits' units, and the frame that maps them back."""
    x, y = _checked(x, signal)
    frame = _Frame(float(x[0] + x[-1]) / 2, float(np.median(np.diff(x))),
                   float(np.median(y)), float(np.std(y)))
    # in pixels to a billionth: a pixel's place off by float rounding (1e-12 where an offset
    # was taken off) would start a fit a hair from 0, where leastsq's relative step is 0
    return (np.round((x - frame.middle) / frame.pixel, 9), (y - frame.level) / frame.spread,
            frame)


def _threshold(places: float) -> float:
    """Significance a signal searched for at `places` independent places needs so that noise
    alone passes with chance FALSE_ALARM: Gaussian tail exp(-s^2/2) times the places."""
    return max(SIGNIFICANCE, float(np.sqrt(2 * np.log(max(places, 1.0) / FALSE_ALARM))))


def _fit(function, u: np.ndarray, v: np.ndarray,
         params: lmfit.Parameters) -> lmfit.model.ModelResult:
    """Unweighted least squares; errors scaled by the scatter of the residuals (lmfit's
    default), so the signal's noise need not be known."""
    return lmfit.Model(function).fit(v, params, x=u)


def _error(result, name: str) -> float:
    """The 1-sigma error of a fitted parameter; ValueError if the fit could not estimate it."""
    error = result.params[name].stderr
    if error is None or not np.isfinite(error):
        raise ValueError(f"the fit could not estimate the error of its {name}: the line does "
                         "not determine it")
    return float(error)


def _require(result, name: str, threshold: float, what: str) -> None:
    """ValueError unless the fitted `name` is `threshold` sigma away from zero."""
    error = result.params[name].stderr
    if error is None or not np.isfinite(error) or error <= 0:
        raise ValueError(f"no {what}: the fit could not estimate the error of its amplitude")
    sigmas = abs(result.params[name].value) / error
    if not sigmas >= threshold:
        raise ValueError(f"no {what}: its amplitude is {sigmas:.1f} sigma, under the "
                         f"{threshold:.1f} needed")


def _smooth(v: np.ndarray) -> np.ndarray:
    """The line smoothed for starting guesses, so that a noisy pixel is not taken for a peak."""
    return ndimage.gaussian_filter1d(v, SMOOTHING, mode="nearest")


# --- Ramsey fringes across a tip's field ---------------------------------------------------

def _fringe_phase(x, period, chirp, length):
    """Phase (rad) at x of fringes whose period is period * (1 + chirp x / length) at x:
    2 pi int dx / period(x) = 2 pi x / period * ln(1 + z) / z, z = chirp x / length."""
    z = chirp * x / length
    safe = np.where(z == 0, 1.0, z)
    stretch = np.where(np.abs(z) > 1e-9, np.log1p(z) / safe, 1.0 - z / 2)
    return 2 * np.pi * x / period * stretch


def _fringes(x, offset, amplitude, period, phase, chirp, length):
    """Ramsey signal along the line: offset + amplitude cos(phase(x) + phase at the middle)."""
    return offset + amplitude * np.cos(_fringe_phase(x, period, chirp, length) + phase)


def _periodogram_period(u: np.ndarray, v: np.ndarray) -> float:
    """Period (pixels) of the strongest Fourier component of the line, detrended;
    ValueError if it is longer than the line."""
    peak = dominant_frequency(u, v, oversampling=1, detrended=True)
    if peak * (u[-1] - u[0]) < 1:
        raise ValueError("no oscillation: the strongest period is longer than the line")
    return 1 / peak


def _matched_start(u: np.ndarray, v: np.ndarray, period: float) -> dict[str, float]:
    """Period, chirp, amplitude and phase of the chirped cosine that best matches the line:
    the largest |sum v exp(-i phase(u))| on a grid about the periodogram's period."""
    length = u[-1] - u[0]
    periods = period * np.linspace(0.7, 1.3, 61)[:, None, None]
    chirps = np.linspace(-MAX_CHIRP / 2, MAX_CHIRP / 2, 21)[None, :, None]
    centred = v - v.mean()
    match = (centred * np.exp(-1j * _fringe_phase(u, periods, chirps, length))).sum(-1)
    i, j = np.unravel_index(np.argmax(np.abs(match)), match.shape)
    return {"period": float(periods[i, 0, 0]), "chirp": float(chirps[0, j, 0]),
            "amplitude": 2 * float(np.abs(match[i, j])) / len(u),
            "phase": float(np.angle(match[i, j]))}


def fringe_period(x: np.ndarray, signal: np.ndarray) -> Measured:
    """Period (m) at the middle of the line of Ramsey fringes offset + amplitude cos(phase(x))
    along a line cut across a magnetic tip's field, the period allowed to change linearly
    along the line (a chirp). Starts from the periodogram, refined by a chirped matched filter,
    then an lmfit fit. ValueError on bad input or when there are no significant fringes."""
    u, v, frame = _framed(x, signal)
    length = float(u[-1] - u[0])
    start = _matched_start(u, v, _periodogram_period(u, v))
    params = lmfit.Parameters()
    params.add("offset", value=float(v.mean()))
    params.add("amplitude", value=start["amplitude"])
    params.add("period", value=start["period"], min=1.0, max=2 * length)
    params.add("phase", value=start["phase"])
    params.add("chirp", value=start["chirp"], min=-MAX_CHIRP, max=MAX_CHIRP)
    params.add("length", value=length, vary=False)
    result = _fit(_fringes, u, v, params)
    # on pure noise the fit's best amplitude is the best of ~40 tries per point (calibrated)
    _require(result, "amplitude", _threshold(40 * len(u)), "oscillation")
    period = result.params["period"].value
    if not 2 <= period <= length:
        raise ValueError(f"no oscillation: fitted period of {period:.3g} pixels is shorter than "
                         "2 pixels or longer than the line")
    return Measured(period * frame.pixel, _error(result, "period") * frame.pixel)


def ramsey_time(tau: float, pi_half: float) -> float:
    """The time (s) over which a Ramsey sequence pi/2 - `tau` - pi/2 of square pulses of
    length `pi_half` turns a small detuning into phase: tau + 4 pi_half / pi. The spin also
    precesses during the pulses; in the rotating frame a pulse turns the Bloch vector by
    theta = pi/2 t / pi_half, and a detuning adds phase at the rate of its transverse share
    sin(theta), int sin(theta) dt = 2 pi_half / pi for each pulse."""
    if tau <= 0 or pi_half < 0:
        raise ValueError(f"tau must be positive and pi_half not negative, got {tau} and "
                         f"{pi_half}")
    return tau + 4 * pi_half / np.pi


def tip_gradient(period: float | Measured, tau: float, *, pi_half: float,
                 gamma: float = GAMMA_E) -> float | Measured:
    """Gradient (T/m) along the line of the field on the NV axis that gives Ramsey fringes of
    `period` (m) after a free evolution `tau` (s) between pi/2 pulses of length `pi_half` (s;
    0 for ideal, instantaneous ones), which lengthen the phase time (`ramsey_time`); a
    Measured period gives a Measured one."""
    if isinstance(period, Measured):
        gradient = tip_gradient(period.value, tau, pi_half=pi_half, gamma=gamma)
        return Measured(gradient, gradient * period.error / period.value)  # 1/period
    if period <= 0:
        raise ValueError(f"period must be positive, got {period}")
    # Ramsey phase 2 pi gamma B T: one fringe is a field step 1/(gamma T) over one period
    return 1.0 / (gamma * ramsey_time(tau, pi_half) * period)


# --- Peaks: resonant slices and point-spread functions ------------------------------------

def _lorentzian(x, offset, amplitude, centre, fwhm):
    """CW-ESR line shape: offset + amplitude / (1 + ((x - centre) / (fwhm / 2))^2)."""
    return offset + amplitude / (1 + ((x - centre) / (fwhm / 2)) ** 2)


def _gaussian(x, offset, amplitude, centre, fwhm):
    """offset + amplitude exp(-4 ln 2 ((x - centre) / fwhm)^2): FWHM = 2 sqrt(2 ln 2) sigma."""
    return offset + amplitude * np.exp(-4 * np.log(2) * ((x - centre) / fwhm) ** 2)


def _peak_start(u: np.ndarray, v: np.ndarray) -> lmfit.Parameters:
    """Median background; the smoothed line's largest excursion from it, up or down, as the
    peak; the extent of its half-maximum as the width."""
    background = float(np.median(v))
    excursion = _smooth(v) - background
    top = int(np.argmax(np.abs(excursion)))
    above_half = np.abs(excursion) > np.abs(excursion[top]) / 2
    params = lmfit.Parameters()
    params.add("offset", value=background)
    params.add("amplitude", value=float(excursion[top]))
    params.add("centre", value=float(u[top]))
    params.add("fwhm", value=max(float(above_half.sum()), 2.0), min=0.1, max=2 * (u[-1] - u[0]))
    return params


def _bright_peak_start(u: np.ndarray, v: np.ndarray) -> lmfit.Parameters:
    """A peak above the line's lowest level: the start for a spot a line may cross off its
    middle, where the median is no background."""
    smooth = _smooth(v)
    top = int(np.argmax(smooth))
    params = _peak_start(u, v)
    params["offset"].set(value=float(smooth.min()))
    params["amplitude"].set(value=float(smooth[top] - smooth.min()), min=0.0)
    params["centre"].set(value=float(u[top]))
    params["fwhm"].set(value=max(float(np.sum(smooth > (smooth[top] + smooth.min()) / 2)), 2.0))
    return params


def _peak(function, x: np.ndarray, signal: np.ndarray, what: str, start=_peak_start):
    """The single peak `function` fitted to the line, in the fit's frame; ValueError if there
    is none, or if it lies outside the line or is wider than it."""
    u, v, frame = _framed(x, signal)
    result = _fit(function, u, v, start(u, v))
    _require(result, "amplitude", _threshold(len(u)), what)  # searched at every pixel
    centre, width = result.params["centre"].value, result.params["fwhm"].value
    if not u[0] <= centre <= u[-1]:
        raise ValueError(f"no {what}: the fitted centre is outside the line")
    if width > u[-1] - u[0]:
        raise ValueError(f"no {what}: the fitted width is longer than the line")
    return result, frame


def _peak_fwhm(function, x: np.ndarray, signal: np.ndarray, what: str) -> Measured:
    """FWHM (m) of the single peak `function` fitted to the line; ValueError if there is none."""
    result, frame = _peak(function, x, signal, what)
    return Measured(result.params["fwhm"].value * frame.pixel,
                    _error(result, "fwhm") * frame.pixel)


def peak_centre(x: np.ndarray, profile: np.ndarray) -> Measured:
    """Where a line's single bright peak is, a Gaussian on a constant background: e.g. the
    confocal spot of an NV along a line through it."""
    result, frame = _peak(_gaussian, x, profile, "peak", _bright_peak_start)
    return Measured(frame.x(result.params["centre"].value),
                    _error(result, "centre") * frame.pixel)


def slice_fwhm(x: np.ndarray, signal: np.ndarray) -> Measured:
    """FWHM (m) of a resonant slice along a line: a single CW-ESR dip or peak, a Lorentzian on
    a constant background, its sign found from the data."""
    return _peak_fwhm(_lorentzian, x, signal, "resonant slice")


def slice_width_expected(linewidth_time: float, gradient: float,
                         gamma: float = GAMMA_E) -> float:
    """FWHM (m) of a resonant slice of a line of inverse width `linewidth_time` (s) in a field
    gradient (T/m): the resolution of a field-gradient image."""
    if linewidth_time <= 0 or gradient == 0:
        raise ValueError(f"linewidth_time must be positive and gradient non-zero, got "
                         f"{linewidth_time} and {gradient}")
    # seed 001: resolution 1/(tau * gamma * |grad B|)
    return 1.0 / (linewidth_time * gamma * abs(gradient))


def fwhm(x: np.ndarray, profile: np.ndarray) -> Measured:
    """FWHM (m) of a single peak (or dip) of a line, a Gaussian on a constant background."""
    return _peak_fwhm(_gaussian, x, profile, "peak")


# --- Edges of clusters ----------------------------------------------------------------------

def _unit_step(x, position, sigma):
    """A unit step at `position` blurred by a Gaussian of standard deviation sigma."""
    return 0.5 * (1 + erf((x - position) / (np.sqrt(2) * sigma)))


def _step(x, low, step, position, sigma):
    """An edge: `low` on one side, `low + step` on the other."""
    return low + step * _unit_step(x, position, sigma)


def _two_steps(x, low, height, left, left_sigma, right, right_sigma):
    """A plateau `height` above `low` between a step up at `left` and down at `right`."""
    return low + height * (_unit_step(x, left, left_sigma) - _unit_step(x, right, right_sigma))


def _step_start(u: np.ndarray, v: np.ndarray) -> dict[str, float]:
    """The blurred step that best fits the line on a grid of positions and blurs, its two
    levels solved by linear least squares at each point (they enter the model linearly): a
    start the fit cannot mistake for a local minimum."""
    length = float(u[-1] - u[0])
    positions = np.linspace(u[0], u[-1], int(min(4 * length, 400)) + 1)[:, None]
    centred = v - v.mean()
    best = (np.inf, 0.0, 0.0, 0.0, 0.0)
    for sigma in np.geomspace(0.1, length / 4, 24):
        shape = _unit_step(u, positions, sigma)
        shape = shape - shape.mean(-1, keepdims=True)
        step = (shape * centred).sum(-1) / np.maximum((shape**2).sum(-1), 1e-12)
        misfit = ((centred - step[:, None] * shape) ** 2).sum(-1)
        i = int(np.argmin(misfit))
        if misfit[i] < best[0]:
            low = v.mean() - step[i] * _unit_step(u, positions[i, 0], sigma).mean()
            best = (misfit[i], float(low), float(step[i]), float(positions[i, 0]), sigma)
    return dict(zip(("low", "step", "position", "sigma"), best[1:], strict=True))


def _resolved(result, sigma: str) -> bool:
    """Whether the samples resolve the fitted blur `sigma` (pixels): 2 of its errors above
    zero and a 10-90 % rise of at least one pixel."""
    error = result.params[sigma].stderr
    blur = result.params[sigma].value
    return bool(error is not None and np.isfinite(error) and blur > 2 * error
                and RISE_PER_SIGMA * blur >= 1)


BOUND_STEP = 2.0  # factor between the blurs tried on the way out to an upper bound
BOUND_BISECTIONS = 4  # halvings of the last step (in log): the bound to ~4 %, rounded up


def _blur_bound(function, u: np.ndarray, v: np.ndarray, result,
                sigma: str) -> float:
    """The largest blur `sigma` (pixels) the line allows at 2 sigma, never under a one-pixel
    rise: where chi-square, the other parameters refitted, has grown by 4 times the
    residuals' variance (the scale of the fit's errors). A profile of chi-square rather than
    the fit's error, which is not a measure of a blur fitted near zero. Each refit starts
    from the last one allowed, a blur nearby."""
    limit = result.chisqr + 4 * result.redchi
    top = result.params[sigma].max
    start = result.params.copy()

    def allowed(blur: float) -> bool:
        params = start.copy()
        params[sigma].set(value=blur, vary=False)
        fit = _fit(function, u, v, params)
        if fit.chisqr > limit:
            return False
        start.update(fit.params)
        return True

    low = max(result.params[sigma].value, 1 / RISE_PER_SIGMA)
    if not allowed(low):
        return low
    high = low * BOUND_STEP
    while high < top and allowed(high):
        low, high = high, high * BOUND_STEP
    if high >= top:
        return top
    for _ in range(BOUND_BISECTIONS):
        middle = np.sqrt(low * high)
        low, high = (middle, high) if allowed(middle) else (low, middle)
    return high


def _fit_blurred(function, u: np.ndarray, v: np.ndarray, params: lmfit.Parameters,
                 sigmas: tuple[str, ...], amplitude: str, what: str
                 ) -> tuple[lmfit.model.ModelResult, dict[str, float | None]]:
    """Fit, then fit again with each blur the samples do not resolve fixed at a one-pixel
    rise, so that positions and levels keep their errors; ValueError unless the `amplitude`
    is significant (searched at every pixel); the upper bound (pixels) of each blur not
    resolved, None for those resolved."""
    first = _fit(function, u, v, params)
    resolved = {name: _resolved(first, name) for name in sigmas}
    result = first
    if not all(resolved.values()):
        params = first.params.copy()
        for name in sigmas:
            if not resolved[name]:
                params[name].set(value=1 / RISE_PER_SIGMA, vary=False)
        result = _fit(function, u, v, params)
    _require(result, amplitude, _threshold(len(u)), what)
    return result, {name: None if resolved[name] else _blur_bound(function, u, v, first, name)
                    for name in sigmas}


def _edge(result, position: str, sigma: str, bound: float | None, frame: _Frame) -> Edge:
    """An Edge (in m) from the fitted position and blur (pixels) of a step, or from the
    blur's upper `bound` (pixels) if the line does not resolve it."""
    resolved = bound is None
    blur = (result.params[sigma].value if resolved else bound) * frame.pixel
    spread = _error(result, sigma) * frame.pixel if resolved else np.nan
    return Edge(position=frame.x(result.params[position].value),
                position_err=_error(result, position) * frame.pixel,
                rise_10_90=RISE_PER_SIGMA * blur, psf_fwhm=FWHM_PER_SIGMA * blur,
                psf_fwhm_err=FWHM_PER_SIGMA * spread, resolved=resolved)


def edge_width(x: np.ndarray, profile: np.ndarray) -> Edge:
    """Position and sharpness of a line profile across the edge of a cluster: a step up or down
    between two levels, blurred by a Gaussian point-spread function; an erf fit."""
    u, v, frame = _framed(x, profile)
    start = _step_start(u, v)
    params = lmfit.Parameters()
    params.add("low", value=start["low"])
    params.add("step", value=start["step"])
    params.add("position", value=start["position"], min=u[0], max=u[-1])
    params.add("sigma", value=start["sigma"], min=0.01, max=u[-1] - u[0])
    result, bounds = _fit_blurred(_step, u, v, params, ("sigma",), "step", "edge")
    return _edge(result, "position", "sigma", bounds["sigma"], frame)


def _plateau_start(u: np.ndarray, v: np.ndarray) -> lmfit.Parameters:
    """Each half of the line, split in the middle of the smoothed line's excursion from the
    median of its ends, started as a single step."""
    ends = max(len(u) // 10, 3)
    excursion = _smooth(v) - np.median(np.concatenate([v[:ends], v[-ends:]]))
    top = excursion[np.argmax(np.abs(excursion))]
    inside = np.flatnonzero(excursion / top > 0.5)
    split = min(max((inside[0] + inside[-1]) // 2, MIN_POINTS // 2), len(u) - MIN_POINTS // 2)
    left, right = _step_start(u[:split], v[:split]), _step_start(u[split:], v[split:])
    params = lmfit.Parameters()
    params.add("low", value=(left["low"] + right["low"] + right["step"]) / 2)
    params.add("height", value=(left["step"] - right["step"]) / 2)
    params.add("left", value=left["position"], min=u[0], max=u[-1])
    params.add("width", value=max(right["position"] - left["position"], 1.0), min=0.0,
               max=u[-1] - u[0])
    params.add("right", expr="left + width")
    params.add("level", expr="low + height")
    params.add("left_sigma", value=left["sigma"], min=0.01, max=u[-1] - u[0])
    params.add("right_sigma", value=right["sigma"], min=0.01, max=u[-1] - u[0])
    return params


def plateau_fit(x: np.ndarray, profile: np.ndarray) -> Plateau:
    """A line across a cluster that rises from the background to a plateau and falls back (or
    dips and recovers): both edges, the plateau's width and the two levels; a fit of two erf
    steps sharing the plateau level."""
    u, v, frame = _framed(x, profile)
    sigmas = ("left_sigma", "right_sigma")
    result, bounds = _fit_blurred(_two_steps, u, v, _plateau_start(u, v), sigmas, "height",
                                  "plateau")
    return Plateau(left=_edge(result, "left", "left_sigma", bounds["left_sigma"], frame),
                   right=_edge(result, "right", "right_sigma", bounds["right_sigma"], frame),
                   width=Measured(result.params["width"].value * frame.pixel,
                                  _error(result, "width") * frame.pixel),
                   level=Measured(frame.y(result.params["level"].value),
                                  _error(result, "level") * frame.spread),
                   background=Measured(frame.y(result.params["low"].value),
                                       _error(result, "low") * frame.spread))
