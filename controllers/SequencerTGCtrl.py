"""Sardana trigger/gate controller of the nanomri PulseSequencer: a scan's gates, in hardware.

A synchronisation description of one group (time domain: delay, active, total, repeats) becomes
one period of the `gate` channel played `repeats` times, the first gate `delay` after the start:
a tiny memory for any number of repeats. A description of several groups becomes one sequence
holding every gate of every group at its time from the start, played once (the memory counts
run-length-encoded steps, so 10 000 gates take ~20 000 steps). See `gates_sequence` for what
Sardana means by the delay of a group. With `start_trigger` STAGE_MOTION the run starts when
the stage starts moving, so the gates line up with the motion to the sequencer's clock, not to
software latency.

With the axis attribute `synch_domain` = Position, the gates come from the description's
position domain instead (Sardana's ascanct and meshct give one): the stage controller's
position comparator opens each gate where the stage really is (`position_axis`), whatever its
speed, ramps or lag, and the sequencer passes them on (`PositionGates`).
"""

import json

import numpy as np
import tango
from sardana import State
from sardana.pool.controller import (
    Access,
    DataAccess,
    DefaultValue,
    Description,
    Memorize,
    Memorized,
    TriggerGateController,
    Type,
)
from sardana.pool.pooldefs import SynchDomain, SynchParam

from nanomri.clients import sardana_compat
from nanomri.clients.device_settings import wait_uploaded
from nanomri.interfaces.sequencer import StartTrigger
from nanomri.sequence import Pulse, Sequence

UPLOAD_TIMEOUT = 10.0  # s to wait for an upload before a run is refused
CHOICES = {"synch_domain": ("Time", "Position"), "position_axis": ("x", "y", "z")}
STATES = {tango.DevState.RUNNING: State.Moving, tango.DevState.MOVING: State.Moving,
          tango.DevState.ON: State.On, tango.DevState.OFF: State.On,
          tango.DevState.FAULT: State.Fault}


# The sequencer plays descriptions of several groups (a raster line each): the Pool's acquisition
# must take their common gate length (see `sardana_compat.synch_description_common_gate`).
sardana_compat.install_pool()


def group_start(group: dict) -> float:
    """When the first gate of a synchronisation group starts, from the synchronisation's start
    (s): its Initial in the time domain if it has one, else its Delay (see `gates_sequence`)."""
    initial = group.get(SynchParam.Initial) or {}
    if SynchDomain.Time in initial:
        return initial[SynchDomain.Time]
    return group.get(SynchParam.Delay, {}).get(SynchDomain.Time, 0.0)


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
    delay = on_grid(group_start(group))
    return Sequence((Pulse("gate", 0.0, active),), total), int(group[SynchParam.Repeats]), delay


def gates_sequence(groups: list[dict], step: float) -> Sequence:
    """Every gate of every group at its time from the start, on the `step` grid, as one
    sequence to play once (repetitions 1, delay 0); it ends with the last gate.

    What Sardana means (3.7): the Pool plays a description with `FunctionGenerator`
    (`sardana/util/funcgenerator.py`, software synchronisation and the dummy trigger/gate
    controller): the first gate of every group starts at its Initial in the time domain, or at
    its Delay when it has none, each measured from the start of the synchronisation, not from
    the previous group; gate k of the group starts `k * total` later and lasts `active`
    (`SynchParam` says the same: Delay "relative to the synchronization start"). The
    MacroServer's `generate_timestamps` (`gscan.py`), which only fills the theoretical `dt`
    column of a continuous scan, adds each delay to the start of the previous group's last
    gate instead, and `TScan._estimate` to the end of the previous group: they agree with the
    Pool for the first group only. This follows the Pool, which is what plays the gates.
    Groups are counted from 0, as Sardana's own messages do.
    """
    if not groups:
        raise ValueError("a synchronisation description without groups has no gates")
    starts, ends, owners = [], [], []
    for g, group in enumerate(groups):
        first, active, total, repeats = _group_on_grid(g, group, step)
        gate_starts = first + total * np.arange(repeats, dtype=np.int64)
        starts.append(gate_starts)
        ends.append(gate_starts + active)
        owners.append(np.full(repeats, g))
    starts, ends, owners = (np.concatenate(a) for a in (starts, ends, owners))
    order = np.lexsort((ends, starts))
    starts, ends, owners = starts[order], ends[order], owners[order]
    overlap = np.flatnonzero(starts[1:] < ends[:-1])
    if overlap.size:
        k = overlap[0]
        a, b = sorted((int(owners[k]), int(owners[k + 1])))
        raise ValueError(f"gates of synchronisation groups {a} and {b} overlap: "
                         f"[{starts[k] * step:g}, {ends[k] * step:g}] s and "
                         f"[{starts[k + 1] * step:g}, {ends[k + 1] * step:g}] s")
    pulses = tuple(Pulse("gate", s * step, (e - s) * step)
                   for s, e in zip(starts.tolist(), ends.tolist(), strict=True))
    return Sequence(pulses, int(ends[-1]) * step)


