"""The `raster` macro: a 2-D image, fast axis nested in slow axis.

On two axes of one nanomri scanner the image is taken in hardware: the stage plays one motion
program (`nanomri.raster_path`) and the pulse sequencer one gate per pixel, both started by the
program's start, while Sardana's continuous acquisition (as in its time scan) collects one value
per gate from the hardware-gated measurement group (env ContinuousMntGrp). `step` counts at rest
on each settled pixel; `--continuous` sweeps each line at constant velocity with each gate
centred on its pixel; `--bidirectional` sweeps odd lines backwards. On other motors, or with
per-point hooks, `step` runs on Sardana's step scan (a move and a count per pixel).
"""

import contextlib
import json
import time
from collections.abc import Iterator

import numpy as np
import tango
from sardana.macroserver.macro import Hookable, Macro, Type
from sardana.macroserver.scan import SScan, TScan
from sardana.macroserver.scan.gscan import MoveableDesc, ScanException, generate_timestamps
from sardana.pool.pooldefs import SynchDomain, SynchParam

from nanomri.clients.continuous import begin_acquisition
from nanomri.interfaces.scanner import PathMove
from nanomri.interfaces.sequencer import StartTrigger
from nanomri.raster_path import AxisLimits, RasterPlan, plan_raster, with_approach, with_gate_lag
from nanomri.sequence import Pulse, Sequence

HOOKS = ("pre-scan", "pre-move", "post-move", "pre-acq", "post-acq", "post-step", "post-scan")
PER_POINT_HOOKS = ("pre-move", "post-move", "post-step")
MODES = ("step", "--continuous", "--bidirectional")
PAUSE_POLL = 0.05  # s between looks at a pause request while the stage plays a program
REST_WAIT = 2.0  # s for a stopped stage to come to rest before the Pool is told where it is
PAUSE_MARGIN = 0.05  # s: a line ending this close to a pause is taken again, to be sure
LAG_WAIT = 5.0  # s at most for the sequencer to time its start on a calibration run
ONE_GATE = Sequence((Pulse("gate", 0.0, 1e-6),), 1e-6)  # what a calibration run plays


def raster_axes(start: float, end: float, n: int, name: str) -> np.ndarray:
    """The n pixel positions from start to end, refusing what cannot make an image."""
    if not (np.isfinite(start) and np.isfinite(end)):
        raise ValueError(f"{name}: start and end must be finite, got {start}, {end}")
    if n < 2:
        raise ValueError(f"{name}: need at least 2 pixels, got {n}")
    if end <= start:
        raise ValueError(f"{name}: range is reversed or empty (start {start} >= end {end})")
    return np.linspace(start, end, n)


