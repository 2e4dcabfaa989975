"""Sardana file recorder writing one nanomri NeXus file per scan (`nanomri.nexus`)."""

from pathlib import Path

import numpy as np
import tango
import yaml
from sardana.macroserver.msexception import UnknownEnv
from sardana.macroserver.scan.gscan import ScanEndStatus
from sardana.macroserver.scan.recorder.storage import BaseFileRecorder
from sardana.macroserver.scan.scandata import MoveableDesc

from nanomri.nexus import COUNTER, MOTOR, Column, Instrument, Raster, ScanFile, scan_path

SKIPPED = {"State", "Status"}
NO_UNIT = ("", "No unit")
STORABLE = (bool, int, float, str, np.bool_, np.number)  # not DevEncoded, not None (invalid)


def read_instrument(role: str, device: str) -> Instrument:
    """Every readable scalar attribute of a Tango device now (value, unit), and its Driver."""
    proxy = tango.DeviceProxy(device)
    infos = [a for a in proxy.attribute_list_query()
             if a.data_format == tango.AttrDataFormat.SCALAR and a.name not in SKIPPED
             and a.writable != tango.AttrWriteType.WRITE]
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


def columns(env: dict) -> list[Column]:
    """The scalar columns of a scan: motors by name, channels by label (their alias)."""
    counters = set(env["counters"])
    cols = []
    for desc in env["datadesc"]:
        if desc.shape:
            continue
        units = getattr(desc, "data_units", "")
        if isinstance(desc, MoveableDesc):
            cols.append(Column(desc.name, desc.name, kind=MOTOR))
        elif desc.name in counters:
            cols.append(Column(desc.name, desc.label, "" if units in NO_UNIT else units, COUNTER))
        else:
            cols.append(Column(desc.name, desc.name))
    return cols


def raster(geometry: dict) -> Raster:
    """The image geometry the `raster` macro puts in the scan environ as `nanomri_raster`."""
    return Raster(geometry["fast_motor"], geometry["slow_motor"],
                  np.asarray(geometry["fast_positions"], dtype=float),
                  np.asarray(geometry["slow_positions"], dtype=float),
                  bidirectional=bool(geometry.get("bidirectional", False)))


class NanomriNXRecorder(BaseFileRecorder):
    """One NeXus file per scan; a raster's counts also as an NXdata image with its axes."""

    formats = {"nanomri": ".h5"}

    def __init__(self, filename=None, macro=None, **pars):
        super().__init__(**pars)
        self.template = filename
        self.filename = filename
        self.macro = macro
        self.file: ScanFile | None = None

    def getFormat(self):
        return "nanomri NeXus (one file per scan)"

    def _instruments(self) -> list[Instrument]:
        """Settings of the devices in env `NanomriInstruments` (role → Tango device)."""
        try:
            devices = self.macro.getEnv("NanomriInstruments")
        except UnknownEnv:
            self.macro.warning("NanomriInstruments is not set: no instrument settings in the file")
            return []
        instruments = []
        for role, device in devices.items():
            try:
                instruments.append(read_instrument(role, device))
            except tango.DevFailed as exc:
                self.macro.warning(f"settings of {device} not recorded: {exc.args[0].desc}")
        return instruments

    def _world(self, instruments: list[Instrument]) -> tuple[str | None, str | None]:
        """Name and YAML text of the world the simulated instruments read, if any."""
        paths = {p for p in map(world_file, (i.driver for i in instruments)) if p}
        if len(paths) > 1:
            self.macro.warning(f"instruments simulate different worlds {sorted(map(str, paths))}")
        for path in sorted(paths):
            try:
                text = path.read_text()
                world = yaml.safe_load(text)
            except (OSError, yaml.YAMLError) as exc:
                self.macro.warning(f"world file {path} not recorded: {exc}")
                continue
            return (world.get("name") if isinstance(world, dict) else None), text
        return None, None

    def _startRecordList(self, recordlist):
        env = recordlist.getEnviron()
        self.filename = str(scan_path(self.template, env["serialno"]))
        instruments = self._instruments()
        world_name, world = self._world(instruments)
        geometry = env.get("nanomri_raster")
        self.file = ScanFile(self.filename, title=env["title"], serialno=env["serialno"],
                             columns=columns(env), npoints=getattr(self.macro, "nb_points", None),
                             raster=raster(geometry) if geometry else None,
                             instruments=instruments, world_name=world_name, world=world,
                             start_time=env["starttime"].astimezone())
        self.macro.info(f"nanomri NeXus file: {self.filename}")

    def _writeRecord(self, record):
        if self.file is not None:
            self.file.write_point(record.recordno, record.data)

    def _interruption(self) -> str | None:
        """Abort or Stop if the macro was interrupted, whatever error the scan then raised."""
        if self.macro.isAborted():
            return "Abort"
        return "Stop" if self.macro.isStopped() else None

    def _endRecordList(self, recordlist):
        if self.file is None:
            return
        env = recordlist.getEnviron()
        status = ScanEndStatus.whatis(env.get("endstatus", ScanEndStatus.Exception))
        if status == "Exception":  # a continuous scan turns an abort or a stop into an error
            status = self._interruption() or status
        end = env.get("endtime")
        file, self.file = self.file, None
        repeated = getattr(self.macro, "repeated_lines", None)
        if repeated:
            file.note_repeated_lines(repeated)
        file.close(status, end.astimezone() if end else None)
