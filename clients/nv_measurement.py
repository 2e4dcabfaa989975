"""Choosing the NV measurement that the Pool's NV counter plays (measurement group mg_nv):
the `measurement` attribute of the sequence-parameter controller (controllers/NVSequenceCtrl)
and its time motors, shared by the macros that scan NV measurements."""

from sardana.macroserver.macro import Macro
from sardana.macroserver.msexception import UnknownEnv

from nanomri.nv_sequences import MEASUREMENTS

PULSES_ENV = "NanomriPulses"
DEFAULT_PULSES = {"pi": 50e-9, "pi_half": 25e-9, "rf_pi": 100e-9}  # s
NV_MNTGRP_ENV = "NanomriNVMntGrp"  # the NV measurement group, mg_nv unless set
NV_MNTGRP = "mg_nv"
SEQUENCE_CTRL_MOTOR = "tau"  # a motor of the sequence-parameter controller
PULSE_MOTORS = {"pi": "mw_pi", "pi_half": "mw_pi_half", "rf_pi": "rf_pi"}
TIME_MOTORS = {"tau": "tau", "mw_pulse": "mw_pulse", **PULSE_MOTORS}  # Times field -> motor


def env_or(macro: Macro, name: str, default):
    """A Sardana environment variable, or `default` where it is not set."""
    try:
        return macro.getEnv(name)
    except UnknownEnv:
        return default


def pulses(macro: Macro) -> dict[str, float]:
    """Pulse lengths (s): env `NanomriPulses` over the defaults."""
    return {**DEFAULT_PULSES, **dict(env_or(macro, PULSES_ENV, {}))}


def mntgrp(macro: Macro) -> str:
    """The measurement group that counts NV measurements."""
    return env_or(macro, NV_MNTGRP_ENV, NV_MNTGRP)


def select(macro: Macro, measurement: str, moves: dict[str, float] | None = None) -> None:
    """Make `measurement` the one the NV counter plays, with the pulse lengths of env
    NanomriPulses, and move `moves` (motor -> position) with them, in one upload."""
    if measurement not in MEASUREMENTS:
        raise ValueError(f"measurement must be one of {', '.join(MEASUREMENTS)}, got "
                         f"{measurement!r}")
    set_measurement(macro, measurement)
    targets = {PULSE_MOTORS[k]: v for k, v in pulses(macro).items()} | dict(moves or {})
    macro.getMotion(list(targets)).move(list(targets.values()))


def set_measurement(macro: Macro, measurement: str) -> None:
    """The sequence-parameter controller's measurement, uploaded when this returns."""
    _sequence_ctrl(macro).write_attribute("measurement", measurement)


def measurement(macro: Macro) -> str:
    """The measurement the sequence-parameter controller has loaded."""
    return str(_sequence_ctrl(macro).read_attribute("measurement").value)


def _sequence_ctrl(macro: Macro):
    return macro.getController(macro.getMoveable(SEQUENCE_CTRL_MOTOR).getControllerName())
