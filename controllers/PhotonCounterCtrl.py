"""Sardana counter/timer controller of the nanomri PhotonCounter device (one channel)."""

import tango
from sardana import State
from sardana.pool.controller import CounterTimerController, Description, Type


class PhotonCounterCtrl(CounterTimerController):
    """Axis 1 counts photons; it is its own timer (the device gates for `dwell` seconds)."""

    MaxDevice = 1
    default_timer = 1
    ctrl_properties = {
        "device": {Type: str, Description: "Tango device name of the nanomri PhotonCounter"},
    }

    def __init__(self, inst, props, *args, **kwargs):
        super().__init__(inst, props, *args, **kwargs)
        self._proxy = tango.DeviceProxy(self.device)
        self._proxy.set_source(tango.DevSource.DEV)  # never the 100 ms poll cache

    def AddDevice(self, axis):
        if axis != 1:
            raise ValueError(f"the photon counter has one channel (axis 1), got {axis}")

    def LoadOne(self, axis, value, repetitions, latency):
        if repetitions != 1:
            raise ValueError("hardware-repeated gates are not supported yet; use software sync")
        self._proxy.write_attribute("dwell", value)

    def StartAll(self):
        self._proxy.Start()

    def StateOne(self, axis):
        devstate = self._proxy.state()
        return getattr(State, str(devstate).capitalize()), self._proxy.status()

    def ReadOne(self, axis):
        return self._proxy.read_attribute("counts").value

    def AbortOne(self, axis):
        self._proxy.Stop()
