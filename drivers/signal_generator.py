"""Rohde & Schwarz SMB100A / SGS100A signal generators over SCPI (pyvisa).

The generator speaks dBm and degrees; this driver speaks W and rad (SI) like every nanomri
driver. Every setting command is followed by `SYST:ERR?`: an error the instrument reports is
raised as `Refused`, so the device says why and nothing else is sent. Ranges come from the
instrument itself (`FREQ? MIN|MAX`, `POW? MIN|MAX`), settling times and list capacity from the
model's data sheet (`MODELS`).
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nanomri.interfaces.errors import Refused
from nanomri.interfaces.signal_generator import (
    Mode,
    SignalGeneratorConstraints,
    Sweep,
    TriggerSource,
    dbm_to_watt,
    watt_to_dbm,
)

from .visa import InstrumentError, open_resource


@dataclass(frozen=True)
class ModelData:
    """Data-sheet values the instrument cannot be asked for."""

    frequency_settle_time: float  # s
    level_settle_time: float  # s
    list_max_points: int
    dwell_min: float  # s
    dwell_max: float  # s


MODELS = {
    "SMB100A": ModelData(1.0e-3, 1.0e-3, 2000, 1.0e-3, 100.0),  # setting time < 1 ms
    "SGS100A": ModelData(0.5e-3, 0.5e-3, 2000, 1.0e-3, 100.0),  # setting time < 0.5 ms
}
GENERIC = ModelData(10.0e-3, 10.0e-3, 2000, 10.0e-3, 100.0)  # other R&S models: cautious
PHASE_MAX_DEG = 720.0  # PHASe range of both models

SCPI_MODE = {Mode.FIXED: "CW", Mode.SWEEP: "SWE", Mode.LIST: "LIST"}
MODE_OF = {"CW": Mode.FIXED, "FIX": Mode.FIXED, "FIXED": Mode.FIXED, "SWE": Mode.SWEEP,
           "SWEEP": Mode.SWEEP, "LIST": Mode.LIST}
# (sweep/list mode, trigger source): AUTO runs on its dwell, STEP advances once per trigger
SCPI_TRIGGER = {TriggerSource.IMMEDIATE: ("AUTO", "AUTO"),
                TriggerSource.SOFTWARE: ("STEP", "SING"),
                TriggerSource.EXTERNAL: ("STEP", "EXT")}
TRIGGER_OF = {"AUTO": TriggerSource.IMMEDIATE, "IMM": TriggerSource.IMMEDIATE,
              "SING": TriggerSource.SOFTWARE, "SINGLE": TriggerSource.SOFTWARE,
              "BUS": TriggerSource.SOFTWARE, "EXT": TriggerSource.EXTERNAL,
              "EXTERNAL": TriggerSource.EXTERNAL}
ERROR_REASONS = {-222: "OUT_OF_RANGE", -224: "OUT_OF_RANGE", -221: "CONFLICT"}
LIST_NAME = "nanomri"


class RSSignalGenerator:
    """SignalGeneratorDriver of an R&S SMB100A / SGS100A reached through pyvisa."""

    def __init__(self, inst, clock: Callable[[], float] = time.monotonic):
        self._inst = inst
        self._clock = clock
        self.model = "generator"
        idn = self._ask("*IDN?")
        fields = [f.strip() for f in idn.split(",")]
        if len(fields) < 2 or not fields[0].upper().startswith(("ROHDE", "R&S")):
            raise InstrumentError(f"*IDN? answered {idn!r}: not a Rohde & Schwarz generator")
        self.model = fields[1].upper()
        data = MODELS.get(self.model, GENERIC)
        self._inst.write("*CLS")
        self._send("*RST")
        self._ask("*OPC?")
        self._send(f'LIST:SEL "{LIST_NAME}"')
        self._send("SWE:SPAC LIN")
        self.constraints = SignalGeneratorConstraints(
            frequency_min=self._number("FREQ? MIN"), frequency_max=self._number("FREQ? MAX"),
            power_min=dbm_to_watt(self._number("POW? MIN")),
            power_max=dbm_to_watt(self._number("POW? MAX")),
            phase_max=math.radians(PHASE_MAX_DEG), list_max_points=data.list_max_points,
            dwell_min=data.dwell_min, dwell_max=data.dwell_max,
            frequency_settle_time=data.frequency_settle_time,
            level_settle_time=data.level_settle_time)
        self._triggers = 0  # software triggers since the sweep started (no query gives it)
        self._settled_at = 0.0

    # --- SCPI -----------------------------------------------------------------------------

    def _ask(self, query: str) -> str:
        return self._inst.query(query).strip()

    def _number(self, query: str) -> float:
        reply = self._ask(query)
        try:
            return float(reply)
        except ValueError:
            raise InstrumentError(f"{query!r} answered {reply!r}, not a number") from None

    def _send(self, command: str, settle: float = 0.0) -> None:
        """Send a setting and raise `Refused` with the instrument's error if it refused it."""
        self._inst.write(command)
        errors = []
        for _ in range(32):  # drain the queue: one refused command may leave several
            code, _, message = self._ask("SYST:ERR?").partition(",")
            try:
                code = int(code)
            except ValueError:
                raise InstrumentError(f"SYST:ERR? answered {code!r}") from None
            if code == 0:
                break
            errors.append((code, message.strip().strip('"')))
        if errors:
            code, message = errors[0]
            raise Refused(ERROR_REASONS.get(code, "INSTRUMENT"),
                          f"{command!r} refused by the {self.model}: {code}, {message}")
        if settle:
            self._settled_at = max(self._settled_at, self._clock() + settle)

    # --- settings -------------------------------------------------------------------------

    def set_frequency(self, frequency: float) -> None:
        _finite("frequency", frequency)
        self._send(f"FREQ {frequency:.3f}", self.constraints.frequency_settle_time)

    def frequency(self) -> float:
        return self._number("FREQ?")

    def set_power(self, power: float) -> None:
        if not math.isfinite(power) or power <= 0:
            raise Refused("OUT_OF_RANGE", f"power {power:g} W must be a positive number")
        self._send(f"POW {watt_to_dbm(power):.2f}", self.constraints.level_settle_time)

    def power(self) -> float:
        return dbm_to_watt(self._number("POW?"))

    def set_output(self, on: bool) -> None:
        self._send(f"OUTP {'ON' if on else 'OFF'}", self.constraints.level_settle_time)

    def output(self) -> bool:
        reply = self._ask("OUTP?").upper()
        if reply not in ("1", "0", "ON", "OFF"):
            raise InstrumentError(f"OUTP? answered {reply!r}")
        return reply in ("1", "ON")

    def set_phase(self, phase: float) -> None:
        _finite("phase", phase)
        self._send(f"PHAS {math.degrees(phase):.1f}", self.constraints.frequency_settle_time)

    def phase(self) -> float:
        return math.radians(self._number("PHAS?"))

    def set_mode(self, mode: Mode) -> None:
        mode = Mode(mode)
        if mode == Mode.LIST and not len(self.list_frequencies()):
            raise Refused("NO_LIST", "no list loaded: write the list frequencies before "
                                     "choosing LIST mode")
        self._send(f"FREQ:MODE {SCPI_MODE[mode]}", self.constraints.frequency_settle_time)
        self._triggers = 0

    def mode(self) -> Mode:
        return _decode("FREQ:MODE?", self._ask("FREQ:MODE?"), MODE_OF)

    def set_sweep(self, sweep: Sweep) -> None:
        _finite("sweep start", sweep.start)
        _finite("sweep stop", sweep.stop)
        now = self.sweep()  # send only what changes, so a refusal leaves the rest as it was
        if sweep.start != now.start:
            self._send(f"FREQ:STAR {sweep.start:.3f}")
        if sweep.stop != now.stop:
            self._send(f"FREQ:STOP {sweep.stop:.3f}")
        if sweep.points != now.points:
            self._send(f"SWE:POIN {int(sweep.points):d}")
        self._triggers = 0

    def sweep(self) -> Sweep:
        return Sweep(self._number("FREQ:STAR?"), self._number("FREQ:STOP?"),
                     int(self._number("SWE:POIN?")))

    def set_dwell(self, dwell: float) -> None:
        _finite("dwell", dwell)
        self._send(f"SWE:DWEL {dwell:.6f}")
        self._send(f"LIST:DWEL {dwell:.6f}")

    def dwell(self) -> float:
        return self._number("SWE:DWEL?")

    def set_list(self, frequencies: np.ndarray, powers: np.ndarray) -> None:
        f = np.asarray(frequencies, dtype=float)
        p = np.asarray(powers, dtype=float)
        limit = self.constraints.list_max_points
        if f.ndim != 1 or f.shape != p.shape or not 1 <= len(f) <= limit:
            raise Refused("LIST_LENGTH", f"a list has 1 to {limit} points and one power per "
                                         f"frequency, got {f.shape} frequencies and {p.shape} "
                                         f"powers")
        if not (np.all(np.isfinite(f)) and np.all(np.isfinite(p)) and np.all(p > 0)):
            raise Refused("OUT_OF_RANGE", "list frequencies and powers must be finite and "
                                          "powers positive")
        self._send("LIST:FREQ " + ",".join(f"{x:.3f}" for x in f))
        self._send("LIST:POW " + ",".join(f"{watt_to_dbm(x):.2f}" for x in p))
        self._send("LIST:LEAR")
        self._triggers = 0

    def list_frequencies(self) -> np.ndarray:
        return _numbers(self._ask("LIST:FREQ?"))

    def list_powers(self) -> np.ndarray:
        return np.asarray([dbm_to_watt(x) for x in _numbers(self._ask("LIST:POW?"))])

    def set_trigger(self, source: TriggerSource) -> None:
        step, trigger = SCPI_TRIGGER[TriggerSource(source)]
        self._send(f"SWE:MODE {step}")
        self._send(f"TRIG:FSW:SOUR {trigger}")
        self._send(f"LIST:MODE {step}")
        self._send(f"LIST:TRIG:SOUR {trigger}")
        self._triggers = 0

    def trigger(self) -> TriggerSource:
        return _decode("TRIG:FSW:SOUR?", self._ask("TRIG:FSW:SOUR?"), TRIGGER_OF)

    def software_trigger(self) -> None:
        mode, source = self.mode(), self.trigger()
        if mode == Mode.FIXED or source != TriggerSource.SOFTWARE:
            raise Refused("NOT_ARMED", f"a software trigger steps a sweep or list under "
                                       f"SOFTWARE trigger; mode is {mode.name}, trigger "
                                       f"{source.name}")
        self._send("*TRG")
        self._triggers += 1

    def restart(self) -> None:
        self._send("SWE:RES")
        self._send("LIST:RES")
        self._triggers = 0

    def step(self) -> int:
        mode = self.mode()
        if mode == Mode.LIST:
            return int(self._number("LIST:IND?"))
        if mode == Mode.SWEEP and self.trigger() == TriggerSource.SOFTWARE:
            return self._triggers % self.sweep().points
        return -1

    def settled(self) -> bool:
        return self._clock() >= self._settled_at


def _finite(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise Refused("NOT_FINITE", f"{name} must be a finite number, got {value}")


def _numbers(reply: str) -> np.ndarray:
    """A comma-separated SCPI list of numbers; empty for an empty list."""
    reply = reply.strip().strip('"')
    if not reply:
        return np.empty(0)
    try:
        return np.asarray([float(x) for x in reply.split(",")])
    except ValueError:
        raise InstrumentError(f"expected a list of numbers, got {reply[:80]!r}") from None


def _decode(query: str, reply: str, table: dict):
    try:
        return table[reply.upper()]
    except KeyError:
        raise InstrumentError(f"{query!r} answered {reply!r}; expected one of "
                              f"{sorted(table)}") from None


def open_driver(address: str) -> RSSignalGenerator:
    """The generator at the VISA `address` (`<resource>[|<visa library>]`)."""
    return RSSignalGenerator(open_resource(address))
