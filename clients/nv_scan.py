"""The step scan of NV measurements that the NV macros share (macros/nv_scans.py,
macros/pulsed.py): 1 to 3 motors, the last axis fastest, counted on the NV measurement group
(mg_nv) with Sardana's step scan, so hooks, pause and resume, the Door's records and both
recorders come from the framework; or one generator's frequency swept in hardware
(`make_sweep`, clients/nv_sweep.py). Its integration time is a number of repetitions (Sardana's
monitor count), its acquisition time the sequences' play time."""

import time
from contextlib import contextmanager
from datetime import timedelta

import numpy as np
from sardana.macroserver.macro import Hookable, Macro
from sardana.macroserver.scan import SScan
from sardana.macroserver.scan.gscan import MoveableDesc
from sardana.macroserver.scan.scandata import ColumnDesc

from nanomri.scan_axes import positions

from . import snapshot
from .focus import refocus_with
from .nv_measurement import env_or, mntgrp
from .nv_sweep import SWEEP_MNTGRP, SWEEP_MNTGRP_ENV, SweptScan
from .sequence_runner import SequenceRunner, device_proxy
from .tip_tracking import TRACK_ENV, TipTracker

HOOKS = ("pre-scan", "pre-move", "post-move", "pre-acq", "post-acq", "post-step", "post-scan")
REFOCUS_ENV = "NanomriRefocus"  # s between refocusings on the NV during a scan; 0 or unset: never
# TRACK_ENV (NanomriTrack): the tip re-registered on the NV between lines (clients/tip_tracking)
LEAPFROG_ENV = "NanomriLeapfrog"  # m the scan head lifts the tip between pixels; 0 or unset: none


class NVScan(Macro, Hookable):
    """A step scan of 1 to 3 motors (the last axis fastest) counting the NV measurement."""

    hints = {"scan": "nvscan", "allowsHooks": HOOKS}
    env = (snapshot.INSTRUMENTS_ENV, "ScanDir")
    swept = False  # a step scan, or a sweep in hardware (make_sweep)

    def setup_axes(self, axes: list[list], repetitions: int) -> None:
        """`axes`: [motor, start, end, n] per axis, slowest first."""
        if not 1 <= len(axes) <= 3:
            raise ValueError(f"give 1 to 3 axes, got {len(axes)}")
        if repetitions < 1:
            raise ValueError(f"repetitions must be at least 1, got {repetitions}")
        motors = [a[0] for a in axes]
        names = [m.getName() for m in motors]
        if len(set(names)) != len(names):
            raise ValueError(f"the motors must differ, got {', '.join(names)}")
        self.motors = motors
        self.axes = [positions(f"axis {name}", *a[1:]) for name, a in zip(names, axes,
                                                                           strict=True)]
        self.integ_time = -repetitions  # Sardana's monitor count: repetitions of the sequence
        self.nb_points = int(np.prod([len(a) for a in self.axes]))
        self.devices = dict(self.getEnv(snapshot.INSTRUMENTS_ENV))
        self.runner = SequenceRunner(self.devices, self.checkPoint)
        tracking = env_or(self, TRACK_ENV, None)
        self._tracker = (TipTracker(self, self.runner, tracking, self.devices) if tracking
                         else None)
        self._lines = LineHook(self, float(env_or(self, REFOCUS_ENV, 0.0)), self._tracker)
        self.appendHook((self._lines, ["post-step"]))
        if self._tracker:
            self.appendHook((self._tracker, ["pre-acq"]))
            self.appendHook((self._tracker.before_scan, ["pre-scan"]))

    def make_scan(self, extra_columns: tuple[str, ...] = ()) -> None:
        moveables = [MoveableDesc(moveable=m, min_value=float(a.min()), max_value=float(a.max()))
                     for m, a in zip(self.motors, self.axes, strict=True)]
        moveables[-1].is_reference = True
        env = {}
        if len(self.axes) == 2:
            env["nanomri_raster"] = {
                "fast_motor": self.motors[1].getName(), "slow_motor": self.motors[0].getName(),
                "fast_positions": self.axes[1].tolist(), "slow_positions": self.axes[0].tolist(),
                "dwell": 0.0, "bidirectional": False}
        if self._tracker:
            extra_columns += TipTracker.COLUMNS
        columns = [ColumnDesc(name=c, label=c, dtype="float64", shape=()) for c in extra_columns]
        self._gScan = PlayedScan(self, self._generator, moveables, env, extrainfodesc=columns)
        self.setData(self._gScan.data)

    def make_sweep(self, generator: str) -> None:
        """Instead of a step scan, the one axis, the frequency of the generator of role
        `generator` (env NanomriInstruments), swept in hardware (`nv_sweep.SweptScan`)."""
        (motor,), (frequencies,) = self.motors, self.axes
        moveable = MoveableDesc(moveable=motor, min_value=float(frequencies.min()),
                                max_value=float(frequencies.max()))
        moveable.is_reference = True
        played = -self.integ_time * device_proxy(self.devices["sequencer"]).length
        self.swept = True  # counted with the sweep's measurement group
        self._gScan = SweptScan(self, device_proxy(self.devices[generator]), frequencies,
                                played, [moveable], {})
        self.setData(self._gScan.data)

    def _generator(self):
        step = {"integ_time": self.integ_time, "check_func": [],
                "pre-move-hooks": self.getHooks("pre-move"),
                "post-move-hooks": self.getHooks("post-move"),
                "pre-acq-hooks": self.getHooks("pre-acq"),
                "post-acq-hooks": self.getHooks("post-acq") + self.getHooks("_NOHINTS_"),
                "post-step-hooks": self.getHooks("post-step")}
        grids = np.meshgrid(*self.axes, indexing="ij")
        last = (None,) * len(self.axes)
        for i, where in enumerate(zip(*(g.ravel() for g in grids), strict=True)):
            step["positions"] = moved(where, last)
            step["point_id"], step["extrainfo"] = i, {}
            last = where
            yield step

    def getEnv(self, key=None, macro_name=None, door_name=None):
        """The scan counts with the NV measurement group (env NanomriNVMntGrp, else mg_nv)."""
        if key == "ActiveMntGrp":
            return (env_or(self, SWEEP_MNTGRP_ENV, SWEEP_MNTGRP) if self.swept
                    else mntgrp(self))
        return super().getEnv(key, macro_name, door_name)

    def getTimeEstimation(self) -> float:
        """The sequences played, without the moves."""
        length = device_proxy(self.devices["sequencer"]).length
        return -self.integ_time * length * self.nb_points

    def getIntervalEstimation(self) -> int:
        return self.nb_points

    @contextmanager
    def _leapfrog(self):
        """The scan head hopping between pixels for the scan, if env NanomriLeapfrog asks."""
        height = float(env_or(self, LEAPFROG_ENV, 0.0))
        if not height:
            yield
            return
        if "probe" not in self.devices:
            raise ValueError(f"{LEAPFROG_ENV} is set but {snapshot.INSTRUMENTS_ENV} has no probe")
        probe = device_proxy(self.devices["probe"])
        before = probe.leapfrog_height
        probe.leapfrog_height = height  # the device refuses a height beyond its range
        self.output(f"leapfrog: the tip hops {height * 1e9:.3g} nm between pixels")
        try:
            yield
        finally:
            probe.leapfrog_height = before

    def run(self, *args):
        with self._leapfrog():  # refused before a file exists
            yield from self._gScan.step_scan()

    @property
    def gscan(self):
        return self._gScan


