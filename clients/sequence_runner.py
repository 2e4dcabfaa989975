"""The sequencer, counter, laser and generators of one set-up, driven directly for what is
not a scan point: freqlock's probes of the NV's line, refocus's timed counts."""

import time
from collections.abc import Callable, Mapping

import numpy as np
import tango

from nanomri.clients.device_settings import ensure
from nanomri.interfaces.laser import LaserMode
from nanomri.interfaces.photon_counter import CountingMode

REQUIRED = ("sequencer", "counter", "laser", "mw")
OPTIONAL = ("rf",)
POLL = 0.01  # s between looks at the sequencer while it plays
SETTLE_WAIT = 1.0  # s at most for a generator to settle on a new frequency
RUN_MARGIN = 5.0  # s a run may take beyond its repetitions before it counts as stuck


def device_proxy(device: str) -> tango.DeviceProxy:
    """A proxy that reads the device, not its polling cache (gate_counts is polled)."""
    proxy = tango.DeviceProxy(device)
    proxy.set_source(tango.DevSource.DEV)
    return proxy


class SequenceRunner:
    """The sequencer, counter, laser and generators of one set-up (role -> Tango device);
    `check` is called while waiting, so that a macro's abort or pause reaches it."""

    def __init__(self, devices: Mapping[str, str], check: Callable[[], None]):
        missing = set(REQUIRED) - set(devices)
        if missing:
            raise ValueError(f"the instruments lack {', '.join(sorted(missing))}")
        self.dev = {role: device_proxy(devices[role])
                    for role in REQUIRED + OPTIONAL if role in devices}
        self.check = check

    def gate_laser(self, gated: bool) -> None:
        """The laser following the sequencer's laser channel (and emitting), or CW."""
        laser = self.dev["laser"]
        laser.mode = int(LaserMode.GATED if gated else LaserMode.CW)
        if gated:
            laser.emission = True

    def run(self, repetitions: int) -> np.ndarray:
        """Play the loaded sequence; photons of each of its gates."""
        sequencer, counter = self.dev["sequencer"], self.dev["counter"]
        ensure(sequencer, repetitions=repetitions)
        ensure(counter, counting_mode=CountingMode.SEQUENCE, bins=1)
        counter.Start()
        sequencer.Run()
        self._wait(sequencer, tango.DevState.RUNNING, repetitions * sequencer.length + RUN_MARGIN)
        return np.asarray(counter.gate_counts, dtype=float)

    def count(self, dwell: float) -> float:
        """Photons of one timed gate of `dwell` (the laser as it is)."""
        counter = self.dev["counter"]
        counter.counting_mode = int(CountingMode.TIMED)
        counter.dwell = dwell
        counter.Start()
        self._wait(counter, tango.DevState.RUNNING, dwell + RUN_MARGIN)
        return float(counter.counts)

    def tune(self, role: str, frequency: float) -> None:
        """Set a generator's frequency and wait until its output carries it."""
        generator = self.dev[role]
        generator.frequency = frequency
        deadline = time.monotonic() + SETTLE_WAIT
        while not generator.settled and time.monotonic() < deadline:
            time.sleep(POLL)

    def _wait(self, proxy: tango.DeviceProxy, while_in: tango.DevState,
              timeout: float = 60.0) -> None:
        """Until `proxy` leaves `while_in`; TimeoutError naming it after `timeout` s."""
        deadline = time.monotonic() + timeout
        while proxy.state() == while_in:
            self.check()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{proxy.dev_name()} still {while_in} after {timeout:.3g} s")
            time.sleep(POLL)