def _group_on_grid(g: int, group: dict, step: float) -> tuple[int, int, int, int]:
    """First gate start, gate length and period of group `g` in grid steps, and its repeats;
    a gate longer than the period is cut to it, as in `gate_sequence`."""
    repeats = int(group.get(SynchParam.Repeats, 1))
    if repeats < 1:
        raise ValueError(f"synchronisation group {g} has {repeats} repeats; at least 1")
    active = round(group[SynchParam.Active][SynchDomain.Time] / step)
    total = 0
    if repeats > 1:
        if SynchDomain.Time not in group.get(SynchParam.Total, {}):
            raise ValueError(f"synchronisation group {g} repeats {repeats} gates without a "
                             "total time (period)")
        total = round(group[SynchParam.Total][SynchDomain.Time] / step)
        active = min(active, total)
    first = round(group_start(group) / step)
    if active <= 0:
        raise ValueError(f"synchronisation group {g}: gate time "
                         f"{group[SynchParam.Active][SynchDomain.Time]} s is shorter than "
                         f"the sequencer's grid of {step:g} s")
    if first < 0:
        raise ValueError(f"synchronisation group {g} starts {first * step:g} s before the "
                         "synchronisation's start")
    return first, active, total, repeats


def position_windows(groups: list[dict]) -> list[tuple[float, float]]:
    """Every gate of every group as the positions where it opens and closes: gate k of a group
    opens at Initial + k * Total and stays open over Active (signed, Sardana's position domain)."""
    windows = []
    for g, group in enumerate(groups):
        try:
            initial = group[SynchParam.Initial][SynchDomain.Position]
            active = group[SynchParam.Active][SynchDomain.Position]
        except KeyError:
            raise ValueError(f"synchronisation group {g} has no position domain (Initial and "
                             "Active positions): use synch_domain Time") from None
        repeats = int(group.get(SynchParam.Repeats, 1))
        total = group.get(SynchParam.Total, {}).get(SynchDomain.Position)
        if repeats > 1 and total is None:
            raise ValueError(f"synchronisation group {g} repeats {repeats} gates without a "
                             "total displacement (period)")
        for start in initial + (total or 0.0) * np.arange(repeats):
            windows.append((float(start), float(start + active)))
    return windows


class SequencerTGCtrl(TriggerGateController):
    """Axis 1: the gate channel of one PulseSequencer device."""

    MaxDevice = 1
    ctrl_properties = {
        "device": {Type: str, Description: "Tango device name of the nanomri PulseSequencer"},
        "start_trigger": {Type: str, DefaultValue: "STAGE_MOTION",
                          Description: "IMMEDIATE, or STAGE_MOTION: start with the stage's move"},
    }

    axis_attributes = {
        "synch_domain": {Type: str, Access: DataAccess.ReadWrite, Memorize: Memorized,
                         DefaultValue: "Time",
                         Description: "Time: gates at times from the start; Position: at the "
                                      "stage positions, from the stage's position comparator"},
        "position_axis": {Type: str, Access: DataAccess.ReadWrite, Memorize: Memorized,
                          DefaultValue: "x",
                          Description: "the stage axis (x, y, z) whose position opens the gates "
                                       "in the Position domain: the scan's moving motor"},
    }

    def __init__(self, inst, props, *args, **kwargs):
        super().__init__(inst, props, *args, **kwargs)
        self._proxy = tango.DeviceProxy(self.device)
        self._proxy.set_source(tango.DevSource.DEV)
        self._extra = {name: a[DefaultValue] for name, a in self.axis_attributes.items()}

    def AddDevice(self, axis):
        if axis != 1:
            raise ValueError(f"the sequencer has one gate output (axis 1), got {axis}")

    def GetAxisExtraPar(self, axis, name):
        return self._extra[name.lower()]

    def SetAxisExtraPar(self, axis, name, value):
        name = name.lower()
        allowed = CHOICES[name]
        if value not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        self._extra[name] = value

    def SynchOne(self, axis, synchronization):
        if self._extra["synch_domain"] == "Position":
            self._synch_positions(synchronization)
        else:
            self._synch_times(synchronization)

    def _synch_positions(self, synchronization) -> None:
        """Gates from the stage's position comparator, armed for the stage's next move."""
        windows = position_windows(synchronization)
        self._proxy.Stop()
        self._proxy.LoadPositionGates(json.dumps({"axis": self._extra["position_axis"],
                                                  "windows": windows}))
        self._write_settings(repetitions=1, delay=0.0, start_trigger=StartTrigger.STAGE_MOTION)

    def _synch_times(self, synchronization) -> None:
        step = self._proxy.granularity_time
        if len(synchronization) == 1:
            sequence, repeats, delay = gate_sequence(synchronization[0], step)
        else:
            gates = sum(int(g.get(SynchParam.Repeats, 1)) for g in synchronization)
            memory = self._proxy.max_steps
            if gates > memory:  # every gate takes a step at least: refused before it is built
                raise ValueError(f"{gates} gates in {len(synchronization)} synchronisation "
                                 f"groups exceed the sequencer's memory of {memory} steps")
            sequence, repeats, delay = gates_sequence(synchronization, step), 1, 0.0
        self._proxy.Stop()
        text = sequence.to_json()
        if self._proxy.sequence != text:  # every line of a raster plays the same gates
            self._proxy.Load(text)
        self._write_settings(repetitions=repeats, delay=delay,
                             start_trigger=StartTrigger[self.start_trigger])

    def _write_settings(self, **settings) -> None:
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
        wait_uploaded(self._proxy, UPLOAD_TIMEOUT)  # the upload takes its time
        self._proxy.Run()

    def AbortOne(self, axis):
        self._proxy.Stop()
