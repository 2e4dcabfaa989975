"""Sardana 0D controller of the nanomri TunnelCurrent readout: axis 1 `current`, axis 2 the
lock-in amplitude `lockin_amplitude` (dI), both in A.

The Pool reads the channels over and over while the measurement group's timer counts and gives
their mean. Read from the device itself (sardana-tango's TangoAttrZeroDCtrl would read the
100 ms poll cache, the same value many times over, and always report On): Alarm while the
preamplifier saturates, Fault with the device's message.
"""

import tango
from sardana import State
from sardana.pool.controller import Description, Type, ZeroDController

AXES = {1: "current", 2: "lockin_amplitude"}
STATES = {tango.DevState.ON: State.On, tango.DevState.ALARM: State.Alarm,
          tango.DevState.FAULT: State.Fault}


class TunnelCurrentCtrl(ZeroDController):
    """A thin Tango client of one TunnelCurrent device."""

    MaxDevice = 2
    ctrl_properties = {
        "device": {Type: str, Description: "Tango device name of the nanomri TunnelCurrent"},
    }

    def __init__(self, inst, props, *args, **kwargs):
        super().__init__(inst, props, *args, **kwargs)
        self._proxy = tango.DeviceProxy(self.device)
        self._proxy.set_source(tango.DevSource.DEV)  # never the 100 ms poll cache
        self._state = (State.Unknown, "not read yet")
        self._axes: set[int] = set()
        self._values: dict[int, float] = {}

    def AddDevice(self, axis):
        if axis not in AXES:
            raise ValueError(f"tunnel current axis must be one of {sorted(AXES)}, got {axis}")

    def StateAll(self):
        devstate = self._proxy.state()
        self._state = (STATES.get(devstate, State.Unknown), self._proxy.status())

    def StateOne(self, axis):
        return self._state

    def PreReadAll(self):
        self._axes, self._values = set(), {}

    def PreReadOne(self, axis):
        self._axes.add(axis)

    def ReadAll(self):
        axes = sorted(self._axes)
        values = self._proxy.read_attributes([AXES[a] for a in axes])
        self._values = {axis: value for axis, value in zip(axes, values, strict=True)}

    def ReadOne(self, axis):
        value = self._values[axis]
        if value.has_failed:
            raise tango.DevFailed(*value.get_err_stack())
        return value.value

    def AbortOne(self, axis):
        """Nothing to stop: the readout runs all the time."""