def moved(where: tuple, last: tuple) -> list[float | None]:
    """The positions of a step: within a line the fast axis alone (None: a motor not moved);
    where a slower axis changes, every axis. Sardana 3.7's step scan fails (`positions.insert`
    on an array) when two motors move and another does not."""
    changed = [p != b for p, b in zip(where, last, strict=True)]
    if sum(changed) > 1:
        return [float(p) for p in where]
    return [float(p) if c else None for p, c in zip(where, changed, strict=True)]


class LineHook:
    """Post-step hook: at the end of every line, the time left, the confocal spot refocused
    on the NV if `every` s have passed since the last time (0: never), and the tip
    re-registered on the NV if the `tracker` is due."""

    def __init__(self, macro: NVScan, every: float, tracker: TipTracker | None = None):
        self.macro, self.every, self.tracker = macro, every, tracker
        self.points = 0
        self.started = self.focused = time.monotonic()

    def __call__(self) -> None:
        macro = self.macro
        self.points += 1
        line, total = len(macro.axes[-1]), macro.nb_points
        if self.points % line:
            return
        left = (time.monotonic() - self.started) * (total / self.points - 1)
        macro.output(f"line {self.points // line} of {total // line} done, "
                     f"{timedelta(seconds=round(left))} left")
        if self.every and time.monotonic() - self.focused >= self.every and self.points < total:
            refocus_with(macro, macro.runner)  # against drift, between lines
            self.focused = time.monotonic()
        if self.tracker and self.tracker.due() and self.points < total:
            self.tracker.register()


class PlayedScan(SScan):
    """Sardana's step scan whose acquisition time is what the sequencer played: Sardana adds
    the integration time, here a negative number of repetitions, at every point."""

    def __init__(self, macro: NVScan, *args, **kwargs):
        super().__init__(macro, *args, **kwargs)
        self._sequencer = device_proxy(macro.devices["sequencer"])

    def stepUp(self, n, step, lstep):
        before = self._sum_acq_time
        super().stepUp(n, step, lstep)
        self._sum_acq_time = before - step["integ_time"] * self._sequencer.length
        self._env["acqtime"] = self._sum_acq_time
