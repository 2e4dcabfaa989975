"""What a data file records of the set-up at the start of a scan: every instrument's settings
(env `NanomriInstruments`, role -> Tango device) and the world file the simulators read."""

import functools
from pathlib import Path

import numpy as np
import tango
import yaml

from nanomri.nexus import Instrument
from nanomri.world import WorldError, world_document

INSTRUMENTS_ENV = "NanomriInstruments"
SKIPPED = {"State", "Status"}
NO_UNIT = ("", "No unit")
STORABLE = (bool, int, float, str, np.bool_, np.number)  # not DevEncoded, not None (invalid)


@functools.lru_cache(maxsize=64)
def _recordable(device: str) -> tuple[tango.DeviceProxy, list]:
    """A proxy of `device` and its readable scalar attributes, looked up once per process: a
    new proxy and its attribute query at every scan's start cost tens of milliseconds."""
    proxy = tango.DeviceProxy(device)
    return proxy, [a for a in proxy.attribute_list_query()
                   if a.data_format == tango.AttrDataFormat.SCALAR and a.name not in SKIPPED
                   and a.writable != tango.AttrWriteType.WRITE]


def read_instrument(role: str, device: str) -> Instrument:
    """Every readable scalar attribute of a Tango device now (value, unit), and its Driver."""
    proxy, infos = _recordable(device)
    settings = {}
    values = proxy.read_attributes([a.name for a in infos]) if infos else []
    for info, attr in zip(infos, values, strict=True):
        value = str(attr.value) if isinstance(attr.value, tango.DevState) else attr.value
        if not attr.has_failed and isinstance(value, STORABLE):
            settings[info.name] = (value, "" if info.unit in NO_UNIT else info.unit)
    driver = (list(proxy.get_property("Driver")["Driver"]) or [""])[0]
    return Instrument(role, device, driver, settings)


def world_file(driver: str) -> Path | None:
    """The world file a simulated driver (`sim:<path>[#section]`) reads, None for real hardware."""
    if not driver.startswith("sim:"):
        return None
    return Path(driver.removeprefix("sim:").partition("#")[0])


def instruments(devices: dict[str, str] | None, warn) -> list[Instrument]:
    """Settings of `devices` (role -> device; None: the env is not set); `warn(text)` says
    what could not be recorded."""
    if devices is None:
        warn(f"{INSTRUMENTS_ENV} is not set: no instrument settings in the file")
        return []
    found = []
    for role, device in devices.items():
        try:
            found.append(read_instrument(role, device))
        except tango.DevFailed as exc:
            warn(f"settings of {device} not recorded: {exc.args[0].desc}")
    return found


def world(recorded: list[Instrument], warn) -> tuple[str | None, str | None]:
    """Name and YAML text (its base worlds merged in) of the world the simulated instruments
    read, if any."""
    paths = {p for p in map(world_file, (i.driver for i in recorded)) if p}
    if len(paths) > 1:
        warn(f"instruments simulate different worlds {sorted(map(str, paths))}")
    for path in sorted(paths):
        try:
            data = world_document(path)
        except WorldError as exc:
            warn(f"world file {path} not recorded: {exc}")
            continue
        return data.get("name"), yaml.safe_dump(data, sort_keys=False)
    return None, None
