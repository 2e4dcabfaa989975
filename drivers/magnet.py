"""Real driver of a vector magnet on three American Magnetics Model 430 supplies, one per coil.

AMI 430 remote commands used (Model 430 manual): `*IDN?`; `CONF:FIELD:UNITS 1` (tesla),
`CONF:RAMP:RATE:UNITS 0` (per second), `CONF:RAMP:RATE:SEG 1`, `CONF:RAMP:RATE:FIELD
1,<rate>,<upper bound>`; `CONF:FIELD:TARG <T>`, `FIELD:TARG?`, `FIELD:MAG?`, `CURR:MAG?`;
`RAMP`, `PAUSE`; `STATE?` (1 RAMPING, 2 HOLDING, 3 PAUSED, 4/5 manual up/down, 6 ZEROING,
7 QUENCH, 8 AT ZERO, 9 heating switch, 10 cooling switch); `PS 0|1`, `PS?`, `PS:INST?`,
`PS:HTIME?`, `PS:CTIME?`; `QU?`, `QU 0`; `COIL?` (T/A), `CURR:LIM?` (A); `SYST:ERR?`. Set
commands answer nothing; each is followed by `SYST:ERR?`, and an error makes it a refusal.

Driver address: `<resource x>,<resource y>,<resource z>[|<visa library>];max_ramp_rate=<T/s>
[;max_field=<T>]`; `+` may separate the resources instead of `,` where a property store splits
values at commas (Tango's file database, hence PyTango's test context). The supplies know each
coil's current limit and coil constant (so each coil's field limit) but not the magnet's rated
ramp rate, which the address must give, nor the |B| sphere of the vector magnet, which defaults
to the smallest coil limit. The quench flag is read with QU?; STATE? gives the motion.
"""

import math
import re
import time
from contextlib import suppress

from nanomri.interfaces.errors import Refused
from nanomri.interfaces.magnet import (
    AXES,
    MagnetConstraints,
    MagnetState,
    Vector,
    axis_rates,
    check_field,
    check_ramp_rate,
)

from .visa import InstrumentError, open_resource

MIN_RATE = 1e-4  # A/s, the slowest ramp rate a Model 430 accepts
FIELD_AGE = 0.05  # s: field reads this close share one FIELD:MAG? per supply (the device's
# polling reads Bx, By, Bz and |B| in a row)
STATES = {1: MagnetState.RAMPING, 2: MagnetState.HOLDING, 3: MagnetState.PAUSED,
          4: MagnetState.RAMPING, 5: MagnetState.RAMPING, 6: MagnetState.RAMPING,
          7: MagnetState.PAUSED,  # quench: reported from QU?, the 430 pauses once it is reset
          8: MagnetState.HOLDING, 9: MagnetState.HEATING_SWITCH,
          10: MagnetState.COOLING_SWITCH}
PRIORITY = (MagnetState.HEATING_SWITCH, MagnetState.COOLING_SWITCH, MagnetState.RAMPING,
            MagnetState.PAUSED, MagnetState.HOLDING)  # how three supplies' states fold into one


def _number(x: float) -> str:
    """A number as the 430 reads it: fixed point, no exponent."""
    return f"{x:.10f}"


class Supply:
    """One AMI 430 over VISA: queries, and set commands checked against its error queue."""

    def __init__(self, axis: str, inst):
        self.axis = axis
        self.inst = inst

    def identify(self) -> str:
        """The *IDN? answer, skipping the greeting the 430 sends on a new TCP connection."""
        self.inst.write("*IDN?")
        for _ in range(4):
            line = self.inst.read().strip()
            if "," in line:
                if "430" not in line:
                    raise InstrumentError(f"{self.axis} supply is not an AMI 430: {line!r}")
                return line
        raise InstrumentError(f"{self.axis} supply does not answer *IDN?")

    def ask(self, query: str) -> str:
        return self.inst.query(query).strip()

    def number(self, query: str) -> float:
        reply = self.ask(query)
        try:
            return float(reply.split(",")[0])
        except ValueError:
            raise InstrumentError(f"{self.axis} supply answered {reply!r} to {query!r}") from None

    def send(self, command: str) -> None:
        self.inst.write(command)
        error = self.ask("SYST:ERR?")
        if error.split(",")[0].strip() not in ("0", "+0") and "no error" not in error.lower():
            raise Refused("INSTRUMENT", f"the {self.axis} supply refused {command!r}: {error}")


