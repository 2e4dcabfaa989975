"""The sensor NV found as an experimenter finds it, from the Door: its confocal spot in an image
of the field, and its place under the scan head's tip.

The confocal part: a raster of the field, its spots (`nanomri.analysis.spots`), each refocused
and probed by a short CW ODMR at the resonance the bias field gives; the sensor is the spot
whose dip is deepest (a single NV with spin contrast, not a speck of background). The tip part:
the surface found by the AFM over the tip's start (optics aligned it over the NV to within
some tens of nm), then maps of the NV's locked resonance under the tip, coarse and fine, and
the tip's calibrated field fitted to them (`nanomri.analysis.nv_position`): the NV's x, y and
depth in the scan head's frame, with errors. Nothing here reads the world.
"""

import time
from dataclasses import dataclass

import numpy as np
import tango

from nanomri import nv_spin
from nanomri.analysis import fits
from nanomri.analysis import localize as lz
from nanomri.analysis import nv_position as nvp
from nanomri.analysis.spots import Spot, find_spots
from nanomri.lab import Lab
from nanomri.nexus import read_columns, read_image

from .demo_tip import last_file, line_data

NM = 1e-9
FIELD, RAMP_RATE = 0.12, 1e-2  # T along the NV axis (seed 001), T/s
RASTER = "raster x 10e-6 15e-6 51 y 10e-6 15e-6 51 0.005"  # the field the objective sees
PROBE_SPAN, PROBE_SWEEP = 20e6, "21 20000 cw"  # Hz each side of the bare line; points, reps
SIGNIFICANT = 5.0  # errors of its depth a spot's dip must have to be an NV's
FIND_SPAN, FIND_SWEEP = 400e6, "201 20000 cw"  # Hz above the bare line with the tip near
DEPTH_GUESS = 10 * NM  # of a shallow NV under the surface, where the fit starts
# maps of the tip's apex from the guessed place (lateral pixels), over the surface (heights),
# and their lock's probes (CW, repetitions per flank, steps per pixel at most): a coarse one
# (the optics align the tip over the NV to some tens of nm), then a fine one around what it
# finds; one map of 8 nm pixels and fewer photons where every photon costs real time (a clock
# of 1: 5000 repetitions put a pixel's field to ~40 uT, the fit's place to ~0.05 nm)
COARSE = (np.arange(-40, 40.01, 10.0) * NM, np.array([50.0, 70.0]) * NM, "cw 20000 3")
FINE = (np.arange(-8, 8.01, 2.0) * NM, np.array([40.0, 50.0, 60.0]) * NM, "cw 20000 3")
QUICK = (np.arange(-16, 16.01, 8.0) * NM, np.array([40.0, 60.0]) * NM, "cw 5000 2")
MAPS = (COARSE, FINE)


@dataclass(frozen=True)
class Found:
    """The sensor NV as measured: its confocal focus (stage frame) and ODMR line (tip far),
    and under the tip its place with errors and the surface over it (scan head frame, m)."""

    focus: tuple[float, float, float]
    line: fits.Fit
    place: nvp.NVPlace
    surface_z: float
    when: "Taken"  # when the last map was taken (its middle)


@dataclass(frozen=True)
class Taken:
    """When a map was taken (its middle): the scan head's clock (s) and the wall's (s since the
    epoch), and the head's drift compensation then (m)."""

    clock: float
    wall: float
    compensation: tuple[float, float, float]

    @classmethod
    def between(cls, before: "Taken", after: "Taken") -> "Taken":
        return cls((before.clock + after.clock) / 2, (before.wall + after.wall) / 2,
                   tuple((b + a) / 2 for b, a in zip(before.compensation, after.compensation,
                                                     strict=True)))

    @classmethod
    def now(cls, head: tango.DeviceProxy) -> "Taken":
        values = head.read_attributes(["clock", *(f"drift_compensation_{a}" for a in "xyz")])
        return cls(float(values[0].value), time.time(), tuple(float(v.value) for v in values[1:]))


