"""Sardana motor controller of the nanomri Scanner device: axes 1, 2, 3 are x, y, z (m)."""

import tango
from sardana import State
from sardana.pool.controller import Access, DataAccess, Description, MotorController, Type

from nanomri.controllers.motor_limits import copy_limits_later

AXES = {1: "x", 2: "y", 3: "z"}


class ScannerCtrl(MotorController):
    """A thin Tango client: the Scanner device holds the state, limits and trajectory."""

    MaxDevice = 3
    ctrl_properties = {
        "device": {Type: str, Description: "Tango device name of the nanomri Scanner"},
    }

    axis_attributes = {
        "ScannerDevice": {Type: str, Access: DataAccess.ReadOnly,
                          Description: "the Scanner device this axis belongs to: hardware-timed "
                                       "rasters play their motion program on it"},
    }

    def __init__(self, inst, props, *args, **kwargs):
        super().__init__(inst, props, *args, **kwargs)
        self._proxy = tango.DeviceProxy(self.device)
        self._proxy.set_source(tango.DevSource.DEV)  # never the 100 ms poll cache
        self._positions: dict[str, float] = {}
        self._state = (State.Unknown, "not read yet")

    def AddDevice(self, axis):
        if axis not in AXES:
            raise ValueError(f"scanner axis must be one of {sorted(AXES)}, got {axis}")
        copy_limits_later(self, self._proxy, AXES[axis], axis)

    def StateAll(self):
        devstate = self._proxy.state()
        self._state = (getattr(State, str(devstate).capitalize()), self._proxy.status())

    def StateOne(self, axis):
        state, status = self._state
        return state, status, MotorController.NoLimitSwitch

    def PreReadAll(self):
        self._positions = {}

    def ReadAll(self):
        names = list(AXES.values())
        values = self._proxy.read_attributes(names)
        self._positions = {name: v.value for name, v in zip(names, values, strict=True)}

    def ReadOne(self, axis):
        return self._positions[AXES[axis]]

    def StartOne(self, axis, position):
        self._proxy.write_attribute(AXES[axis], position)

    def AbortOne(self, axis):
        self._proxy.Stop()

    def StopOne(self, axis):
        self._proxy.Stop()

    def GetAxisPar(self, axis, name):
        name, attr = name.lower(), AXES[axis]
        if name == "velocity":
            return self._proxy.read_attribute(f"velocity_{attr}").value
        if name in ("acceleration", "deceleration"):  # Sardana's: seconds to reach velocity
            velocity, acceleration = (a.value for a in self._proxy.read_attributes(
                [f"velocity_{attr}", f"acceleration_{attr}"]))
            return velocity / acceleration
        if name == "base_rate":
            return 0.0
        if name == "step_per_unit":
            return 1.0
        return super().GetAxisPar(axis, name)

    def GetAxisExtraPar(self, axis, name):
        if name.lower() == "scannerdevice":
            return self.device
        return super().GetAxisExtraPar(axis, name)

    def _write_changed(self, name: str, value: float) -> None:
        """Write a device setting only if it changes: continuous scans set the same motion
        parameters before every line, and each write costs a database round trip."""
        if self._proxy.read_attribute(name).value != value:
            self._proxy.write_attribute(name, value)

    def SetAxisPar(self, axis, name, value):
        name, attr = name.lower(), AXES[axis]
        if name == "velocity":
            self._write_changed(f"velocity_{attr}", value)
        elif name in ("acceleration", "deceleration"):
            if value <= 0:
                raise ValueError(f"{name} time must be positive, got {value} s")
            velocity = self._proxy.read_attribute(f"velocity_{attr}").value
            self._write_changed(f"acceleration_{attr}", velocity / value)
        elif name == "base_rate":
            if value != 0:
                raise ValueError("the scanner starts every move from rest (base_rate 0)")
        elif name != "step_per_unit" or value != 1.0:
            super().SetAxisPar(axis, name, value)
