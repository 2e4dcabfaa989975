"""Simulated MW/RF signal generator: settings reach the output after their data-sheet settling
time, and sweeps and lists step on their dwell, on software triggers or on the rising edges of a
sequencer channel. The output history answers what the spin saw at any time (`output_at`).
"""

from dataclasses import dataclass, field, replace

import numpy as np

from nanomri.interfaces.errors import Refused
from nanomri.interfaces.signal_generator import (
    Mode,
    SignalGeneratorConstraints,
    Sweep,
    TriggerSource,
    check_range,
)
from nanomri.sequence import Sequence
from nanomri.world_sections.signal_generator import SignalGeneratorSpec

from ..playback import Playback
from ..sim_world import SimWorld, open_section

MAX_SEGMENTS = 10_000  # history kept; the oldest half is dropped beyond it
MAX_PLAYBACKS = 1_000  # sequencer runs remembered for external triggers


@dataclass(frozen=True, eq=False)
class Setting:
    """What the generator puts out; `frequencies`/`powers` are the points of a sweep or list."""

    on: bool
    frequency: float  # Hz, CW
    power: float  # W, CW and sweep level
    phase: float  # rad
    mode: Mode
    trigger: TriggerSource
    dwell: float  # s per point under IMMEDIATE trigger
    frequencies: np.ndarray = field(default_factory=lambda: np.empty(0))
    powers: np.ndarray = field(default_factory=lambda: np.empty(0))


@dataclass(frozen=True, eq=False)
class Segment:
    """`setting` on the output from time `t` (command + settling); its sweep or list started at
    its first point at `armed` and counts triggers from then."""

    t: float
    armed: float
    setting: Setting


def rising_offsets(sequence: Sequence, channel: str) -> tuple[np.ndarray, bool]:
    """Rising edges of `channel` within one repetition (s), and whether the first one merely
    continues a pulse that ends the repetition (so it rises in the first repetition only)."""
    w = sequence.windows(channel)
    if not len(w):
        return np.empty(0), False
    tol = 1e-9 * sequence.length
    starts = w[np.r_[True, w[1:, 0] > w[:-1, 1] + tol], 0]
    return starts, bool(starts[0] <= tol and w[-1, 1] >= sequence.length - tol)


def edges_until(playback: Playback, channel: str, times: np.ndarray, stop: float) -> np.ndarray:
    """Rising edges of `channel` that `playback` played at or before each of `times`, counting
    only edges before `stop` (the end of the run, or when the next run replaced it)."""
    starts, wraps = rising_offsets(playback.sequence, channel)
    t = np.minimum(np.asarray(times, dtype=float), np.nextafter(stop, -np.inf))
    length = playback.sequence.length
    n = np.floor((t[..., None] - playback.start - starts) / length) + 1
    n = np.clip(n, 0, playback.repetitions)
    if wraps:
        n[..., 0] = np.minimum(n[..., 0], 1)
    return n.sum(axis=-1)


