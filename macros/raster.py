"""The `raster` macro: a 2-D image, fast axis nested in slow axis.

Step mode runs on Sardana's step scan (a move and a count per pixel). `--continuous` and
`--bidirectional` run on its continuous scan (as stock `meshct`): the fast axis sweeps each
line at constant velocity and the counter takes one value per gate of the pulse sequencer,
which the stage's motion start triggers; each gate is centred on its pixel, in both directions.
"""

import numpy as np
from sardana.macroserver.macro import Hookable, Macro, Type
from sardana.macroserver.macros import scan as stock
from sardana.macroserver.scan import CTScan, SScan
from sardana.macroserver.scan.gscan import MoveableDesc

HOOKS = ("pre-scan", "pre-move", "post-move", "pre-acq", "post-acq", "post-step", "post-scan")
MODES = ("step", "--continuous", "--bidirectional")


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
        self.continuous = mode != "step"
        if self.continuous and dwell <= 0:
            raise ValueError(f"a continuous raster needs a dwell > 0 s, got {dwell}")
        self.fast_positions = raster_axes(fast_start, fast_end, fast_n, "fast axis")
        self.slow_positions = raster_axes(slow_start, slow_end, slow_n, "slow axis")
        self.dwell = dwell
        self.nb_points = fast_n * slow_n
        moveables = [
            MoveableDesc(moveable=fast, min_value=fast_start, max_value=fast_end),
            MoveableDesc(moveable=slow, min_value=slow_start, max_value=slow_end),
        ]
        moveables[0].is_reference = True
        env = dict(opts.get("env", {}))
        env["nanomri_raster"] = {
            "fast_motor": fast.getName(),
            "slow_motor": slow.getName(),
            "fast_positions": self.fast_positions.tolist(),
            "slow_positions": self.slow_positions.tolist(),
            "dwell": dwell,
            "bidirectional": mode == "--bidirectional",
        }
        if self.continuous:
            self._sweeps(mode == "--bidirectional")
            self._gScan = CTScan(self, self._ct_generator, moveables, env, [], [])
        else:
            self._gScan = SScan(self, self._generator, moveables, env)
        self.setData(self._gScan.data)

    def _sweeps(self, bidirectional: bool) -> None:
        """The line sweeps of a continuous raster, as stock meshct's generator reads them.

        Each line sweeps half a pixel beyond its first and last pixel, so that gate i (one
        pixel long) is centred on pixel i whichever way the line goes; no last point.
        """
        step = self.fast_positions[1] - self.fast_positions[0]
        ends = (self.fast_positions[0] - step / 2, self.fast_positions[-1] + step / 2)
        self.motors = [self.getMoveable(self.fast_name), self.getMoveable(self.slow_name)]
        n = len(self.fast_positions)
        self.nr_intervs = np.array([n, len(self.slow_positions) - 1], dtype="i")
        self.nr_interv, self.nb_points, self.do_last_point = n, n, False
        self.integ_time, self.latency_time = self.dwell, 0.0
        self.starts_points, self.waypoints = [], []
        for row, slow in enumerate(self.slow_positions):
            first, last = ends[::-1] if bidirectional and row % 2 else ends
            self.starts_points.append(np.array([first, slow]))
            self.waypoints.append(np.array([last, slow]))
        self.starts, self.finals = self.starts_points[0], self.waypoints[-1]

    _ct_generator = stock.meshct._generator

    def getEnv(self, key=None, macro_name=None, door_name=None):
        """A continuous raster counts with the hardware-gated group (env ContinuousMntGrp) and
        does not move back after each sweep's overshoot."""
        if getattr(self, "continuous", False):
            if key == "ActiveMntGrp":
                return super().getEnv("ContinuousMntGrp", macro_name, door_name)
            if key == "ScanOvershootCorrection":  # the next line's approach takes it up
                return False
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
        """At least the time spent counting."""
        return self.nb_points * self.dwell

    def getIntervalEstimation(self) -> int:
        """Points of a step raster, line sweeps of a continuous one."""
        return len(self.slow_positions) if self.continuous else self.nb_points

    def run(self, *args):
        yield from self._gScan.step_scan()

    @property
    def gscan(self):
        return self._gScan
