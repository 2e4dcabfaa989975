"""Real driver of a Cobolt 06-01 series 532 nm laser (06-DPL) over its serial command set.

Commands (Cobolt 06-01 owner's manual): `l1`/`l0`/`l?` emission, `p <W>`/`p?` power set point in
W, `gmlp?` maximum power in mW, `ilk?` interlock (0 closed, 1 open), `f?` fault code, `cp`
constant power, `em` modulation mode (the AWG drives the digital modulation input). Every set
command answers `OK`; a refused one answers `Syntax error: ...`.
"""

from nanomri.interfaces.errors import Refused
from nanomri.interfaces.laser import LaserConstraints, LaserMode

from .visa import open_resource

FAULTS = {1: "temperature error", 3: "interlock error", 4: "constant power time-out"}


class CoboltLaser:
    """LaserDriver over a VISA resource speaking the Cobolt serial protocol."""

    def __init__(self, inst):
        self.inst = inst
        self.constraints = LaserConstraints(max_power=float(self._ask("gmlp?")) * 1e-3)
        self._mode = LaserMode.CW
        self._set("cp")

    def _ask(self, command: str) -> str:
        reply = self.inst.query(command).strip()
        if reply.lower().startswith("syntax error"):
            raise Refused("INSTRUMENT", f"laser refused {command!r}: {reply}")
        return reply

    def _set(self, command: str) -> None:
        reply = self._ask(command)
        if reply != "OK":
            raise Refused("INSTRUMENT", f"laser answered {reply!r} to {command!r}")

    def set_emission(self, on: bool) -> None:
        if on and self.interlock_open():
            raise Refused("INTERLOCK", "the laser interlock is open: emission refused until "
                                       "it is closed")
        self._set("l1" if on else "l0")
        fault = int(self._ask("f?"))
        if fault:
            raise Refused("FAULT", f"laser fault {fault}: {FAULTS.get(fault, 'unknown')}")

    def emission(self) -> bool:
        return self._ask("l?") == "1"

    def set_power(self, power: float) -> None:
        if not 0.0 <= power <= self.constraints.max_power:
            raise Refused("OUT_OF_RANGE", f"power {power:g} W is outside "
                                          f"[0, {self.constraints.max_power:g}] W")
        self._set(f"p {power:.4f}")

    def power(self) -> float:
        return float(self._ask("p?"))

    def set_mode(self, mode: LaserMode) -> None:
        self._set("em" if mode == LaserMode.GATED else "cp")
        self._mode = LaserMode(mode)

    def mode(self) -> LaserMode:
        return self._mode

    def interlock_open(self) -> bool:
        return self._ask("ilk?") == "1"


def open_driver(address: str) -> CoboltLaser:
    """The Cobolt laser at VISA `address` (`<resource>[|<visa library>]`), 115200 baud."""
    options = {"baud_rate": 115200} if address.upper().startswith("ASRL") else {}
    return CoboltLaser(open_resource(address, read_termination="\r\n", write_termination="\r",
                                     **options))
