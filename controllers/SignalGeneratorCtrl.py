"""Sardana motor controller of a nanomri SignalGenerator: axis 1 `frequency` (Hz), 2 `power` (W).

A frequency sweep is then an ordinary step scan (`ascan mw_frequency …`). A motor moves in
FIXED mode only: in SWEEP or LIST mode the sweep, not the CW setting, drives the output. A
motor is Moving until the generator has settled on the new setting; output off is no fault of
the motor (its status says so).
"""


import tango
from sardana import State
from sardana.pool.controller import Description, MotorController, Type

from nanomri.controllers.motor_limits import copy_limits_later
from nanomri.controllers.setting_motor import SettingMotor
from nanomri.interfaces.signal_generator import Mode

AXES = {1: "frequency", 2: "power"}


def motor_state(devstate: tango.DevState, settled: bool) -> State:
    """Sardana state of a frequency or power motor from the generator's state and `settled`."""
    if devstate in (tango.DevState.FAULT, tango.DevState.UNKNOWN):
        return State.Fault
    return State.On if settled else State.Moving


class SignalGeneratorCtrl(SettingMotor, MotorController):
    """A thin Tango client: the generator holds its settings, limits and settling."""

    MaxDevice = 2
    what = "a signal generator's frequency or power"
    ctrl_properties = {
        "device": {Type: str, Description: "Tango device name of the nanomri SignalGenerator"},
    }

    def __init__(self, inst, props, *args, **kwargs):
        super().__init__(inst, props, *args, **kwargs)
        self._proxy = tango.DeviceProxy(self.device)
        self._proxy.set_source(tango.DevSource.DEV)  # never the poll cache
        self._state = (State.Unknown, "not read yet")

    def AddDevice(self, axis):
        if axis not in AXES:
            raise ValueError(f"signal generator axis must be one of {sorted(AXES)}, got {axis}")
        copy_limits_later(self, self._proxy, AXES[axis], axis)

    def StateAll(self):
        try:
            devstate, settled, status = (
                reply.value for reply in self._proxy.read_attributes(["State", "settled",
                                                                      "Status"]))
            self._state = (motor_state(devstate, settled), status)
        except tango.DevFailed as exc:
            self._state = (State.Fault, exc.args[0].desc)

    def StateOne(self, axis):
        state, status = self._state
        return state, status, MotorController.NoLimitSwitch

    def ReadOne(self, axis):
        return self._proxy.read_attribute(AXES[axis]).value

    def StartOne(self, axis, position):
        mode = Mode(self._proxy.read_attribute("mode").value)
        if mode != Mode.FIXED:
            raise RuntimeError(f"{self.device} is in {mode.name} mode: its {AXES[axis]} motor "
                               "moves in FIXED mode only (write mode FIXED first)")
        self._proxy.write_attribute(AXES[axis], position)

    def SetAxisPar(self, axis, name, value):
        if self.GetAxisPar(axis, name) != value:  # raises for what a generator does not have
            raise ValueError(f"a signal generator's {name} is fixed, not settable to {value}")
