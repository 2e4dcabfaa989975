"""Macros that switch the NV excitation laser named in env `NanomriInstruments['laser']`."""

import tango
from sardana.macroserver.macro import Optional, Type, macro


def _laser(m) -> tango.DeviceProxy:
    return tango.DeviceProxy(m.getEnv("NanomriInstruments")["laser"])


@macro([["power", Type.Float, Optional, "laser power (W); the set power if omitted"]])
def laser_on(self, power):
    """Unblank the excitation laser, at `power` if given."""
    laser = _laser(self)
    if power is not None:
        laser.power = power
    laser.emission = True
    self.output(f"laser on at {laser.power:.3g} W")


@macro()
def laser_off(self):
    """Blank the excitation laser."""
    _laser(self).emission = False
    self.output("laser blanked")