class SimSignalGenerator:
    """SignalGeneratorDriver over a SimWorld section (`mw` or `rf`)."""

    def __init__(self, world: SimWorld, spec: SignalGeneratorSpec):
        self.world = world
        self.constraints = SignalGeneratorConstraints(
            frequency_min=spec.frequency_min, frequency_max=spec.frequency_max,
            power_min=spec.power_min, power_max=spec.power_max, phase_max=spec.phase_max,
            list_max_points=spec.list_max_points, dwell_min=spec.list_min_dwell,
            dwell_max=spec.list_max_dwell, frequency_settle_time=spec.frequency_settle_time,
            level_settle_time=spec.level_settle_time)
        self.trigger_channel = spec.trigger_channel
        f0 = spec.initial_frequency
        low, high = spec.frequency_min, spec.frequency_max
        self._sweep = Sweep(max(low, 0.95 * f0), min(high, 1.05 * f0),
                            min(101, spec.list_max_points))
        self._setting = Setting(
            on=False, frequency=f0, power=spec.initial_power, phase=0.0, mode=Mode.FIXED,
            trigger=TriggerSource.IMMEDIATE,
            dwell=min(max(1e-2, spec.list_min_dwell), spec.list_max_dwell))
        self._list = (np.empty(0), np.empty(0))
        now = world.clock()
        self._segments = [Segment(now, now, self._setting)]
        self._times: np.ndarray | None = None  # cache of the segments' times
        self._software: list[float] = []  # times of software triggers
        self._playbacks: list[Playback] = []  # sequencer runs seen, in order

    # --- settings -------------------------------------------------------------------------

    def set_frequency(self, frequency: float) -> None:
        c = self.constraints
        check_range("frequency", frequency, c.frequency_min, c.frequency_max, "Hz")
        fixed = self._setting.mode == Mode.FIXED
        self._apply(frequency=float(frequency), settle=c.frequency_settle_time if fixed else 0.0)

    def frequency(self) -> float:
        return self._setting.frequency

    def set_power(self, power: float) -> None:
        c = self.constraints
        check_range("power", power, c.power_min, c.power_max, "W")
        listing = self._setting.mode == Mode.LIST
        self._apply(power=float(power), settle=0.0 if listing else c.level_settle_time)

    def power(self) -> float:
        return self._setting.power

    def set_output(self, on: bool) -> None:
        self._apply(on=bool(on), settle=self.constraints.level_settle_time)

    def output(self) -> bool:
        return self._setting.on

    def set_phase(self, phase: float) -> None:
        limit = self.constraints.phase_max
        check_range("phase", phase, -limit, limit, "rad")
        self._apply(phase=float(phase), settle=self.constraints.frequency_settle_time)

    def phase(self) -> float:
        return self._setting.phase

    def set_mode(self, mode: Mode) -> None:
        mode = _enum(Mode, mode, "mode")
        if mode == Mode.LIST and not len(self._list[0]):
            raise Refused("NO_LIST", "no list loaded: write the list frequencies before "
                                     "choosing LIST mode")
        if mode != self._setting.mode:
            self._apply(mode=mode, settle=self._step_settle(mode), rearm=True)

    def mode(self) -> Mode:
        return self._setting.mode

    def set_sweep(self, sweep: Sweep) -> None:
        c = self.constraints
        check_range("sweep start", sweep.start, c.frequency_min, c.frequency_max, "Hz")
        check_range("sweep stop", sweep.stop, c.frequency_min, c.frequency_max, "Hz")
        if isinstance(sweep.points, bool) or not float(sweep.points).is_integer():
            raise Refused("OUT_OF_RANGE", f"sweep points must be a whole number, "
                                          f"got {sweep.points}")
        check_range("sweep points", sweep.points, 2, c.list_max_points, "points")
        self._sweep = Sweep(float(sweep.start), float(sweep.stop), int(sweep.points))
        self._rearm(self._setting.mode == Mode.SWEEP)

    def sweep(self) -> Sweep:
        return self._sweep

    def set_dwell(self, dwell: float) -> None:
        c = self.constraints
        check_range("dwell", dwell, c.dwell_min, c.dwell_max, "s")
        self._rearm(self._setting.mode != Mode.FIXED, dwell=float(dwell))

    def dwell(self) -> float:
        return self._setting.dwell

    def set_list(self, frequencies: np.ndarray, powers: np.ndarray) -> None:
        f, p = self._checked_list(frequencies, powers)
        self._list = (f, p)
        self._rearm(self._setting.mode == Mode.LIST)

    def list_frequencies(self) -> np.ndarray:
        return self._list[0].copy()

    def list_powers(self) -> np.ndarray:
        return self._list[1].copy()

    def set_trigger(self, source: TriggerSource) -> None:
        source = _enum(TriggerSource, source, "trigger source")
        self._rearm(self._setting.mode != Mode.FIXED, trigger=source)

    def trigger(self) -> TriggerSource:
        return self._setting.trigger

    def software_trigger(self) -> None:
        s = self._setting
        if s.mode == Mode.FIXED or s.trigger != TriggerSource.SOFTWARE:
            raise Refused("NOT_ARMED", f"a software trigger steps a sweep or list under "
                                       f"SOFTWARE trigger; mode is {s.mode.name}, trigger "
                                       f"{s.trigger.name}")
        self._software.append(self.world.clock())

    def restart(self) -> None:
        if self._setting.mode != Mode.FIXED:
            self._rearm(True)

    def step(self) -> int:
        seg = self._segments[-1]
        if seg.setting.mode == Mode.FIXED:
            return -1
        n = self._count(seg, np.asarray([self.world.clock()]))[0]
        return int(n % len(seg.setting.frequencies))

    def settled(self) -> bool:
        seg, now = self._segments[-1], self.world.clock()
        if now < seg.t:
            return False
        if seg.setting.mode == Mode.FIXED:
            return True
        before = now - self._step_settle(seg.setting.mode)
        counts = self._count(seg, np.asarray([now, before]))
        return bool(counts[0] == counts[1])

    # --- what the output carried ----------------------------------------------------------

    @property
    def history(self) -> list[Segment]:
        """Settings in the order they reached the output (the oldest may have been dropped)."""
        return list(self._segments)

    def output_at(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(on, frequency Hz, power W) on the output at each of `times` (world clock)."""
        times = np.asarray(times, dtype=float)
        on = np.zeros(times.shape, dtype=bool)
        frequency, power = np.zeros(times.shape), np.zeros(times.shape)
        which = self._segment_index(times)
        for i in np.unique(which):
            mask = which == i
            seg = self._segments[i]
            s = seg.setting
            on[mask] = s.on
            if s.mode == Mode.FIXED:
                frequency[mask], power[mask] = s.frequency, s.power
                continue
            n = self._count(seg, times[mask] - self._step_settle(s.mode))
            k = (n % len(s.frequencies)).astype(int)
            frequency[mask], power[mask] = s.frequencies[k], s.powers[k]
        return on, frequency, power

    def phase_at(self, times: np.ndarray) -> np.ndarray:
        """Phase (rad) of the output at each of `times`."""
        which = self._segment_index(np.asarray(times, dtype=float))
        return np.asarray([s.setting.phase for s in self._segments])[which]

    # --- internals ------------------------------------------------------------------------

    def _step_settle(self, mode: Mode) -> float:
        c = self.constraints
        if mode == Mode.LIST:
            return max(c.frequency_settle_time, c.level_settle_time)
        return c.frequency_settle_time

    def _rearm(self, on_output: bool, **changes) -> None:
        """Start the sweep or list again at its first point; it settles if it is on the output."""
        settle = self._step_settle(self._setting.mode) if on_output else 0.0
        self._apply(settle=settle, rearm=True, **changes)

    def _apply(self, settle: float, rearm: bool = False, **changes) -> None:
        """Record the setting with `changes` as reaching the output `settle` s from now."""
        now = self.world.clock()
        self._sync_playbacks()
        s = replace(self._setting, **changes)
        if s.mode == Mode.SWEEP:
            f = self._sweep.frequencies()
            s = replace(s, frequencies=f, powers=np.full(f.shape, s.power))
        elif s.mode == Mode.LIST:
            s = replace(s, frequencies=self._list[0], powers=self._list[1])
        last = self._segments[-1]
        armed = now if rearm else last.armed
        self._setting = s
        self._segments.append(Segment(max(now + settle, last.t), armed, s))
        self._times = None
        if len(self._segments) > MAX_SEGMENTS:
            del self._segments[: MAX_SEGMENTS // 2]
            first = self._segments[0].armed
            self._software = [t for t in self._software if t > first]

    def _checked_list(self, frequencies: np.ndarray,
                      powers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = self.constraints
        f = np.array(frequencies, dtype=float)
        p = np.array(powers, dtype=float)
        if f.ndim != 1 or p.shape != f.shape:
            raise Refused("LIST_LENGTH", f"a list needs as many powers as frequencies, got "
                                         f"{p.shape} powers and {f.shape} frequencies")
        if not 1 <= len(f) <= c.list_max_points:
            raise Refused("LIST_LENGTH", f"a list has 1 to {c.list_max_points} points, "
                                         f"got {len(f)}")
        for name, values, low, high, unit in (("list frequency", f, c.frequency_min,
                                               c.frequency_max, "Hz"),
                                              ("list power", p, c.power_min, c.power_max, "W")):
            bad = np.flatnonzero(~((values >= low) & (values <= high)))
            if bad.size:
                check_range(f"{name} {bad[0]}:", values[bad[0]], low, high, unit)
        return f, p

    def _segment_index(self, times: np.ndarray) -> np.ndarray:
        if self._times is None:
            self._times = np.asarray([s.t for s in self._segments])
        return np.clip(np.searchsorted(self._times, times, side="right") - 1, 0, None)

    def _count(self, seg: Segment, times: np.ndarray) -> np.ndarray:
        """Triggers from `seg.armed` up to each of `times` (0 before it)."""
        s = seg.setting
        if s.trigger == TriggerSource.IMMEDIATE:
            return np.clip(np.floor((times - seg.armed) / s.dwell), 0, None).astype(np.int64)
        if s.trigger == TriggerSource.SOFTWARE:
            sw = np.asarray(self._software)
            n = np.searchsorted(sw, times, side="right") - np.searchsorted(sw, seg.armed, "right")
            return np.clip(n, 0, None).astype(np.int64)
        return np.clip(self._edges(times) - self._edges(np.asarray([seg.armed]))[0], 0, None)

    def _edges(self, times: np.ndarray) -> np.ndarray:
        """Rising edges of the trigger channel, over every run seen, up to each of `times`."""
        self._sync_playbacks()
        total = np.zeros(times.shape, dtype=np.int64)
        runs = self._playbacks
        for i, run in enumerate(runs):
            stop = min(run.end, runs[i + 1].start) if i + 1 < len(runs) else run.end
            total += edges_until(run, self.trigger_channel, times, stop).astype(np.int64)
        return total

    def _sync_playbacks(self) -> None:
        """Remember the sequencer's current run, so its edges count after it is replaced."""
        run = self.world.playback()
        if run is None or (self._playbacks and self._playbacks[-1] == run):
            return
        self._playbacks.append(run)
        if len(self._playbacks) > MAX_PLAYBACKS:
            del self._playbacks[: MAX_PLAYBACKS // 2]


def _enum(kind: type, value: object, name: str):
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(f"{m.value} {m.name}" for m in kind)
        raise Refused("OUT_OF_RANGE", f"{name} {value!r} is not one of {choices}") from None


def open_driver(address: str) -> SimSignalGenerator:
    """The simulated generator of `<world file>[#mw|#rf]` (default section mw)."""
    world, spec, key = open_section(address, "mw", SignalGeneratorSpec)
    return world.driver(key, lambda: SimSignalGenerator(world, spec))
