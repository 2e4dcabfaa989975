"""What the whole-stack tests share besides conftest's fixtures: a device of the running
stack, and the scan files its recorders wrote (ours and Sardana's NXscanH5)."""

import time
from pathlib import Path

import h5py
import numpy as np
import tango

from nanomri.nexus import read_columns

from .conftest import StackRun


def device(stack: StackRun, name: str) -> tango.DeviceProxy:
    """A Tango device (or Pool element) of the stack, read from the device itself."""
    proxy = tango.DeviceProxy(f"tango://{stack.tango_host}/{name}")
    proxy.set_source(tango.DevSource.DEV)
    return proxy


def written_file(out: str) -> Path:
    """The scan file a macro's output (stdout and stderr) names: the first, if it names more."""
    line = next(s for s in out.splitlines() if "nanomri NeXus file:" in s)
    return Path(line.split("nanomri NeXus file:")[1].strip())


def nxscan_entry(stack: StackRun, serialno: str) -> dict[str, np.ndarray]:
    """Every column Sardana's NXscanH5 recorder wrote of scan `serialno`."""
    with h5py.File(stack.results / "scans" / "nxscan.h5", "r") as h5:
        return {name: data[()] for name, data in h5[f"entry{serialno}/measurement"].items()
                if isinstance(data, h5py.Dataset)}


def last_scan(stack: StackRun) -> dict[str, np.ndarray]:
    """Every column of the newest scan file, once checked against the same scan's entry in
    Sardana's NXscanH5 file: both recorders wrote the same numbers."""
    path = sorted((stack.results / "scans").glob("scan_*.h5"))[-1]
    _, ours = read_columns(path)
    with h5py.File(path, "r") as h5:
        serialno = h5["entry/entry_identifier"][()].decode()
    sardanas = nxscan_entry(stack, serialno)
    both = ours.keys() & sardanas.keys()
    assert both, f"{sorted(ours)} against NXscanH5's {sorted(sardanas)}"
    for name in both:
        np.testing.assert_allclose(sardanas[name], ours[name], err_msg=name)
    return ours


def started_scan(stack: StackRun, before: set, lines: int, timeout: float = 120) -> Path:
    """The new scan file, once `lines` of its image are complete."""
    deadline = time.monotonic() + timeout
    while True:
        assert time.monotonic() < deadline, f"no scan with {lines} complete lines"
        new = set((stack.results / "scans").glob("scan_*.h5")) - before
        if new:
            (path,) = new
            with h5py.File(path, "r") as h5:
                image = h5["entry/data/counts"][()]
            if (~np.isnan(image).any(axis=1)).sum() >= lines:
                return path
        time.sleep(0.2)
