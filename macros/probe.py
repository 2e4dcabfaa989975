"""Macros of the scan head named in env `NanomriInstruments['probe']`: `approach` (the tip
down onto the surface, into feedback), `retract` (feedback off, tip to the top of z) and
`tiptrack` (the tip registered once on the NV, the drift estimate set: env NanomriTrack)."""

import time

import tango
from sardana.macroserver.macro import Macro, Optional, Type

from nanomri.clients import snapshot
from nanomri.clients.sequence_runner import POLL, SequenceRunner, device_proxy
from nanomri.clients.tip_tracking import TRACK_ENV, TipTracker
from nanomri.interfaces.scanner import FEEDBACK_MODES

APPROACH_TIMEOUT = 600.0  # s of wall time: a 1 µm approach at 0.1 µm/s takes 10 s of world time


def _probe(macro: Macro) -> tango.DeviceProxy:
    devices = dict(macro.getEnv(snapshot.INSTRUMENTS_ENV))
    if "probe" not in devices:
        raise ValueError(f"{snapshot.INSTRUMENTS_ENV} has no probe")
    return device_proxy(devices["probe"])


class approach(Macro):
    """Bring the tip down at the approach velocity until the feedback reaches its setpoint;
    the feedback then holds it. Fails if the surface is out of the z travel."""

    param_def = [["feedback", Type.String, Optional,
                  f"{', '.join(FEEDBACK_MODES)}: the signal held (the set one if omitted)"],
                 ["timeout", Type.Float, APPROACH_TIMEOUT, "s to wait at most"]]

    def run(self, feedback, timeout):
        probe = _probe(self)
        if feedback is not None:
            if feedback not in FEEDBACK_MODES:
                raise ValueError(f"feedback must be one of {', '.join(FEEDBACK_MODES)}, got "
                                 f"{feedback!r}")
            probe.feedback_mode = FEEDBACK_MODES.index(feedback)
        probe.Approach()
        deadline = time.monotonic() + timeout
        while probe.state() == tango.DevState.MOVING:
            self.checkPoint()
            if time.monotonic() > deadline:
                probe.Retract()
                raise TimeoutError(f"no contact after {timeout:.3g} s: tip retracted")
            time.sleep(POLL)
        if not probe.feedback:
            raise RuntimeError(f"the approach ended out of contact: {probe.status()}")
        self.output(f"in feedback: surface at z = {probe.topography:.6g} m")

    def on_abort(self):
        _probe(self).Retract()


class retract(Macro):
    """Feedback off and the tip up to the top of its z travel."""

    def run(self):
        _probe(self).Retract()
        self.output("tip retracted")


class tiptrack(Macro):
    """Register the tip on the NV once (a small map of its locked resonance, fitted with the
    tip's calibrated field) and set the scan head's drift estimate from this and the earlier
    registrations kept in env NanomriTrack; the tip, MW, laser and measurement left as found.
    What NV scans do between lines when NanomriTrack is set, for a measurement of single
    lines or between scans."""

    env = (TRACK_ENV, snapshot.INSTRUMENTS_ENV)

    def run(self):
        devices = dict(self.getEnv(snapshot.INSTRUMENTS_ENV))
        runner = SequenceRunner(devices, self.checkPoint)
        TipTracker(self, runner, self.getEnv(TRACK_ENV), devices).register()
