"""`refocus`: the confocal spot back on the sensor NV (`nanomri.clients.focus`), the laser CW
and emitting while it counts; the NV scans call it periodically when env `NanomriRefocus` (s
between refocusings) is set."""

from sardana.macroserver.macro import Macro, Type

from nanomri.clients import snapshot
from nanomri.clients.focus import DWELL, refocus_with
from nanomri.clients.sequence_runner import SequenceRunner


class refocus(Macro):
    """The confocal spot back on the NV it is near: lines of counts through the present focus
    along x, y and z, each axis moved to its peak."""

    param_def = [["dwell", Type.Float, DWELL, "s of counts per point"]]
    env = (snapshot.INSTRUMENTS_ENV,)

    def run(self, dwell):
        if not dwell > 0:
            raise ValueError(f"dwell must be a positive time, got {dwell}")
        devices = dict(self.getEnv(snapshot.INSTRUMENTS_ENV))
        refocus_with(self, SequenceRunner(devices, self.checkPoint), dwell)