def find_sensor(run, lab: Lab, spots: list[Spot], bare: float, bias: float,
                tango_host: str, maps: tuple = MAPS) -> Found:
    """The sensor NV among `spots` of the field's image, and its place under the tip from
    `maps` (`nv_under_tip`); the bias field `bias` (T) on along the NV axis, `bare` (Hz) its
    resonance, the laser on."""
    focus, line = sensor_focus(run, spots, bare, tango_host)
    place, surface, when = nv_under_tip(run, lab, bare, bias, tango_host, maps)
    return Found(focus, line, place, surface, when)


def track_settings(found: Found, lab: Lab, bare: float, bias: float, every: float) -> dict:
    """Env NanomriTrack for NV scans that re-register the tip on the NV found every `every`
    s (clients/tip_tracking): what the finder measured and the lab's tip calibration."""
    tip, line = lab.tip[0], found.line

    def floats(values) -> list[float]:  # plain numbers: the environment keeps their repr
        return [float(v) for v in values]

    return {"every": float(every), "nv": floats(found.place.position),
            "error": floats(found.place.error), "clock": found.when.clock,
            "wall": found.when.wall, "compensation": floats(found.when.compensation),
            "surface": float(found.surface_z),
            "moment": float(found.place.moment.value), "tip_offset": floats(tip.offset),
            "moment_direction": floats(tip.moment), "nv_axis": floats(lab.nv_axis),
            "bare": float(bare), "bias": float(bias),
            "line": floats([line["fwhm"] / 2, line["depth"], line["offset"]])}


def field_on(run, tango_host: str, field: float = FIELD) -> float:
    """The bias field `field` (T) on along the NV axis, the MW on; the bare resonance (Hz) the
    experimenter computes from the field (the tip retracted, far)."""
    tango.DeviceProxy(f"tango://{tango_host}/nanomri/confocal/magnet").ramp_rate = RAMP_RATE
    run([f"mv Bz {field}", "write_ioreg mw_output 1"])
    return float(nv_spin.transition_frequency(field))


def sensor_in_field(run, lab: Lab, tango_host: str) -> tuple[Found, float]:
    """The field on, the sensor NV found in a raster of the field and under the tip; and its
    bare resonance (Hz)."""
    bare = field_on(run, tango_host)
    return find_sensor(run, lab, spots_in(run), bare, FIELD, tango_host), bare


def spots_in(run) -> list[Spot]:
    """The spots of a raster of the field, brightest first; its file where the scans go."""
    out = run([RASTER])
    image, x, y = read_image(last_file(out))
    spots = find_spots(image, x, y)
    if not spots:
        raise ValueError(f"{last_file(out)}: no NV spot in the field")
    return spots


def focus_now(tango_host: str) -> tuple[float, float, float]:
    """The confocal stage's place (m)."""
    scanner = tango.DeviceProxy(f"tango://{tango_host}/nanomri/confocal/scanner")
    return tuple(float(scanner.read_attribute(a).value) for a in ("x", "y", "z"))


def sensor_focus(run, spots: list[Spot], bare: float, tango_host: str) -> tuple[tuple, fits.Fit]:
    """The focus on the spot whose ODMR dip at `bare` (Hz) stands out most from its noise
    (at least SIGNIFICANT errors of its depth), refocused."""
    best = None
    for spot in spots:
        run([f"mv x {spot.x} y {spot.y}", "refocus"])
        out = run([f"odmr {bare - PROBE_SPAN} {bare + PROBE_SPAN} {PROBE_SWEEP}"])
        f, ratio = line_data(last_file(out), "mw_frequency")
        try:
            line = fits.odmr(f, ratio)
        except (RuntimeError, ValueError):
            continue
        resolved = f[0] < line["centre"] < f[-1] and line["fwhm"] > f[1] - f[0]
        significance = line["depth"] / line.errors["depth"]
        if resolved and significance > SIGNIFICANT and (best is None or significance > best[2]):
            best = (focus_now(tango_host), line, significance)
    if best is None:
        raise ValueError(f"none of the {len(spots)} spots shows an ODMR dip at {bare:.6g} Hz")
    focus, line, _ = best
    run([f"mv x {focus[0]} y {focus[1]} z {focus[2]}", "refocus"])
    return focus_now(tango_host), line


