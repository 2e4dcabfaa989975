"""An NV measurement at every point of a generator's sweep, stepped in hardware: Sardana's
continuous acquisition (as in its time scan) of the NV measurement group whose counter is
started once by software (env NanomriNVSweepMntGrp, else mg_nv_sweep) and plays the whole
sweep: the sequencer steps the generator's sweep with a trigger pulse after each point's
repetitions, so a point costs no software round trip. The scan's records get the generator's
frequency of each point; its acquisition time is what the sequencer played."""

import contextlib
import time
from collections.abc import Iterator

import numpy as np
import tango
from sardana.macroserver.scan import TScan
from sardana.macroserver.scan.gscan import generate_timestamps
from sardana.pool.pooldefs import SynchDomain, SynchParam

from nanomri.interfaces.signal_generator import Mode, TriggerSource

from .continuous import begin_acquisition

SWEEP_MNTGRP_ENV = "NanomriNVSweepMntGrp"
SWEEP_MNTGRP = "mg_nv_sweep"


class SweptScan(TScan):
    """One continuous acquisition of `len(frequencies)` values, the generator stepping through
    `frequencies` on the sequencer's trigger, `active` s of the measurement per point and the
    generator's settling after each step."""

    def __init__(self, macro, generator: tango.DeviceProxy, frequencies: np.ndarray,
                 active: float, moveables: list, env: dict):
        super().__init__(macro, moveables=moveables, env=env)
        self._generator, self._frequencies = generator, frequencies
        settle = float(generator.settle_time)
        self._synch_description = [{
            SynchParam.Delay: {SynchDomain.Time: 0.0},
            SynchParam.Active: {SynchDomain.Time: active},
            SynchParam.Total: {SynchDomain.Time: active + settle},
            SynchParam.Repeats: len(frequencies)}]

    def scan_loop(self):
        macro, mg = self.macro, self.measurement_group
        begin_acquisition(self)
        stamps = generate_timestamps(self.synch_description, time.time() - self._env["startts"])
        name = self.moveables[0].moveable.getName()
        for i, frequency in enumerate(self._frequencies):
            stamps[i][name] = float(frequency)
        self.data.initial_data = stamps
        started = time.monotonic()
        with self._swept():
            mg.count_continuous(self.synch_description, self.value_buffer_changed,
                                self.value_ref_buffer_changed)
        played = time.monotonic() - started
        self.wait_value_buffer()
        self.join_thread_pool()
        macro.checkPoint()
        self._fill_missing_records()
        self.data.endRecords()
        group = self.synch_description[0]
        self._env["acqtime"] = group[SynchParam.Active][SynchDomain.Time] * len(self._frequencies)
        self._env["motiontime"] = max(played - self._env["acqtime"], 0.0)
        yield 100
        for hook in macro.getHooks("post-acq"):
            hook()

    @contextlib.contextmanager
    def _swept(self) -> Iterator[None]:
        """The generator sweeping `frequencies` on its trigger input from the first point, and
        back on its CW frequency afterwards."""
        g, f = self._generator, self._frequencies
        g.write_attributes([("sweep_start", float(f[0])), ("sweep_stop", float(f[-1])),
                            ("sweep_points", len(f)),
                            ("trigger_source", int(TriggerSource.EXTERNAL))])
        g.mode = int(Mode.SWEEP)
        g.Restart()
        try:
            yield
        finally:
            g.mode = int(Mode.FIXED)
