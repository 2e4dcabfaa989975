"""Sardana counter/timer controller of the NV measurement: one acquisition plays the sequence
loaded on the pulse sequencer (NVSequenceCtrl puts it there) and counts its two gates.

Axis 1 `signal` is gate 0 (the spin read after the measurement's pulses), axis 2 `reference`
gate 1 (the pumped ms=0 state), each summed over the repetitions; axis 1 is the timer. The
integration time follows Sardana's convention: a negative one is a monitor count, so `ct -1e5`
plays 100 000 repetitions; a positive one plays as many whole repetitions as fit in it. While
the sequence plays the laser follows the sequencer's laser channel, and stays so (a count of
the photon counter's own, PhotonCounterCtrl, puts it back to CW). The counts are read from the
counter once the run has ended: the simulated counter computes a run's photons when read.

Synchronised by a software start (measurement group channels `synchronization: Start`), one
acquisition is a whole sweep stepped in hardware (`odmr --continuous`): the Pool asks for one
value per point (its repetitions), the integration time is per point and the latency is the
swept generator's settling. The sequencer plays `nv_sequences.sweep_point` once per point, its
trigger pulse stepping the generator (its trigger input wired to the `sweep_trigger` channel),
the whole sweep as many passes as the points' repetitions need; the counter keeps a bin per
point. The measurement's own sequence is put back on the sequencer at the end.
"""

import math

import numpy as np
import tango
from sardana import State
from sardana.pool import AcqSynch
from sardana.pool.controller import (
    CounterTimerController,
    DefaultValue,
    Description,
    Type,
)

from nanomri.clients.device_settings import ensure, wait_uploaded
from nanomri.controllers.synchronized import Synchronized
from nanomri.interfaces.laser import LaserMode
from nanomri.interfaces.photon_counter import CountingMode
from nanomri.nv_sequences import GATE, sweep_point
from nanomri.sequence import Sequence

GATES = {1: "signal", 2: "reference"}
SETTLE_SHARE = 0.05  # the most of a swept point's time its generator's settling should take
UPLOAD_TIMEOUT = 30.0  # s for the sequencer to take a sweep's sequence


def repetitions_of(value: float, length: float) -> int:
    """Repetitions of a sequence of `length` s for integration time `value` (negative: a
    monitor count of repetitions)."""
    if value < 0:
        return max(1, round(-value))
    return max(1, int(value / length + 1e-9))


def sweep_passes(per_point: int, length: float, settle: float, largest: int) -> tuple[int, int]:
    """Repetitions of the measurement (`length` s) per point in one pass of a hardware sweep,
    and passes, for at least `per_point` repetitions per point: the fewest passes whose points
    last long enough that the generator's `settle` is at most SETTLE_SHARE of them, with at
    most `largest` repetitions per point and pass (what memory and counter hold)."""
    if largest < 1:
        raise ValueError("not one repetition per point fits the sequencer and the counter")
    wanted = min(per_point, largest, max(1, math.ceil(settle / (SETTLE_SHARE * length))))
    passes = math.ceil(per_point / wanted)
    return math.ceil(per_point / passes), passes


def steps_per_repetition(sequence: Sequence) -> int:
    """Run-length-encoded steps one more repetition adds to a sequence, at most."""
    return len({p.start for p in sequence.pulses} | {p.end for p in sequence.pulses}) + 1


