"""Sardana file recorder writing one nanomri NeXus file per scan (`nanomri.nexus`)."""

import numpy as np
import tango
import yaml
from sardana.macroserver.scan.gscan import ScanEndStatus
from sardana.macroserver.scan.recorder.storage import BaseFileRecorder

from nanomri.nexus import Column, Instrument, Raster, ScanFile, scan_path

SKIPPED = {"State", "Status"}


def read_instrument(role: str, device: str) -> tuple[Instrument, str | None]:
    """Settings of one Tango device now, and the world file its `sim:` driver reads (if any)."""
    proxy = tango.DeviceProxy(device)
    infos = [a for a in proxy.attribute_list_query()
             if a.data_format == tango.AttrDataFormat.SCALAR and a.name not in SKIPPED]
    settings = {}
    for info, value in zip(infos, proxy.read_attributes([a.name for a in infos]), strict=True):
        if not value.has_failed:
            units = "" if info.unit in ("", "No unit") else info.unit
            settings[info.name] = (value.value, units)
    driver = (list(proxy.get_property("Driver")["Driver"]) or [""])[0]
    world = driver.removeprefix("sim:") if driver.startswith("sim:") else None
    return Instrument(role, device, driver, settings), world


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

    def _instruments(self) -> tuple[list[Instrument], str | None, str | None]:
        try:
            devices = self.macro.getEnv("NanomriInstruments")
        except Exception:
            self.macro.warning("NanomriInstruments is not set: no instrument settings in the file")
            return [], None, None
        instruments, world_path = [], None
        for role, device in devices.items():
            try:
                inst, world = read_instrument(role, device)
            except tango.DevFailed as exc:
                self.macro.warning(f"settings of {device} not recorded: {exc.args[0].desc}")
                continue
            instruments.append(inst)
            world_path = world_path or world
        if world_path is None:
            return instruments, None, None
        with open(world_path) as f:
            world = f.read()
        return instruments, yaml.safe_load(world).get("name"), world

    def _startRecordList(self, recordlist):
        env = recordlist.getEnviron()
        self.filename = str(scan_path(self.template, env["serialno"]))
        # channels are named by full Tango name, shown by alias (label); motors by alias
        columns = [Column(c.name, c.label if "/" in c.name else c.name)
                   for c in env["datadesc"] if not c.shape]
        raster = None
        if "nanomri_raster" in env:
            geometry = env["nanomri_raster"]
            counters = [c for c in columns if c.key in env["counters"]]
            raster = Raster(geometry["fast_motor"], geometry["slow_motor"],
                            np.asarray(geometry["fast_positions"]),
                            np.asarray(geometry["slow_positions"]), counters[0].name)
        instruments, world_name, world = self._instruments()
        self.file = ScanFile(self.filename, title=env["title"], serialno=env["serialno"],
                             columns=columns, npoints=getattr(self.macro, "nb_points", None),
                             raster=raster, instruments=instruments, world_name=world_name,
                             world=world, start_time=env["starttime"].astimezone())
        self.macro.info(f"nanomri NeXus file: {self.filename}")

    def _writeRecord(self, record):
        if self.file is not None:
            self.file.write_point(record.recordno, record.data)

    def _endRecordList(self, recordlist):
        if self.file is None:
            return
        status = recordlist.getEnviron().get("endstatus", ScanEndStatus.Exception)
        self.file.close(ScanEndStatus.whatis(status))
        self.file = None