class AMI430Magnet:
    """MagnetDriver over three AMI 430 supplies (x, y, z coils), fields in tesla."""

    def __init__(self, supplies: dict[str, Supply], max_ramp_rate: float,
                 max_field: float | None = None):
        self.supplies = supplies
        for s in supplies.values():
            s.identify()
            for command in ("CONF:FIELD:UNITS 1", "CONF:RAMP:RATE:UNITS 0", "CONF:RAMP:RATE:SEG 1"):
                s.send(command)
        self._coil = {a: s.number("COIL?") for a, s in supplies.items()}  # T/A
        limits = {a: s.number("CURR:LIM?") * self._coil[a] for a, s in supplies.items()}
        self._switch = all(s.number("PS:INST?") == 1 for s in supplies.values())
        self.constraints = MagnetConstraints(
            max_field=max_field if max_field is not None else min(limits.values()),
            axis_max_field=limits,
            min_ramp_rate=MIN_RATE * max(self._coil.values()),
            max_ramp_rate=max_ramp_rate,
            switch_heat_time=max(s.number("PS:HTIME?") for s in supplies.values()),
            switch_cool_time=max(s.number("PS:CTIME?") for s in supplies.values()),
        )
        if max_ramp_rate < self.constraints.min_ramp_rate:
            raise ValueError(f"max_ramp_rate = {max_ramp_rate:g} T/s is below the slowest rate "
                             f"the supplies ramp at, {self.constraints.min_ramp_rate:g} T/s")
        self._field: tuple[float, Vector] | None = None  # (when read, field)
        present = max(s.number("RAMP:RATE:FIELD:1?") for s in supplies.values())
        c = self.constraints
        self._rate = min(max(present, c.min_ramp_rate), c.max_ramp_rate)

    def _each(self, query: str) -> Vector:
        return tuple(self.supplies[a].number(query) for a in AXES)

    def _states(self) -> list[MagnetState]:
        return [STATES.get(int(self.supplies[a].number("STATE?")), MagnetState.HOLDING)
                for a in AXES]

    def _quenched(self) -> list[str]:
        return [a for a in AXES if self.supplies[a].number("QU?") == 1]

    def _check_can_ramp(self) -> None:
        fault = self.fault()
        if fault:
            raise Refused("QUENCH", f"{fault}; reset the quench before ramping")
        if self.persistent():
            raise Refused("PERSISTENT", "the magnet is persistent (switch heater off): leave "
                                        "persistent mode before ramping")
        if MagnetState.HEATING_SWITCH in self._states():
            raise Refused("PERSISTENT", "the persistent switch is still heating: no ramp yet")

    def _configure(self, axis: str, rate: float, target: float) -> None:
        s = self.supplies[axis]
        bound = self.constraints.axis_max_field[axis]
        s.send(f"CONF:RAMP:RATE:FIELD 1,{_number(rate)},{_number(bound)}")
        s.send(f"CONF:FIELD:TARG {_number(target)}")

    def _go(self, start: Vector, end: Vector) -> None:
        """Ramp every coil to `end` at rates that keep the path a straight line; if a supply
        refuses its settings, the others get their old ones back and nothing ramps."""
        rates = axis_rates(start, end, self._rate)
        before = {a: (self.supplies[a].number("RAMP:RATE:FIELD:1?"),
                      self.supplies[a].number("FIELD:TARG?")) for a in AXES}
        done = []
        try:
            for axis, rate, value in zip(AXES, rates, end, strict=True):
                done.append(axis)
                self._configure(axis, max(rate, MIN_RATE * self._coil[axis]), value)
        except Refused:
            for axis in done:
                with suppress(Refused):
                    self._configure(axis, *before[axis])
            raise
        for axis in AXES:
            self.supplies[axis].send("RAMP")

    def ramp_to(self, target: Vector) -> None:
        vector = check_field(target, self.constraints)
        self._check_can_ramp()
        self._field = None
        self._go(self.field(), vector)

    def field(self) -> Vector:
        now = time.monotonic()
        if self._field is None or now - self._field[0] > FIELD_AGE:
            self._field = (now, self._each("FIELD:MAG?"))
        return self._field[1]

    def target(self) -> Vector:
        return self._each("FIELD:TARG?")

    def currents(self) -> Vector:
        return self._each("CURR:MAG?")

    def state(self) -> MagnetState:
        if self._quenched():
            return MagnetState.QUENCH
        states = self._states()
        return next(s for s in PRIORITY if s in states)

    def ramp_rate(self) -> float:
        return self._rate

    def set_ramp_rate(self, rate: float) -> None:
        rate = check_ramp_rate(rate, self.constraints)
        old, self._rate = self._rate, rate
        if MagnetState.RAMPING in self._states():
            self._field = None
            try:
                self._go(self.field(), self.target())
            except Refused:
                self._rate = old
                raise

    def pause(self) -> None:
        for axis in AXES:
            self.supplies[axis].send("PAUSE")

    def resume(self) -> None:
        self._check_can_ramp()
        self._field = None
        self._go(self.field(), self.target())

    def persistent(self) -> bool:
        return self._switch and any(self.supplies[a].number("PS?") == 0 for a in AXES)

    def set_persistent(self, on: bool) -> None:
        if not self._switch:
            raise Refused("NO_SWITCH", "the supplies report no persistent switch installed")
        fault = self.fault()
        if fault:
            raise Refused("QUENCH", f"{fault}; reset the quench first")
        if on and MagnetState.RAMPING in self._states():
            raise Refused("BUSY", "cannot enter persistent mode while ramping: wait for the "
                                  "ramp to end or Pause it")
        for axis in AXES:
            self.supplies[axis].send("PS 0" if on else "PS 1")

    def fault(self) -> str:
        coils = self._quenched()
        if not coils:
            return ""
        return f"quench detected by the {', '.join(coils)} supply: the field has collapsed"

    def reset_quench(self) -> None:
        for axis in AXES:
            self.supplies[axis].send("QU 0")