class raster(Macro, Hookable):
    """Step-scan image: at each pixel of `slow_motor`, scan `fast_motor`; count `dwell` s each.

    Positions in the motors' units (metres for the scanner); one NeXus file per scan.
    """

    hints = {"scan": "raster", "allowsHooks": HOOKS}
    env = ("ActiveMntGrp",)

    param_def = [
        ["fast_motor", Type.Moveable, None, "motor scanned along each line"],
        ["fast_start", Type.Float, None, "first pixel of a line"],
        ["fast_end", Type.Float, None, "last pixel of a line"],
        ["fast_n", Type.Integer, None, "pixels per line"],
        ["slow_motor", Type.Moveable, None, "motor stepped between lines"],
        ["slow_start", Type.Float, None, "first line"],
        ["slow_end", Type.Float, None, "last line"],
        ["slow_n", Type.Integer, None, "number of lines"],
        ["dwell", Type.Float, None, "counting time per pixel (s)"],
        ["mode", Type.String, "step", "step (default), --continuous (hardware-gated sweeps, "
                                      "env ContinuousMntGrp) or --bidirectional (both ways)"],
    ]

    def prepare(self, fast, fast_start, fast_end, fast_n, slow, slow_start, slow_end, slow_n,
                dwell, mode, **opts):
        self.fast_name, self.slow_name = fast.getName(), slow.getName()
        if fast.getName() == slow.getName():
            raise ValueError(f"fast and slow motor must differ, both are {fast.getName()}")
        if not np.isfinite(dwell) or dwell < 0:
            raise ValueError(f"dwell must be a finite time >= 0 s, got {dwell}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.fast_positions = raster_axes(fast_start, fast_end, fast_n, "fast axis")
        self.slow_positions = raster_axes(slow_start, slow_end, slow_n, "slow axis")
        self.dwell = dwell
        self.nb_points = fast_n * slow_n
        self.repeated_lines: list[int] = []  # lines a pause interrupted, taken again
        moveables = [
            MoveableDesc(moveable=fast, min_value=fast_start, max_value=fast_end),
            MoveableDesc(moveable=slow, min_value=slow_start, max_value=slow_end),
        ]
        moveables[0].is_reference = True
        self.scanner = self._hardware(fast, slow, mode, dwell)
        env = dict(opts.get("env", {}))
        env["nanomri_raster"] = {
            "fast_motor": fast.getName(),
            "slow_motor": slow.getName(),
            "fast_positions": self.fast_positions.tolist(),
            "slow_positions": self.slow_positions.tolist(),
            "dwell": dwell,
            "bidirectional": mode == "--bidirectional",
        }
        if self.scanner is None:
            self.plan = None
            self._gScan = SScan(self, self._generator, moveables, env)
        else:
            self.mode, self.limits = mode.lstrip("-"), stage_limits(self.scanner)
            self.fast_axis = self._axis(fast)
            self.plan = self.plan_from(0)
            self._gScan = HardwareRaster(self, moveables, env)
        self.setData(self._gScan.data)

    def plan_from(self, line: int) -> RasterPlan:
        """The hardware program of the lines from `line` on, each swept as in the whole image."""
        return plan_raster(self.fast_axis, self.fast_positions,
                           self._axis(self.getMoveable(self.slow_name)),
                           self.slow_positions[line:], self.dwell, self.mode, *self.limits,
                           first_backwards=line % 2 == 1)

    def _axis(self, motor) -> str:
        """The scanner axis (x, y, z) a motor of ScannerCtrl drives."""
        return "xyz"[int(motor.getAxis()) - 1]

    def _hardware(self, fast, slow, mode: str, dwell: float) -> tango.DeviceProxy | None:
        """The scanner that plays this image in hardware, or None for Sardana's step scan."""
        devices = {scanner_device(m) for m in (fast, slow)}
        device = devices.pop() if len(devices) == 1 else None
        proxy = None if device is None else tango.DeviceProxy(device)
        if proxy is not None and proxy.info().dev_class != "Scanner":
            device = None  # a scan head's tip moves only by moves checked against the surface
        hooked = [h for h in PER_POINT_HOOKS if self.getHooks(h)]
        why = ("its motors are not two axes of one nanomri confocal stage" if device is None
               else f"{', '.join(hooked)} hooks run at every point" if hooked
               else "a zero dwell counts nothing in hardware" if dwell <= 0 else None)
        if why is None:
            proxy.set_source(tango.DevSource.DEV)
            return proxy
        if mode != "step":
            raise ValueError(f"raster {mode} is played by a nanomri scanner in hardware, but "
                             f"{why}; use step mode or meshct")
        self.info(f"raster steps in software (Sardana's step scan): {why}")
        return None

    def getEnv(self, key=None, macro_name=None, door_name=None):
        """A hardware raster counts with the hardware-gated group (env ContinuousMntGrp)."""
        if key == "ActiveMntGrp" and getattr(self, "plan", None) is not None:
            return super().getEnv("ContinuousMntGrp", macro_name, door_name)
        return super().getEnv(key, macro_name, door_name)

    def _generator(self):
        step = {
            "integ_time": self.dwell,
            "pre-move-hooks": self.getHooks("pre-move"),
            "post-move-hooks": self.getHooks("post-move"),
            "pre-acq-hooks": self.getHooks("pre-acq"),
            "post-acq-hooks": self.getHooks("post-acq") + self.getHooks("_NOHINTS_"),
            "post-step-hooks": self.getHooks("post-step"),
            "check_func": [],
        }
        point = 0
        for slow in self.slow_positions:
            for i, fast in enumerate(self.fast_positions):
                # the slow axis is commanded once per line, not at every pixel
                step["positions"] = [fast, slow if i == 0 else None]
                step["point_id"] = point
                point += 1
                yield step

    def getTimeEstimation(self) -> float:
        """The planned program in hardware, at least the time spent counting in software."""
        return self.nb_points * self.dwell if self.plan is None else self.plan.duration

    def getIntervalEstimation(self) -> int:
        return self.nb_points

    def run(self, *args):
        yield from self._gScan.step_scan()

    @property
    def gscan(self):
        return self._gScan


def scanner_device(motor) -> str | None:
    """The Scanner device behind a motor of ScannerCtrl (its ScannerDevice attribute)."""
    try:
        return motor.getAttribute("ScannerDevice").read().rvalue
    except Exception:  # noqa: BLE001 - any other motor has no such attribute
        return None


def stage_limits(scanner: tango.DeviceProxy) -> tuple[dict[str, AxisLimits], float]:
    """Each axis's fastest cruise and the acceleration its moves use now, and settling."""
    limits = {}
    for axis in "xyz":
        top = float(scanner.get_attribute_config(f"velocity_{axis}").max_value)
        limits[axis] = AxisLimits(top, scanner.read_attribute(f"acceleration_{axis}").value)
    return limits, scanner.read_attribute("settle_time").value


def synch_description(plan: RasterPlan) -> list[dict]:
    """One Sardana synchronisation group per line (time domain, from the program's start):
    `Initial` where the line's first gate opens, `Delay` from the previous group's last gate
    as Sardana's generate_timestamps counts it; a sweep's groups also in the position domain
    (its pixel edges along the fast axis, signed in the sweep's direction)."""
    groups, last = [], 0.0
    windows = plan.line_windows() if plan.windows is not None else [None] * plan.lines
    for gates, edges in zip(plan.line_gates(), windows, strict=True):
        first = float(gates[0, 0])
        group = {
            SynchParam.Initial: {SynchDomain.Time: first},
            SynchParam.Delay: {SynchDomain.Time: first - last},
            SynchParam.Active: {SynchDomain.Time: float(gates[0, 1] - gates[0, 0])},
            SynchParam.Total: {SynchDomain.Time: _period(gates)},
            SynchParam.Repeats: len(gates),
        }
        if edges is not None:
            group[SynchParam.Initial][SynchDomain.Position] = float(edges[0, 0])
            group[SynchParam.Active][SynchDomain.Position] = float(edges[0, 1] - edges[0, 0])
            group[SynchParam.Total][SynchDomain.Position] = _period(edges)
        groups.append(group)
        last = float(gates[-1, 0])
    return groups


def _period(windows: np.ndarray) -> float:
    """From one window's opening to the next's (a single window's length)."""
    if len(windows) > 1:
        return float(windows[1, 0] - windows[0, 0])
    return float(windows[0, 1] - windows[0, 0])


class HardwareRaster(TScan):
    """Sardana's continuous acquisition of one value per pixel gate while the stage plays the
    raster's motion program: the program's start triggers the sequencer's gates."""

    def __init__(self, macro: raster, moveables: list, env: dict):
        super().__init__(macro, moveables=moveables, env=env)
        self._synch_description = synch_description(macro.plan)
        self._keep = macro.nb_points  # gates of the program playing that are recorded
        self._held: dict = {}  # channel -> (index, value) of its line in flight
        self._released = 0  # values of the program playing passed on to Sardana
        self._programs = 0.0  # s the stage's programs played, gates and motion

    def _getFileRecorders(self):
        """Sardana's NXscanH5 resizes and flushes its file at every point, milliseconds each,
        more than a pixel's dwell: a hardware raster goes to nanomri's line writer only."""
        recorders = super()._getFileRecorders()
        kept = [r for r in recorders  # by name: Sardana loads its recorder modules afresh
                if "NXscanH5_FileRecorder" not in {c.__name__ for c in type(r).__mro__}]
        if len(kept) < len(recorders):
            self.macro.info("a hardware raster is not written to Sardana's NXscanH5 file")
        return kept

    def _expected(self) -> dict[int, dict]:
        """Time and nominal position of every pixel, in acquisition order."""
        macro, plan = self.macro, self.macro.plan
        fast = np.tile(macro.fast_positions, (plan.lines, 1))
        if plan.reversed_odd_lines:
            fast[1::2] = fast[1::2, ::-1]
        slow = np.repeat(macro.slow_positions, plan.pixels)
        stamps = generate_timestamps(self.synch_description, time.time() - self._env["startts"])
        names = [m.moveable.getName() for m in self.moveables]
        for i, (x, y) in enumerate(zip(fast.ravel(), slow, strict=True)):
            stamps[i].update({names[0]: float(x), names[1]: float(y)})
        return stamps

    def scan_loop(self):
        """Play the image; a pause stops it at once and after the resume the program goes on
        from the line it interrupted. The scan's acqtime is the gates' summed time and its
        motiontime the rest of the stage's programs, so Sardana's end line tells the dead
        time the stage's moves and the software's round trips really cost."""
        macro = self.macro
        begin_acquisition(self)
        self.data.initial_data = self._expected()
        line = 0
        self._lag = 0.0 if macro.plan.windows is not None else self._trigger_lag()
        with self._gated_where_the_stage_is():
            while line < macro.plan.lines:
                line += self._play(line)
                macro.pausePoint()
                macro.checkPoint()
                if 0 < line < macro.plan.lines:
                    macro.info(f"raster resumes at line {line} of {macro.plan.lines}")
        self._env["acqtime"] = float(np.sum(np.diff(macro.plan.gates, axis=1)))
        self._env["motiontime"] = max(self._programs - self._env["acqtime"], 0.0)
        self.wait_value_buffer()
        self.join_thread_pool()
        self._fill_missing_records()
        self.data.endRecords()
        yield 100
        for hook in macro.getHooks("post-acq"):
            hook()

    @contextlib.contextmanager
    def _gated_where_the_stage_is(self) -> Iterator[None]:
        """For sweeps, the measurement group's trigger/gate elements in the position domain on
        the fast axis while the image plays (the stage's comparator opens each gate on its
        pixel's edge), their own settings back afterwards."""
        if self.macro.plan.windows is None:
            yield
            return
        names = {n for n in self.measurement_group.getSynchronizer().values() if n != "software"}
        settings = {"synch_domain": "Position", "position_axis": self.macro.fast_axis}
        elements = [tango.DeviceProxy(name) for name in sorted(names)]
        before = [e.read_attributes(list(settings)) for e in elements]
        try:
            for element in elements:
                element.write_attributes(list(settings.items()))
            yield
        finally:
            for element, values in zip(elements, before, strict=True):
                element.write_attributes([(v.name, v.value) for v in values])

    def _trigger_lag(self) -> float:
        """How long after the stage's motion-start output the sequencer plays its first sample,
        as it timed its last triggered run, or timed now on a run of one gate that a move of
        the stage to where it stands starts: a step image's moves wait that long, so that its
        gates, timed from the sequencer's start, fall on the settled stage."""
        sequencer = tango.DeviceProxy(self.macro.getEnv("NanomriInstruments")["sequencer"])
        sequencer.set_source(tango.DevSource.DEV)
        if np.isnan(sequencer.trigger_lag):
            self.macro.info("raster times the sequencer's start from the stage's motion")
            sequencer.Stop()
            sequencer.write_attributes([("start_trigger", int(StartTrigger.STAGE_MOTION)),
                                        ("delay", 0.0), ("repetitions", 1)])
            sequencer.Load(ONE_GATE.to_json())
            self._wait(lambda: sequencer.state() == tango.DevState.MOVING)  # the upload
            sequencer.Run()
            axis, scanner = self.macro.fast_axis, self.macro.scanner
            here = scanner.read_attribute(axis).value
            scanner.LoadPath(json.dumps([vars(PathMove(axis, 0.0, here,
                                                       self.macro.limits[0][axis].velocity))]))
            scanner.RunPath()
            self._wait(lambda: np.isnan(sequencer.trigger_lag))
        return float(sequencer.trigger_lag)

    @staticmethod
    def _wait(busy) -> None:
        """Until `busy()` is false, at most LAG_WAIT s."""
        deadline = time.monotonic() + LAG_WAIT
        while busy():
            if time.monotonic() > deadline:
                raise ScanException(f"the sequencer did not time its start in {LAG_WAIT} s")
            time.sleep(PAUSE_POLL / 5)

    def _play(self, first: int) -> int:
        """Acquire the lines from `first` on; return how many were completed. A pause stops
        stage and gates at once; the line in flight is dropped, noted, and taken again."""
        macro, mg = self.macro, self.measurement_group
        here = {a: v.value for a, v in zip("xyz", macro.scanner.read_attributes(list("xyz")),
                                            strict=True)}
        plan = with_gate_lag(with_approach(macro.plan_from(first), here, *macro.limits),
                             self._lag)
        self._index_offset, self._keep = first * plan.pixels, plan.gates.shape[0]
        self._held, self._released = {}, 0
        macro.scanner.LoadPath(json.dumps([vars(m) for m in plan.moves]))
        mg.getConfiguration().prepare()
        mg.setSynchDescription(synch_description(plan))
        mg.prepare()
        mg.subscribeValueBuffer(self.value_buffer_changed)
        lines = plan.lines
        try:
            acquisition = mg.start()
            start = time.monotonic()
            macro.scanner.RunPath()
            while mg.getStateEG().readValue() == tango.DevState.MOVING:
                if macro.isPaused() and lines == plan.lines:
                    lines = max(self._lines_done(plan, time.monotonic() - start - PAUSE_MARGIN),
                                self._released // plan.pixels)
                    self._keep = lines * plan.pixels
                    mg.stop()
                    macro.scanner.Stop()
                    if lines < plan.lines:
                        macro.repeated_lines.append(first + lines)
                        macro.info(f"pause: line {first + lines} is dropped and taken again "
                                   "after resume")
                mg.waitFinish(timeout=PAUSE_POLL, id=acquisition)
            self._programs += min(plan.duration, time.monotonic() - start)
        finally:
            mg.unsubscribeValueBuffer(self.value_buffer_changed)
            for channel in list(self._held):  # what came of the last line, or of an abort
                self._release(channel, self._keep)
            self.wait_value_buffer()
            self._tell_the_pool()
        return lines

    def _tell_the_pool(self) -> None:
        """Once the stage rests, have the Pool read its motors' state and position afresh: it
        did not move them, so `wa` and the next scan's start would see where they were before.
        (Added while chasing a next scan that waited forever for a MOVING event after Ctrl-C of
        a raster; it did not cure that.)"""
        deadline = time.monotonic() + REST_WAIT
        while (self.macro.scanner.state() == tango.DevState.MOVING
               and time.monotonic() < deadline):
            time.sleep(PAUSE_POLL / 5)
        for desc in self.moveables:
            desc.moveable.stateObj.read(cache=False)
            desc.moveable.getPosition(force=True)

    @staticmethod
    def _lines_done(plan: RasterPlan, elapsed: float) -> int:
        """Lines whose last gate had closed `elapsed` s into the program."""
        ends = plan.gates[plan.pixels - 1::plan.pixels, 1]
        return int(np.searchsorted(ends, elapsed, side="right"))

    def value_buffer_changed(self, channel, value_buffer):
        """Hand Sardana whole lines only: the values of a line in flight wait for its end, so
        a line a pause drops was never recorded and its repeat records each pixel once."""
        if value_buffer is None:
            return
        held = self._held.setdefault(channel, [])
        held += zip(value_buffer["index"], value_buffer["value"], strict=True)
        self._release(channel, min(held[-1][0] + 1, self._keep) // self.macro.plan.pixels
                      * self.macro.plan.pixels)

    def _release(self, channel, end: int) -> None:
        """Pass on the held values of `channel` before index `end` (of the program playing)."""
        held = self._held.get(channel, [])
        ready = [(i, v) for i, v in held if i < end]
        self._held[channel] = [(i, v) for i, v in held if i >= end]
        if ready:
            self._released = max(self._released, ready[-1][0] + 1)
            super().value_buffer_changed(channel, {"index": [i for i, _ in ready],
                                                   "value": [v for _, v in ready]})
