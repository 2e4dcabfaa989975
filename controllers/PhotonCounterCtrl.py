"""Sardana counter/timer controller of the nanomri PhotonCounter device (one channel).

Software synchronisation: one timed gate of the integration time per point. Hardware gate:
the counter counts in every gate window the sequencer plays (a TriggerGate element, e.g.
SequencerTGCtrl) and returns one value per gate, as they come. Either way it counts under a CW
laser: with the `laser` property set, a laser an NV measurement left gated is put back to CW.
"""

import tango
from sardana import State
from sardana.pool import AcqSynch
from sardana.pool.controller import CounterTimerController, DefaultValue, Description, Type

from nanomri.clients.device_settings import ensure
from nanomri.controllers.synchronized import Synchronized
from nanomri.interfaces.laser import LaserMode
from nanomri.interfaces.photon_counter import CountingMode

HARDWARE = (AcqSynch.HardwareGate, AcqSynch.HardwareTrigger)


class PhotonCounterCtrl(Synchronized, CounterTimerController):
    """Axis 1 counts photons; it is its own timer (the device gates for `dwell` seconds)."""

    MaxDevice = 1
    default_timer = 1
    ctrl_properties = {
        "device": {Type: str, Description: "Tango device name of the nanomri PhotonCounter"},
        "laser": {Type: str, DefaultValue: "",
                  Description: "Tango device name of the nanomri NVLaser, put to CW to count"},
    }

    def __init__(self, inst, props, *args, **kwargs):
        super().__init__(inst, props, *args, **kwargs)
        self._proxy = tango.DeviceProxy(self.device)
        self._proxy.set_source(tango.DevSource.DEV)  # never the 100 ms poll cache
        self._read = 0  # gate values already handed to Sardana in this acquisition
        self._laser = tango.DeviceProxy(self.laser) if self.laser else None

    def AddDevice(self, axis):
        if axis != 1:
            raise ValueError(f"the photon counter has one channel (axis 1), got {axis}")

    def PrepareOne(self, axis, value, repetitions, latency, nb_starts):
        if self._synchronization not in HARDWARE and not value > 0:
            raise ValueError(f"the photon counter counts for a time: its integration time must "
                             f"be > 0 s, not {value} (a negative one is a monitor count, which "
                             f"the NV counter of mg_nv takes as repetitions)")

    def LoadOne(self, axis, value, repetitions, latency):
        self._read = 0
        if self._laser is not None:
            ensure(self._laser, mode=LaserMode.CW)
        if self._synchronization in HARDWARE:
            ensure(self._proxy, counting_mode=CountingMode.GATES)  # the sequencer's gates
            return
        if repetitions != 1:
            raise ValueError("repeated software gates are not supported; use a hardware gate")
        # dwell is memorized: a write is a database round trip
        ensure(self._proxy, counting_mode=CountingMode.TIMED, dwell=value)

    def StartAll(self):
        self._proxy.Start()

    def StateOne(self, axis):
        devstate = self._proxy.state()
        return getattr(State, str(devstate).capitalize()), self._proxy.status()

    def ReadOne(self, axis):
        if self._synchronization not in HARDWARE:
            return self._proxy.read_attribute("counts").value
        new = self._proxy.ReadGateCounts(self._read)
        self._read += len(new)
        return [int(v) for v in new]

    def AbortOne(self, axis):
        self._proxy.Stop()
