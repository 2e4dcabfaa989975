"""Simulated STM preamplifier and lock-in: the tunnel current of the probe's tip over the surface.

The current is I = G0 V exp(-2 kappa d) with d the gap the simulated probe reports
(`world.links.probe.gap`), the same function its current feedback inverts, plus white
preamplifier noise over its bandwidth. The lock-in output is the current's modulation at the
reference, low-pass filtered with the time constant, plus the noise that passes that filter.
"""

import math
import threading

import numpy as np

from nanomri.interfaces.errors import Refused
from nanomri.interfaces.tunnel_current import TunnelCurrentConstraints
from nanomri.tunnelling import tunnel_current
from nanomri.world_sections.tunnel_current import TunnelCurrentSpec

from ..sim_world import SimWorld, open_section


class SimTunnelCurrent:
    """TunnelCurrentDriver over a SimWorld."""

    def __init__(self, world: SimWorld, key: str = "tunnel_current"):
        spec: TunnelCurrentSpec = getattr(world.model.instruments, key)
        if world.model.sample.surface is None:
            raise ValueError(f"instruments.{key} needs sample.surface (the tunnel junction)")
        self.world, self.spec, self.surface = world, spec, world.model.sample.surface
        self.constraints = TunnelCurrentConstraints(
            bias_max=spec.bias_max, current_max=spec.current_max,
            time_constants=tuple(spec.time_constants),
            reference_frequency_min=spec.reference_frequency_min,
            reference_frequency_max=spec.reference_frequency_max, safe_bias=spec.safe_bias)
        self._bias = spec.initial_bias
        self._time_constant = spec.initial_time_constant
        self._reference = spec.initial_reference_frequency
        self._rng = world.rng(key)
        self._lock = threading.Lock()  # never held while calling the probe
        self._lockin_t = world.clock()
        self._xy = self._lockin_noise() * self._rng.standard_normal(2)

    def _gap(self, now: float) -> float:
        probe = self.world.links.probe
        if probe is None:
            return math.inf  # no tip in this world process: an open junction
        return float(probe.gap(now)[0])

    def expected_current(self) -> float:
        """Noiseless tunnel current now (A), before the preamplifier."""
        s = self.surface
        gap = self._gap(self.world.clock())
        return float(tunnel_current(gap, self._bias, s.contact_conductance, s.tunnel_decay))

    def current(self) -> float:
        spread = self.spec.current_noise * math.sqrt(self.spec.bandwidth)
        value = self.expected_current()
        with self._lock:
            value += spread * self._rng.standard_normal()
        limit = self.constraints.current_max
        return min(max(value, -limit), limit)

    def saturated(self) -> bool:
        return abs(self.expected_current()) >= self.constraints.current_max

    def bias(self) -> float:
        return self._bias

    def set_bias(self, bias: float) -> None:
        limit = self.constraints.bias_max
        if not -limit <= bias <= limit:
            raise Refused("OUT_OF_RANGE", f"bias {bias:g} V is outside [{-limit:g}, {limit:g}] V")
        probe = self.world.links.probe
        if probe is not None:
            probe.on_bias_change(bias)  # refuses a bias its current feedback would crash at
        self._bias = float(bias)

    def modulation(self, t: float) -> complex:
        """Modulation of the current at the reference (A, complex): 0, as nothing chops it yet.

        Hook for STM-ESR: the dI of the RF generator's state (`world.links.rf`)
        comes in here.
        """
        return 0j

    def _lockin_noise(self) -> float:
        """Noise per quadrature (A) after a first-order filter: ENBW = 1 / (4 tau)."""
        return self.spec.current_noise * math.sqrt(1.0 / (4.0 * self._time_constant))

    def _advance(self, now: float) -> None:
        """Filter outputs X, Y up to `now`: exact first-order (Ornstein-Uhlenbeck) step."""
        decay = math.exp(-(now - self._lockin_t) / self._time_constant)
        m = self.modulation(now)
        mean = np.array([m.real, m.imag])
        kick = self._lockin_noise() * math.sqrt(1.0 - decay**2) * self._rng.standard_normal(2)
        self._xy = mean + (self._xy - mean) * decay + kick
        self._lockin_t = now

    def lockin(self) -> tuple[float, float]:
        with self._lock:
            self._advance(self.world.clock())
            x, y = self._xy
        return float(math.hypot(x, y)), float(math.atan2(y, x))

    def time_constant(self) -> float:
        return self._time_constant

    def set_time_constant(self, time_constant: float) -> None:
        allowed = self.constraints.time_constants
        match = [tc for tc in allowed if math.isclose(tc, time_constant, rel_tol=1e-9)]
        if not match:
            raise Refused("NOT_ALLOWED", f"time constant {time_constant:g} s is not one of "
                                         f"{', '.join(f'{tc:g}' for tc in allowed)} s")
        with self._lock:
            self._advance(self.world.clock())
            self._time_constant = match[0]

    def reference_frequency(self) -> float:
        return self._reference

    def set_reference_frequency(self, frequency: float) -> None:
        c = self.constraints
        low, high = c.reference_frequency_min, c.reference_frequency_max
        if not low <= frequency <= high:
            raise Refused("OUT_OF_RANGE", f"reference frequency {frequency:g} Hz is outside "
                                          f"[{low:g}, {high:g}] Hz")
        self._reference = float(frequency)


def open_driver(address: str) -> SimTunnelCurrent:
    """The simulated tunnel-current readout of the world file at `address`."""
    world, _, key = open_section(address, "tunnel_current", TunnelCurrentSpec)
    return world.driver(key, lambda: SimTunnelCurrent(world, key))
