"""Sardana 2D controller of the nanomri EMCCD: one frame per acquisition or per trigger.

Software trigger: the camera's own timer, one frame exposed for the integration time (it is its
own timer, so a measurement group needs no other). Hardware trigger or gate: one frame per pulse
of the sequencer's camera channel, exposed for the pulse; the frames come as the device's change
events on `image` (one per frame, in order), so none is lost between two reads. The frame shape
is the device's ROI over its binning.
"""

import threading
from collections import deque

import numpy as np
import tango
from sardana import State
from sardana.pool import AcqSynch
from sardana.pool.controller import Description, TwoDController, Type

from nanomri.interfaces.camera import TriggerMode

HARDWARE = (AcqSynch.HardwareTrigger, AcqSynch.HardwareGate)
STATES = {tango.DevState.ON: State.On, tango.DevState.RUNNING: State.Moving,
          tango.DevState.ALARM: State.Alarm, tango.DevState.FAULT: State.Fault}


def frame_shape(roi, binning: int) -> list[int]:
    """Sardana's [x, y] shape of a frame: ROI [x, y, width, height] over the binning."""
    return [int(roi[2]) // binning, int(roi[3]) // binning]


class EMCCDCtrl(TwoDController):
    """Axis 1: the camera of one EMCCD device."""

    MaxDevice = 1
    default_timer = 1
    ctrl_properties = {
        "device": {Type: str, Description: "Tango device name of the nanomri EMCCD"},
    }

    def __init__(self, inst, props, *args, **kwargs):
        super().__init__(inst, props, *args, **kwargs)
        self._proxy = tango.DeviceProxy(self.device)
        self._proxy.set_source(tango.DevSource.DEV)
        self._synchronization = AcqSynch.SoftwareTrigger
        self._frames_wanted = 1
        self._acquiring = False
        self._last: np.ndarray | None = None
        self._lock = threading.Lock()
        self._frames: deque[np.ndarray] = deque()  # by events, not yet handed to Sardana
        self._received = 0  # frames received by events in this acquisition
        self._collecting = False
        self._subscription: int | None = None

    def AddDevice(self, axis):
        if axis != 1:
            raise ValueError(f"the EMCCD has one channel (axis 1), got {axis}")

    def GetCtrlPar(self, par):
        if par == "latency_time":  # a frame cannot start before the last one is read out
            return self._proxy.read_attribute("readout_time").value
        return super().GetCtrlPar(par)

    def GetAxisPar(self, axis, par):
        if par == "shape":
            roi, binning = self._proxy.read_attributes(["roi", "binning"])
            return frame_shape(roi.value, binning.value)
        return super().GetAxisPar(axis, par)

    def _write_changed(self, name: str, value) -> None:
        """Write a setting only if it changes (every write is a database round trip)."""
        if self._proxy.read_attribute(name).value != value:
            self._proxy.write_attribute(name, value)

    def LoadOne(self, axis, value, repetitions, latency):
        if self._synchronization in HARDWARE:
            self._write_changed("trigger_mode", TriggerMode.EXTERNAL)
            self._frames_wanted = repetitions
            return
        if repetitions != 1:
            raise ValueError("repeated software frames are not supported; use a hardware "
                             "trigger")
        self._write_changed("trigger_mode", TriggerMode.INTERNAL)
        self._write_changed("exposure", value)
        self._frames_wanted = 1

    def _on_frame(self, event) -> None:
        """A frame's change event: keep it while a hardware-triggered acquisition runs."""
        if event.err or not self._collecting:
            return
        with self._lock:
            self._frames.append(event.attr_value.value)
            self._received += 1

    def StartOne(self, axis, value=None):
        hardware = self._synchronization in HARDWARE
        if hardware and self._subscription is None:  # its first event is the old frame
            self._subscription = self._proxy.subscribe_event(
                "image", tango.EventType.CHANGE_EVENT, self._on_frame)
        with self._lock:
            self._frames.clear()
            self._received = 0
            self._collecting = hardware
        self._proxy.Acquire(self._frames_wanted)
        self._acquiring = True

    def StateOne(self, axis):
        devstate = self._proxy.state()
        state = STATES.get(devstate, State.Unknown)
        if self._collecting and state != State.Fault and devstate != tango.DevState.RUNNING:
            if self._received < self._proxy.read_attribute("frame_count").value:
                return State.Moving, "waiting for the last frames' events"
            self._collecting = False
        self._acquiring = state == State.Moving
        return state, self._proxy.status()

    def ReadOne(self, axis):
        if self._synchronization in HARDWARE:
            with self._lock:
                frames = list(self._frames)
                self._frames.clear()
            return frames
        if self._acquiring and self._last is not None:
            return self._last  # the frame is not read out yet: no need to fetch the old one
        self._last = self._proxy.read_attribute("image").value
        return self._last

    def AbortOne(self, axis):
        self._proxy.Stop()
        self._collecting = False
