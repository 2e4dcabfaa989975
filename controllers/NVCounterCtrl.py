"""Sardana counter/timer controller of the NV measurement: one acquisition plays the sequence
loaded on the pulse sequencer (NVSequenceCtrl puts it there) and counts its two gates.

Axis 1 `signal` is gate 0 (the spin read after the measurement's pulses), axis 2 `reference`
gate 1 (the pumped ms=0 state), each summed over the repetitions; axis 1 is the timer. The
integration time follows Sardana's convention: a negative one is a monitor count, so `ct -1e5`
plays 100 000 repetitions; a positive one plays as many whole repetitions as fit in it. While
the sequence plays the laser follows the sequencer's laser channel, and stays so (a count of
the photon counter's own, PhotonCounterCtrl, puts it back to CW). The counts are read from the
counter once the run has ended: the simulated counter computes a run's photons when read.
"""

import tango
from sardana import State
from sardana.pool.controller import CounterTimerController, Description, Type

from nanomri.clients.device_settings import ensure
from nanomri.interfaces.laser import LaserMode
from nanomri.interfaces.photon_counter import CountingMode
from nanomri.sequence import Sequence
from nanomri.sequences import GATE

GATES = {1: "signal", 2: "reference"}


def repetitions_of(value: float, length: float) -> int:
    """Repetitions of a sequence of `length` s for integration time `value` (negative: a
    monitor count of repetitions)."""
    if value < 0:
        return max(1, round(-value))
    return max(1, int(value / length + 1e-9))


class NVCounterCtrl(CounterTimerController):
    """A thin Tango client of the sequencer, photon counter and laser of one set-up."""

    MaxDevice = len(GATES)
    default_timer = 1
    ctrl_properties = {
        "sequencer": {Type: str, Description: "Tango device name of the nanomri PulseSequencer"},
        "counter": {Type: str, Description: "Tango device name of the nanomri PhotonCounter"},
        "laser": {Type: str, Description: "Tango device name of the nanomri NVLaser"},
    }

    def __init__(self, inst, props, *args, **kwargs):
        super().__init__(inst, props, *args, **kwargs)
        self._sequencer, self._counter, self._laser = (
            tango.DeviceProxy(name) for name in (self.sequencer, self.counter, self.laser))
        for proxy in (self._sequencer, self._counter, self._laser):
            proxy.set_source(tango.DevSource.DEV)  # never a poll cache
        self._repetitions = 1
        self._playing = False
        self._state = (State.On, "ready")
        self._counts: list[int] = []

    def AddDevice(self, axis):
        if axis not in GATES:
            raise ValueError(f"the NV counter has axes {sorted(GATES)} (signal, reference), "
                             f"got {axis}")

    def LoadOne(self, axis, value, repetitions, latency):
        if repetitions != 1:
            raise ValueError("the NV counter plays one sequence per software trigger")
        sequence = Sequence.from_json(self._sequencer.sequence or '{"length": 0, "pulses": []}')
        if len(sequence.windows(GATE)) != len(GATES) or sequence.length <= 0:
            raise RuntimeError(f"{self.sequencer} holds no NV measurement (two gates per "
                               "repetition): choose one with nvmode")
        self._repetitions = repetitions_of(value, sequence.length)
        ensure(self._sequencer, "repetitions", self._repetitions)

    def StartAll(self):
        self._counts = []
        ensure(self._counter, "counting_mode", CountingMode.SEQUENCE)
        self._counter.Start()
        ensure(self._laser, "mode", LaserMode.GATED)
        ensure(self._laser, "emission", True)
        self._playing = True
        self._sequencer.Run()

    def StateAll(self):
        devstate = self._sequencer.state()
        if devstate == tango.DevState.RUNNING:
            self._state = (State.Moving, f"playing {self._repetitions} repetitions")
            return
        self._playing = False
        self._state = ((State.Fault, self._sequencer.status())
                       if devstate == tango.DevState.FAULT else (State.On, "ready"))

    def StateOne(self, axis):
        return self._state

    def ReadAll(self):
        if not self._playing:
            self._counts = [int(c) for c in self._counter.gate_counts]

    def ReadOne(self, axis):
        return self._counts[axis - 1] if len(self._counts) >= axis else float("nan")

    def AbortOne(self, axis):
        self._sequencer.Stop()
        self._counter.Stop()
        self._playing = False
