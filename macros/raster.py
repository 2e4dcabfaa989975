"""The `raster` macro: a 2-D image, fast axis nested in slow axis, on Sardana's step scan."""

import numpy as np
from sardana.macroserver.macro import Hookable, Macro, Type
from sardana.macroserver.scan import SScan
from sardana.macroserver.scan.gscan import MoveableDesc

HOOKS = ("pre-scan", "pre-move", "post-move", "pre-acq", "post-acq", "post-step", "post-scan")


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
    ]

    def prepare(self, fast, fast_start, fast_end, fast_n, slow, slow_start, slow_end, slow_n,
                dwell, **opts):
        if fast.getName() == slow.getName():
            raise ValueError(f"fast and slow motor must differ, both are {fast.getName()}")
        if not np.isfinite(dwell) or dwell < 0:
            raise ValueError(f"dwell must be a finite time >= 0 s, got {dwell}")
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
        }
        self._gScan = SScan(self, self._generator, moveables, env)
        self.setData(self._gScan.data)

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

    def run(self, *args):
        yield from self._gScan.step_scan()

    @property
    def gscan(self):
        return self._gScan