class NVCounterCtrl(Synchronized, CounterTimerController):
    """A thin Tango client of the sequencer, photon counter and laser of one set-up."""

    MaxDevice = len(GATES)
    default_timer = 1
    ctrl_properties = {
        "sequencer": {Type: str, Description: "Tango device name of the nanomri PulseSequencer"},
        "counter": {Type: str, Description: "Tango device name of the nanomri PhotonCounter"},
        "laser": {Type: str, Description: "Tango device name of the nanomri NVLaser"},
        "sweep_trigger": {Type: str, DefaultValue: "spare",
                          Description: "sequencer channel wired to the trigger input of the "
                                       "generator a hardware sweep steps"},
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
        self._counts: list = []
        self._points = 0  # points of the sweep in flight; 0: a single count
        self._per_point = 1  # repetitions per point and pass of that sweep
        self._delivered: set[int] = set()  # axes whose sweep values the Pool has
        self._measurement: Sequence | None = None  # to put back after a sweep

    def AddDevice(self, axis):
        if axis not in GATES:
            raise ValueError(f"the NV counter has axes {sorted(GATES)} (signal, reference), "
                             f"got {axis}")

    def PrepareOne(self, axis, value, repetitions, latency, nb_starts):
        self._restore()
        self._loaded_measurement()  # refused here, in the Prepare the scan waits for

    def LoadOne(self, axis, value, repetitions, latency):
        if self._synchronization == AcqSynch.SoftwareStart:
            self._load_sweep(self._measurement or self._loaded_measurement(), value,
                             repetitions, latency)
            return
        if repetitions != 1:
            raise ValueError("the NV counter plays one sequence per software trigger, or a "
                             "whole sweep from a software start")
        self._restore()
        length = self._sequencer.length if value >= 0 else 0.0  # a monitor count needs none
        self._points, self._repetitions = 0, repetitions_of(value, length)
        ensure(self._sequencer, repetitions=self._repetitions)

    def _loaded_measurement(self) -> Sequence:
        sequence = Sequence.from_json(self._sequencer.sequence or '{"length": 0, "pulses": []}')
        if len(sequence.windows(GATE)) != len(GATES) or sequence.length <= 0:
            raise RuntimeError(f"{self.sequencer} holds no NV measurement (two gates per "
                               "repetition): choose one with nvmode")
        return sequence

    def _load_sweep(self, sequence: Sequence, value: float, points: int, settle: float) -> None:
        """One point of the sweep per sequencer repetition, the passes its repetitions need."""
        per_point = repetitions_of(value, sequence.length)
        memory = (self._sequencer.max_steps - 2) // steps_per_repetition(sequence)
        bins = self._counter.max_gates // (len(GATES) * points)
        k, passes = sweep_passes(per_point, sequence.length, settle, min(memory, bins))
        self._measurement, self._points, self._per_point = sequence, points, k
        self._repetitions, self._delivered = points * passes, set()
        self._sequencer.Stop()
        self._sequencer.Load(sweep_point(sequence, k, settle, self.sweep_trigger).to_json())
        ensure(self._counter, bins=points)
        ensure(self._sequencer, repetitions=self._repetitions)
        wait_uploaded(self._sequencer, UPLOAD_TIMEOUT)
        self._log.info("sweep of %d points: %d passes of %d repetitions per point", points,
                       passes, k)

    def _restore(self) -> None:
        """The measurement's own sequence back on the sequencer after a sweep."""
        if self._measurement is None:
            return
        self._sequencer.Stop()
        self._sequencer.Load(self._measurement.to_json())
        self._measurement = None
        ensure(self._counter, bins=1)

    def StartAll(self):
        self._counts = []
        if self._points:
            ensure(self._counter, counting_mode=CountingMode.SEQUENCE)
        else:
            ensure(self._counter, counting_mode=CountingMode.SEQUENCE, bins=1)
        self._counter.Start()
        ensure(self._laser, mode=LaserMode.GATED, emission=True)
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
        if self._playing or self._counts:
            return
        counts = np.asarray(self._counter.gate_counts, dtype=np.int64)
        if not self._points:
            self._counts = [int(c) for c in counts]
            return
        per_point = counts.reshape(self._points, self._per_point, len(GATES)).sum(axis=1)
        self._counts = [per_point[:, g].tolist() for g in range(len(GATES))]
        self._restore()

    def ReadOne(self, axis):
        if not self._points:
            return self._counts[axis - 1] if len(self._counts) >= axis else float("nan")
        if not self._counts or axis in self._delivered:
            return []  # a sweep's values come once, when its last pass has played
        self._delivered.add(axis)
        return self._counts[axis - 1]

    def AbortOne(self, axis):
        self._sequencer.Stop()
        self._counter.Stop()
        self._playing = False
        self._restore()
