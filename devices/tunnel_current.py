"""Tango device of the STM tunnel-current readout: current, bias, lock-in on dI, safe state.

Safe state: the bias keeps its sign and drops to at most `safe_bias` (world/driver constraint,
10 mV on the shipped world), never to 0. A zero bias while the probe's current feedback holds
the tip would drive the tip into the surface (no current at any gap); a small bias keeps the
junction gentle and the current feedback safe, whatever order SafeState reaches the devices in.
"""

import math

from tango import AttrWriteType, DevState
from tango.server import attribute

from .base import InstrumentDevice
from .validation import fail, refusals, require_finite

ALARM_FRACTION = 0.95  # the current attribute alarms at this fraction of the full scale


class TunnelCurrent(InstrumentDevice):
    """Preamplifier and lock-in of an STM junction; ALARM while the preamplifier saturates."""

    INSTRUMENT = "tunnel_current"

    def init_instrument(self) -> None:
        c = self.driver.constraints
        self.set_write_limits("bias", -c.bias_max, c.bias_max)
        self.set_write_limits("lockin_time_constant", min(c.time_constants),
                              max(c.time_constants))
        self.set_write_limits("reference_frequency", c.reference_frequency_min,
                              c.reference_frequency_max)
        current = self.get_device_attr().get_attr_by_name("current")
        current.set_min_alarm(-ALARM_FRACTION * c.current_max)
        current.set_max_alarm(ALARM_FRACTION * c.current_max)

    @attribute(dtype=float, unit="A", format="%.4e", polling_period=100, abs_change="1e-12",
               doc="tunnel current, clipped at the preamplifier's full scale")
    def current(self) -> float:
        return self.driver.current()

    @attribute(dtype=float, access=AttrWriteType.READ_WRITE, unit="V", format="%.4e",
               memorized=True, hw_memorized=True, doc="sample bias of the tunnel junction")
    def bias(self) -> float:
        return self.driver.bias()

    @bias.write
    def bias(self, value: float) -> None:
        require_finite("bias", value)
        with refusals():
            self.driver.set_bias(value)

    @attribute(dtype=float, unit="A", format="%.4e", polling_period=100, abs_change="1e-14",
               doc="lock-in amplitude of the current at the reference frequency (dI)")
    def lockin_amplitude(self) -> float:
        return self.driver.lockin()[0]

    @attribute(dtype=float, unit="rad", format="%.4f", polling_period=100, abs_change="0.01",
               doc="lock-in phase of the current at the reference frequency")
    def lockin_phase(self) -> float:
        return self.driver.lockin()[1]

    @attribute(dtype=float, access=AttrWriteType.READ_WRITE, unit="s", format="%.3e",
               memorized=True, hw_memorized=True,
               doc="lock-in time constant: one of the instrument's allowed values")
    def lockin_time_constant(self) -> float:
        return self.driver.time_constant()

    @lockin_time_constant.write
    def lockin_time_constant(self, value: float) -> None:
        require_finite("lockin_time_constant", value)
        allowed = self.driver.constraints.time_constants
        if not any(math.isclose(value, tc, rel_tol=1e-9) for tc in allowed):
            fail("NOT_ALLOWED", f"lockin_time_constant {value:g} s is not one of "
                                f"{', '.join(f'{tc:g}' for tc in allowed)} s")
        with refusals():
            self.driver.set_time_constant(value)

    @attribute(dtype=float, access=AttrWriteType.READ_WRITE, unit="Hz", format="%.4e",
               memorized=True, hw_memorized=True,
               doc="lock-in reference: the RF chopping frequency")
    def reference_frequency(self) -> float:
        return self.driver.reference_frequency()

    @reference_frequency.write
    def reference_frequency(self, value: float) -> None:
        require_finite("reference_frequency", value)
        with refusals():
            self.driver.set_reference_frequency(value)

    def dev_state(self) -> DevState:
        if self._driver is None:
            return DevState.FAULT
        return DevState.ALARM if self._driver.saturated() else DevState.ON

    def dev_status(self) -> str:
        if self._driver is None:
            return self.get_status()
        d = self._driver
        if d.saturated():
            return (f"preamplifier saturated: |I| >= {d.constraints.current_max:.3g} A "
                    f"at bias {d.bias():.4g} V")
        return f"bias {d.bias():.4g} V"

    def safe_state(self) -> None:
        """Bias to at most safe_bias, sign kept (see the module's docstring)."""
        bias, safe = self.driver.bias(), self.driver.constraints.safe_bias
        if abs(bias) > safe:
            with refusals():
                self.driver.set_bias(math.copysign(safe, bias))
