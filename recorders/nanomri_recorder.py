"""Sardana file recorder writing one nanomri NeXus file per scan (`nanomri.nexus`)."""


from pathlib import Path

import numpy as np
from sardana.macroserver.msexception import UnknownEnv
from sardana.macroserver.scan.gscan import ScanEndStatus
from sardana.macroserver.scan.recorder.storage import BaseFileRecorder
from sardana.macroserver.scan.scandata import MoveableDesc

from nanomri.clients import snapshot
from nanomri.nexus import COUNTER, MOTOR, Column, Instrument, Raster, ScanFile, scan_path

NO_UNIT = snapshot.NO_UNIT

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
        try:
            devices = self.macro.getEnv(snapshot.INSTRUMENTS_ENV)
        except UnknownEnv:
            devices = None
        return snapshot.instruments(devices, self.macro.warning)

    def _startRecordList(self, recordlist):
        env = recordlist.getEnviron()
        self.filename = str(scan_path(self.template, env["serialno"]))
        Path(self.filename).parent.mkdir(parents=True, exist_ok=True)  # a new ScanDir
        instruments = self._instruments()
        world_name, world = snapshot.world(instruments, self.macro.warning)
        geometry = env.get("nanomri_raster")
        self.file = ScanFile(self.filename, title=env["title"], serialno=env["serialno"],
                             columns=columns(env), npoints=getattr(self.macro, "nb_points", None),
                             raster=raster(geometry) if geometry else None,
                             instruments=instruments, world_name=world_name, world=world,
                             start_time=env["starttime"].astimezone(),
                             snapshot={d.label: d.pre_scan_value
                                       for d in env.get("preScanSnapShot", [])})
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
