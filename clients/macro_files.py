"""The NeXus file of an NV macro that runs its own point loop: numbered as Sardana numbers its
scans (env ScanID, ScanDir, ScanFile), with the set-up's settings and world recorded."""

from datetime import datetime

from sardana.macroserver.msexception import UnknownEnv

from nanomri.nexus import COUNTER, Column, Raster, ScanFile, scan_path

from . import snapshot

PULSES_ENV = "NanomriPulses"
DEFAULT_PULSES = {"pi": 50e-9, "pi_half": 25e-9, "rf_pi": 100e-9}  # s
COUNT_COLUMNS = [Column("ratio", "ratio", "", COUNTER),
                 Column("signal", "signal", "counts", COUNTER),
                 Column("reference", "reference", "counts", COUNTER)]


def count_values(signal: float, reference: float) -> dict[str, float]:
    """The count columns of a point: its gates and their ratio."""
    return {"signal": signal, "reference": reference, "ratio": signal / reference}


def env_or(macro, name: str, default):
    """A Sardana environment variable, or `default` where it is not set."""
    try:
        return macro.getEnv(name)
    except UnknownEnv:
        return default


def pulses(macro) -> dict[str, float]:
    """Pulse lengths (s): env `NanomriPulses` over the defaults."""
    return {**DEFAULT_PULSES, **dict(env_or(macro, PULSES_ENV, {}))}


def open_scan_file(macro, devices: dict[str, str], columns: list[Column], npoints: int,
                   raster: Raster | None = None) -> ScanFile:
    """The next scan's file; `columns` before the counts (signal, reference and their ratio)."""
    serialno = int(env_or(macro, "ScanID", 0)) + 1
    macro.setEnv("ScanID", serialno)
    template = env_or(macro, "ScanFile", ["scan_{serialno:05d}.h5"])
    template = template[0] if isinstance(template, list | tuple) else template
    path = scan_path(f"{macro.getEnv('ScanDir')}/{template}", serialno)
    path.parent.mkdir(parents=True, exist_ok=True)  # a new ScanDir, as Sardana's recorders do
    recorded = snapshot.instruments(devices, macro.warning)
    world_name, world = snapshot.world(recorded, macro.warning)
    file = ScanFile(path, title=macro.getMacroCommand(), serialno=serialno,
                    columns=[Column("point_nb", "point_nb"), *columns, *COUNT_COLUMNS],
                    npoints=npoints, raster=raster, instruments=recorded, world_name=world_name,
                    world=world, start_time=datetime.now().astimezone())
    macro.info(f"nanomri NeXus file: {path}")
    return file
