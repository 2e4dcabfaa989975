"""What Pool counter/timer controllers that count in more than one way share: the
acquisition synchronisation the Pool sets on them before an acquisition (software trigger, a
hardware gate, a software start), kept for LoadOne and ReadOne.

Not a controller: the controllers next to it import it as `nanomri.controllers`.
"""

from sardana.pool import AcqSynch


class Synchronized:
    """Mixin of a CounterTimerController keeping its `synchronization` controller parameter."""

    _synchronization = AcqSynch.SoftwareTrigger

    def SetCtrlPar(self, par, value):
        if par == "synchronization":
            self._synchronization = value
        else:
            super().SetCtrlPar(par, value)

    def GetCtrlPar(self, par):
        if par == "synchronization":
            return self._synchronization
        return super().GetCtrlPar(par)
