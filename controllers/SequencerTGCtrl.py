"""Sardana trigger/gate controller of the nanomri PulseSequencer: a scan's gates, in hardware.

The scan's synchronisation description (time domain: delay, active, total, repeats) becomes one
period of the `gate` channel played `repeats` times, the first gate `delay` after the start.
With `start_trigger` STAGE_MOTION the run starts when the stage starts moving, so the gates
line up with the motion to the sequencer's clock, not to software latency.
"""

import time

import tango
from sardana import State
from sardana.pool.controller import DefaultValue, Description, TriggerGateController, Type
from sardana.pool.pooldefs import SynchDomain, SynchParam

from nanomri.interfaces.sequencer import StartTrigger
from nanomri.sequence import Pulse, Sequence

UPLOAD_TIMEOUT = 10.0  # s to wait for an upload before a run is refused
STATES = {tango.DevState.RUNNING: State.Moving, tango.DevState.MOVING: State.Moving,
          tango.DevState.ON: State.On, tango.DevState.OFF: State.On,
          tango.DevState.FAULT: State.Fault}


def gate_sequence(group: dict, step: float) -> tuple[Sequence, int, float]:
    """One period of a synchronisation group as a sequence on the `step` grid, its repeats and
    its delay (s)."""
    def on_grid(seconds: float) -> float:
        return round(seconds / step) * step

    total = on_grid(group[SynchParam.Total][SynchDomain.Time])
    active = min(on_grid(group[SynchParam.Active][SynchDomain.Time]), total)
    if active <= 0:
        raise ValueError(f"gate time {group[SynchParam.Active][SynchDomain.Time]} s is shorter "
                         f"than the sequencer's grid of {step:g} s")
    delay = on_grid(group.get(SynchParam.Delay, {}).get(SynchDomain.Time, 0.0))
    return Sequence((Pulse("gate", 0.0, active),), total), int(group[SynchParam.Repeats]), delay


class SequencerTGCtrl(TriggerGateController):
    """Axis 1: the gate channel of one PulseSequencer device."""

    MaxDevice = 1
    ctrl_properties = {
        "device": {Type: str, Description: "Tango device name of the nanomri PulseSequencer"},
        "start_trigger": {Type: str, DefaultValue: "STAGE_MOTION",
                          Description: "IMMEDIATE, or STAGE_MOTION: start with the stage's move"},
    }

    def __init__(self, inst, props, *args, **kwargs):
        super().__init__(inst, props, *args, **kwargs)
        self._proxy = tango.DeviceProxy(self.device)
        self._proxy.set_source(tango.DevSource.DEV)

    def AddDevice(self, axis):
        if axis != 1:
            raise ValueError(f"the sequencer has one gate output (axis 1), got {axis}")

    def SynchOne(self, axis, synchronization):
        if len(synchronization) != 1:
            raise ValueError("the sequencer plays one synchronisation group per scan, "
                             f"got {len(synchronization)}")
        step = self._proxy.granularity_time
        sequence, repeats, delay = gate_sequence(synchronization[0], step)
        self._proxy.Stop()
        text = sequence.to_json()
        if self._proxy.sequence != text:  # every line of a raster plays the same gates
            self._proxy.Load(text)
        settings = {"repetitions": repeats, "delay": delay,
                    "start_trigger": StartTrigger[self.start_trigger]}
        now = self._proxy.read_attributes(list(settings))
        for (name, value), current in zip(settings.items(), now, strict=True):
            if current.value != value:  # a write is a database round trip: skip the same
                self._proxy.write_attribute(name, value)

    def StateOne(self, axis):
        state = self._proxy.state()
        return STATES.get(state, State.Unknown), self._proxy.status()

    def PreStartOne(self, axis, value=None):
        return True

    def StartOne(self, axis):
        deadline = time.monotonic() + UPLOAD_TIMEOUT
        while self._proxy.state() == tango.DevState.MOVING:  # the upload takes its time
            if time.monotonic() > deadline:
                raise RuntimeError(f"sequence upload not done after {UPLOAD_TIMEOUT} s")
            time.sleep(0.005)
        self._proxy.Run()

    def AbortOne(self, axis):
        self._proxy.Stop()
