"""Sardana motor controller of the NV measurement's sequence: its free times as motors.

Axes 1-5 are the times of `nanomri.nv_sequences.Times` (tau, mw_pulse, pi, pi_half, rf_pi, in s);
the controller attribute `measurement` names which NV measurement the sequencer plays
(`nanomri.nv_sequences.MEASUREMENTS`: odmr, cwodmr, rabi, ramsey, echo, t1, deer, cwesr). A move
of any time, or a new measurement, uploads the new sequence to the pulse sequencer, and the
motor is Moving for the sequencer's real upload time; a sequence the sequencer refuses leaves
every time and the sequence as they were. The counter that plays it is NVCounterCtrl.
"""

from dataclasses import fields, replace

import tango
from sardana import State
from sardana.pool.controller import (
    Access,
    DataAccess,
    DefaultValue,
    Description,
    Memorize,
    Memorized,
    MotorController,
    Type,
)

from nanomri.clients.device_settings import wait_uploaded
from nanomri.controllers.setting_motor import SettingMotor
from nanomri.interfaces.sequencer import StartTrigger
from nanomri.nv_sequences import MEASUREMENTS, Times, measurement

AXES = {i + 1: f.name for i, f in enumerate(fields(Times))}
UPLOAD_TIMEOUT = 10.0  # s an earlier upload may take before a new one is refused


class NVSequenceCtrl(SettingMotor, MotorController):
    """The sequence lives on the sequencer; this controller holds the times it was built of."""

    MaxDevice = len(AXES)
    what = "a sequence time"
    ctrl_properties = {
        "sequencer": {Type: str, Description: "Tango device name of the nanomri PulseSequencer"},
    }
    ctrl_attributes = {
        "measurement": {Type: str, Access: DataAccess.ReadWrite, Memorize: Memorized,
                        DefaultValue: "odmr",
                        Description: f"the NV measurement played: {', '.join(MEASUREMENTS)}"},
    }

    def __init__(self, inst, props, *args, **kwargs):
        super().__init__(inst, props, *args, **kwargs)
        self._proxy = tango.DeviceProxy(self.sequencer)
        self._proxy.set_source(tango.DevSource.DEV)
        self._times = Times()
        self._measurement = "odmr"
        self._wanted: dict[str, float] = {}

    def AddDevice(self, axis):
        if axis not in AXES:
            raise ValueError(f"sequence time axis must be one of {sorted(AXES)}, got {axis}")

    def _upload(self, name: str, times: Times) -> None:
        """Load the sequence of `name` at `times`, to start at Run without delay, once an
        upload in flight has ended; keep both only if the sequencer takes it. The sequence
        the sequencer already holds is not uploaded again."""
        text = measurement(name, times).to_json()
        wait_uploaded(self._proxy, UPLOAD_TIMEOUT)
        self._proxy.start_trigger = int(StartTrigger.IMMEDIATE)
        self._proxy.delay = 0.0
        if self._proxy.sequence != text:
            self._proxy.Load(text)
        self._measurement, self._times = name, times

    def StateOne(self, axis):
        devstate = self._proxy.state()
        if devstate == tango.DevState.MOVING:
            return State.Moving, "uploading the sequence", MotorController.NoLimitSwitch
        if devstate == tango.DevState.FAULT:
            return State.Fault, self._proxy.status(), MotorController.NoLimitSwitch
        return State.On, f"{self._measurement} loaded", MotorController.NoLimitSwitch

    def ReadOne(self, axis):
        return getattr(self._times, AXES[axis])

    def PreStartAll(self):
        self._wanted = {}

    def StartOne(self, axis, position):
        self._wanted[AXES[axis]] = position

    def StartAll(self):
        wanted, self._wanted = self._wanted, {}
        self._upload(self._measurement, replace(self._times, **wanted))

    def SetCtrlPar(self, par, value):
        if par == "measurement":
            self._upload(value, self._times)
            # a count may follow at once: no motion waits for this one
            wait_uploaded(self._proxy, UPLOAD_TIMEOUT)
        else:
            super().SetCtrlPar(par, value)

    def GetCtrlPar(self, par):
        if par == "measurement":
            return self._measurement
        return super().GetCtrlPar(par)
