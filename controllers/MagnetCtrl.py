"""Sardana motor controller of the nanomri VectorMagnet: axes 1, 2, 3 are Bx, By, Bz (T).

Motors moved together (a2scan, or the B/theta/phi pseudo motors) become one `RampTo` of the
whole vector, so the coils ramp along one straight line; a component not moved keeps its
setpoint while the magnet ramps and its field otherwise. Moving while ramping, holding when
done, Fault after a quench; stop and abort hold the field where it is (the magnet's Pause).
"""

import tango
from sardana import State
from sardana.pool.controller import Description, MotorController, Type

from nanomri.controllers.motor_limits import copy_limits_later

AXES = {1: "Bx", 2: "By", 3: "Bz"}
STATES = {tango.DevState.ON: State.On, tango.DevState.MOVING: State.Moving,
          tango.DevState.FAULT: State.Fault}


def ramp_target(moved: dict[int, float], setpoint: list[float], field: list[float],
                ramping: bool) -> list[float]:
    """The vector to ramp to: the moved axes' positions, the others at their setpoint if the
    magnet is ramping (not to cut that ramp short), else where the field is."""
    others = setpoint if ramping else field
    return [moved.get(axis, others[axis - 1]) for axis in AXES]


class MagnetCtrl(MotorController):
    """A thin Tango client: the magnet holds the field, its limits and its ramps."""

    MaxDevice = 3
    ctrl_properties = {
        "device": {Type: str, Description: "Tango device name of the nanomri VectorMagnet"},
    }

    def __init__(self, inst, props, *args, **kwargs):
        super().__init__(inst, props, *args, **kwargs)
        self._proxy = tango.DeviceProxy(self.device)
        self._proxy.set_source(tango.DevSource.DEV)  # never the 100 ms poll cache
        self._state = (State.Unknown, "not read yet")
        self._field: dict[str, float] = {}
        self._moves: dict[int, float] = {}

    def AddDevice(self, axis):
        if axis not in AXES:
            raise ValueError(f"magnet axis must be one of {sorted(AXES)}, got {axis}")
        copy_limits_later(self, self._proxy, AXES[axis], axis)

    def StateAll(self):
        devstate = self._proxy.state()
        self._state = (STATES.get(devstate, State.Unknown), self._proxy.status())

    def StateOne(self, axis):
        state, status = self._state
        return state, status, MotorController.NoLimitSwitch

    def ReadAll(self):
        values = self._proxy.read_attributes(list(AXES.values()))
        self._field = {v.name: v.value for v in values}

    def ReadOne(self, axis):
        return self._field[AXES[axis]]

    def PreStartAll(self):
        self._moves = {}

    def StartOne(self, axis, position):
        self._moves[axis] = position

    def StartAll(self):
        values = self._proxy.read_attributes(list(AXES.values()))
        ramping = self._proxy.state() == tango.DevState.MOVING
        target = ramp_target(self._moves, [v.w_value for v in values],
                             [v.value for v in values], ramping)
        self._proxy.RampTo(target)

    def AbortOne(self, axis):
        self._proxy.Pause()

    def StopOne(self, axis):
        self._proxy.Pause()

    def GetAxisPar(self, axis, name):
        name = name.lower()
        if name == "velocity":  # the fastest coil's rate: Sardana's velocity of a move
            return self._proxy.read_attribute("ramp_rate").value
        if name in ("acceleration", "deceleration", "base_rate"):
            return 0.0  # the supplies ramp at their rate from the start
        if name == "step_per_unit":
            return 1.0
        raise ValueError(f"the magnet has no {name}")

    def SetAxisPar(self, axis, name, value):
        name = name.lower()
        if name == "velocity":
            self._proxy.write_attribute("ramp_rate", value)
        elif self.GetAxisPar(axis, name) != value:
            raise ValueError(f"the magnet's {name} is {self.GetAxisPar(axis, name)}, "
                             f"not settable to {value}")