def _options(parts: list[str]) -> dict[str, float]:
    known = ("max_ramp_rate", "max_field")
    options = {}
    for part in parts:
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in known:
            raise ValueError(f"magnet address option {part!r} is not one of "
                             f"{', '.join(k + '=<number>' for k in known)}")
        number = float(value)
        if not math.isfinite(number) or number <= 0:
            raise ValueError(f"magnet address option {key} must be a positive number, got "
                             f"{value!r}")
        options[key] = number
    if "max_ramp_rate" not in options:
        raise ValueError("the magnet address needs ;max_ramp_rate=<T/s>, the magnet's rated "
                         "ramp rate (the supplies do not know it)")
    return options


def open_driver(address: str) -> AMI430Magnet:
    """The magnet at `<res x>,<res y>,<res z>[|<library>];max_ramp_rate=<T/s>[;max_field=<T>]`
    (`+` or `,` between the resources)."""
    main, *parts = address.split(";")
    options = _options(parts)
    resources, sep, library = main.partition("|")
    names = [r.strip() for r in re.split(r"[,+]", resources)]
    if len(names) != 3 or not all(names):
        raise ValueError(f"magnet address {address!r} must name three VISA resources "
                         f"(x, y, z supplies) separated by ',' or '+'")
    supplies = {}
    for axis, name in zip(AXES, names, strict=True):
        serial = {"baud_rate": 115200} if name.upper().startswith("ASRL") else {}
        inst = open_resource(f"{name}|{library}" if sep else name, read_termination="\r\n",
                             write_termination="\r\n", **serial)
        supplies[axis] = Supply(axis, inst)
    return AMI430Magnet(supplies, options["max_ramp_rate"], options.get("max_field"))
