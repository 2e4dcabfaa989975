"""What Pool motors that stand for an instrument's setting (a frequency, a power, a pulse
length) share: a new setting is reached within the instrument's settling or upload time, so
there is nothing to stop, and no steps or base rate to report.

Not a controller: the controllers next to it import it as `nanomri.controllers`.
"""


class SettingMotor:
    """Mixin of a MotorController whose axes are settings; `what` names them in refusals."""

    what = "a setting"

    def AbortOne(self, axis):
        """Nothing to stop: a new setting is reached within its settling time."""

    def StopOne(self, axis):
        """Nothing to stop: a new setting is reached within its settling time."""

    def GetAxisPar(self, axis, name):
        name = name.lower()
        if name == "step_per_unit":
            return 1.0
        if name == "base_rate":
            return 0.0
        raise ValueError(f"{self.what} is set, not driven: it has no {name}")