def surface_at(run, x: float, y: float, tango_host: str) -> float:
    """The surface's z (m) under the tip at (x, y): approached by the AFM, then retracted."""
    run([f"mv tip_x {x} tip_y {y}", "approach"])
    z = float(tango.DeviceProxy(f"tango://{tango_host}/nanomri/confocal/probe").topography)
    run(["retract"])
    return z


def resonance(run, bare: float) -> float:
    """The NV's resonance (Hz) with the tip where it is: a CW ODMR sweep from `bare` up."""
    out = run([f"odmr {bare} {bare + FIND_SPAN} {FIND_SWEEP}"])
    f, ratio = line_data(last_file(out), "mw_frequency")
    fit = fits.odmr(f, ratio)
    if not (f[0] < fit["centre"] < f[-1] and fit["fwhm"] > f[1] - f[0]
            and fit["depth"] > SIGNIFICANT * fit.errors["depth"]):
        raise ValueError(f"no NV resonance between {bare:.6g} and {bare + FIND_SPAN:.6g} Hz "
                         "with the tip where it is")
    return fit["centre"]


def field_map(run, centre: np.ndarray, lateral: np.ndarray, heights: np.ndarray, lock: str,
              bare: float, bias: float) -> lz.Grid:
    """The tip's field on the NV axis (T) locked (`lock`: freqlock's probes) over tip places
    `centre` + (lateral, lateral) at apex z `centre[2]` + heights."""
    xs, ys, zs = centre[0] + lateral, centre[1] + lateral, centre[2] + heights
    run([f"mv tip_x {xs[0]} tip_y {ys[0]} tip_z {zs[0]}"])
    start = resonance(run, bare)
    axes = " ".join(f"{m} {v[0]} {v[-1]} {len(v)}" for m, v in
                    (("tip_z", zs), ("tip_y", ys), ("tip_x", xs)))
    out = run([f"freqlock {start} 40e6 {lock} lock 0 0 {axes}"])
    locked = lz.grid_from_columns(read_columns(last_file(out))[1], ("tip_x", "tip_y", "tip_z"),
                                  "mw_frequency", missing_ok=True)
    return lz.Grid(locked.axes, lz.field_from_lock(locked.values, bare, bias))


def nv_under_tip(run, lab: Lab, bare: float, bias: float, tango_host: str,
                 maps: tuple = MAPS) -> tuple[nvp.NVPlace, float, Taken]:
    """The NV's place under the tip (m, scan head frame, with errors), the surface's z over
    it, and when the last map was taken: field maps (lateral pixels, apex heights over the
    surface) in turn, the first around the tip's start, each next around what the one before
    found."""
    if not lab.tip:
        raise ValueError(f"{lab.name}: the scan head carries no calibrated magnetic tip")
    tip = lab.tip[0]
    direction = np.asarray(tip.moment) / np.linalg.norm(tip.moment)
    start = lab.tip_start
    head = tango.DeviceProxy(f"tango://{tango_host}/nanomri/confocal/probe")
    surface = surface_at(run, start[0], start[1], tango_host)
    guess = np.array([start[0], start[1], surface - DEPTH_GUESS])
    for lateral, heights, lock in maps:
        centre = np.array([guess[0], guess[1], surface])
        before = Taken.now(head)
        grid = field_map(run, centre, lateral, heights, lock, bare, bias)
        when = Taken.between(before, Taken.now(head))
        place = nvp.nv_under_tip(grid, np.asarray(tip.offset), direction, lab.nv_axis, guess,
                                 moment=float(np.linalg.norm(tip.moment)))
        guess = place.position
        surface = surface_at(run, guess[0], guess[1], tango_host)
    return place, surface, when
