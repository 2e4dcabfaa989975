"""Stopping or aborting any scan on the Door leaves every instrument safe within a second."""

import importlib.util
import json
import signal
import subprocess
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import tango
import yaml

from .conftest import NANOMRI, ROOT, StackRun, sigint_ignored

SAFETY = ROOT / "macros" / "safety.py"
INSTRUMENTS = {"scanner": "d/scanner", "laser": "d/laser", "probe": "d/probe",
               "magnet": "d/magnet", "mw": "d/mw"}
SEQUENCE = json.dumps({"length": 10e-6, "pulses": [
    {"channel": "laser", "start": 0.0, "duration": 3e-6},
    {"channel": "mw", "start": 4e-6, "duration": 1e-6},
]})
FIELD = 2e-3  # T on z, held by the magnet through every abort
Z_TOP = yaml.safe_load((ROOT / "conf" / "worlds" / "confocal.yaml").read_text())[
    "instruments"]["probe"]["position_max"]["z"]


def load_safety(name: str = "nanomri_safety"):
    spec = importlib.util.spec_from_file_location(name, SAFETY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


safety = load_safety()


# --- what an abort makes safe, without a stack -------------------------------------------------

def test_abort_makes_every_instrument_safe_but_a_scan_head_the_macro_did_not_use():
    assert safety.safe_roles(INSTRUMENTS, heads_in_use=()) == {
        "scanner": "d/scanner", "laser": "d/laser", "magnet": "d/magnet", "mw": "d/mw"}


def test_abort_retracts_the_tip_of_a_scan_head_the_macro_used():
    assert safety.safe_roles(INSTRUMENTS, heads_in_use={"probe"}) == INSTRUMENTS


def test_a_controller_drives_the_devices_its_properties_name():
    devices = ["nanomri/confocal/probe", "nanomri/confocal/scanner"]
    ours = {"device": ["nanomri/confocal/probe"], "type": ["Motor"]}
    generic = {"TangoAttribute": ["NanoMRI/Confocal/Probe/x"]}
    neighbour = {"device": ["nanomri/confocal/probe2"]}
    assert safety.devices_named(ours, devices) == {"nanomri/confocal/probe"}
    assert safety.devices_named(generic, devices) == {"nanomri/confocal/probe"}
    assert safety.devices_named(neighbour, devices) == set()


class Macro:
    def __init__(self, parent=None):
        self.parent_macro = parent


def test_the_final_safe_pass_comes_as_the_outermost_macro_unwinds(monkeypatch):
    passes, outer, executor = [], Macro(), object()  # the executor is not looked at
    monkeypatch.setattr(safety, "_safe_pass", lambda ex, final_of: passes.append(final_of))
    safety._final_pass(executor, Macro(parent=outer))  # a macro run by another: not yet
    safety._final_pass(executor, outer)
    assert passes == [outer]


# --- the whole stack ---------------------------------------------------------------------------

class Lab:
    """Tango clients of the running stack's instruments and Door."""

    def __init__(self, stack: StackRun):
        host = json.loads((stack.state / "stack.json").read_text())["tango_host"]
        self.stack = stack
        self.door = self._proxy(host, "nanomri/door/1")
        self.dev = {role: self._proxy(host, f"nanomri/confocal/{name}") for role, name in [
            ("scanner", "scanner"), ("laser", "laser"), ("sequencer", "sequencer"),
            ("mw", "mw"), ("rf", "rf"), ("magnet", "magnet"), ("probe", "probe")]}

    @staticmethod
    def _proxy(host: str, name: str) -> tango.DeviceProxy:
        proxy = tango.DeviceProxy(f"tango://{host}/{name}")
        proxy.set_source(tango.DevSource.DEV)
        return proxy

    def wait(self, role: str, while_in=tango.DevState.MOVING, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.dev[role].state() == while_in:
            assert time.monotonic() < deadline, f"{role} still {while_in}"
            time.sleep(0.05)

    def switch_everything_on(self) -> None:
        """Laser emitting, MW and RF on, a long sequence playing."""
        self.stack.run_ok("laser_on 1e-3")
        self.dev["mw"].output = True
        self.dev["rf"].output = True
        seq = self.dev["sequencer"]
        seq.Load(SEQUENCE)
        self.wait("sequencer")
        seq.repetitions = 10_000_000  # 100 s
        seq.Run()
        self.wait("sequencer", while_in=tango.DevState.ON, timeout=2)
        assert seq.state() == tango.DevState.RUNNING

    def unsafe(self) -> list[str]:
        """What is not yet in its safe state."""
        d = self.dev
        checks = {
            "laser emitting": d["laser"].emission,
            "MW on": d["mw"].output,
            "RF on": d["rf"].output,
            "sequence playing": d["sequencer"].state() == tango.DevState.RUNNING,
            "scanner moving": d["scanner"].state() == tango.DevState.MOVING,
        }
        return [what for what, bad in checks.items() if bad]


@pytest.fixture(scope="module")
def lab(stack: StackRun) -> Lab:
    lab = Lab(stack)
    lab.dev["magnet"].Bz = FIELD
    lab.wait("magnet")
    return lab


def scan_files(stack: StackRun) -> set[Path]:
    return set((stack.results / "scans").glob("scan_*.h5"))


def completed_points(path: Path) -> int:
    with h5py.File(path, "r") as h5:
        return int(np.isfinite(h5["entry/measurement/counts"][()]).sum())


def start_scan(lab: Lab, line: str, points: int, timeout: float = 120):
    """`nanomri run <line>` in the background, once `points` points are in its file; SIGINT
    ignored when it starts, as a shell starts a background job, still aborts it."""
    before = scan_files(lab.stack)
    with sigint_ignored():
        run = subprocess.Popen([*NANOMRI, "run", line], env=lab.stack.env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while True:
            assert time.monotonic() < deadline and run.poll() is None, f"{line}: no {points} points"
            if new := scan_files(lab.stack) - before:
                (path,) = new
                if completed_points(path) >= points:
                    return run, path
            time.sleep(0.1)
    except BaseException:
        run.send_signal(signal.SIGINT)
        run.communicate(timeout=60)
        raise


def unsafe_after(lab: Lab, seconds: float) -> list[str]:
    """What is still unsafe `seconds` after now, or nothing as soon as all is safe."""
    deadline = time.monotonic() + seconds
    while (unsafe := lab.unsafe()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return unsafe


@pytest.mark.stack
@pytest.mark.parametrize("line, points, interrupt, status", [
    ("raster x 10e-6 15e-6 20 y 10e-6 15e-6 20 0.01", 40, "ctrl-c", b"Abort"),
    ("ascan x 10e-6 15e-6 200 0.01", 5, "AbortMacro", b"Abort"),
    ("mesh x 10e-6 12e-6 10 y 10e-6 12e-6 10 0.01", 12, "StopMacro", b"Stop"),
])
def test_interrupted_scan_leaves_every_instrument_safe_within_a_second(lab: Lab, line, points,
                                                                       interrupt, status):
    lab.switch_everything_on()
    run, path = start_scan(lab, line, points)
    assert {"laser emitting", "MW on", "RF on", "sequence playing"} <= set(lab.unsafe())
    if interrupt == "ctrl-c":
        run.send_signal(signal.SIGINT)  # `nanomri run` sends AbortMacro
    else:
        lab.door.command_inout(interrupt)
    assert unsafe_after(lab, 1.0) == []
    out, err = run.communicate(timeout=60)
    assert run.returncode == 130, out + err
    assert "instruments in their safe state" in out and "safe state of" not in err
    assert lab.dev["magnet"].Bz == pytest.approx(FIELD, abs=1e-6)  # the field is held

    with h5py.File(path, "r") as h5:
        assert h5["entry/end_status"][()] == status
        counts = h5["entry/measurement/counts"][()]
        x = h5["entry/measurement/x"][()]
    done = np.isfinite(counts)
    assert points <= done.sum() < counts.size
    assert np.isfinite(x[done]).all() and (10e-6 - 1e-9 <= x[done]).all()

    before = scan_files(lab.stack)
    lab.stack.run_ok("ascan x 10e-6 11e-6 4 0.001")  # the next scan runs at once
    (after,) = scan_files(lab.stack) - before
    with h5py.File(after, "r") as h5:
        assert h5["entry/end_status"][()] == b"Normal"
        assert np.isfinite(h5["entry/measurement/counts"][()]).sum() == 5


@pytest.fixture()
def engaged_tip(lab: Lab) -> tango.DeviceProxy:
    """The probe's tip approached to the surface, in feedback."""
    probe = lab.dev["probe"]
    if not probe.feedback:
        probe.Approach()
        lab.wait("probe", timeout=60)
    assert probe.feedback
    return probe


@pytest.mark.stack
def test_aborted_confocal_scan_leaves_the_engaged_tip_in_its_feedback(lab: Lab, engaged_tip):
    z = engaged_tip.z
    run, _ = start_scan(lab, "ascan x 10e-6 15e-6 200 0.01", 3)
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 130, out + err
    assert "probe left in place" in out
    assert engaged_tip.feedback and engaged_tip.z == pytest.approx(z, abs=5e-9)


@pytest.mark.stack
def test_safe_state_macro_retracts_the_tip_and_blanks_the_laser(lab: Lab, engaged_tip):
    lab.stack.run_ok("laser_on 1e-3")
    done = lab.stack.run_ok("safe_state")
    assert "probe" in done.stdout and not lab.dev["laser"].emission
    assert not engaged_tip.feedback
    lab.wait("probe", timeout=5)
    assert engaged_tip.z == pytest.approx(Z_TOP, abs=1e-9)
    assert lab.dev["magnet"].Bz == pytest.approx(FIELD, abs=1e-6)


@pytest.mark.stack
def test_aborted_scan_of_the_tip_retracts_it(lab: Lab, engaged_tip):
    x = engaged_tip.x  # tip_x: axis 1 of tip_ctrl in conf/sardana/nanomri.yaml
    run, _ = start_scan(lab, f"ascan tip_x {x - 50e-9} {x + 50e-9} 100 0.01", 3)
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 130, out + err
    assert not engaged_tip.feedback
    lab.wait("probe", timeout=5)
    assert engaged_tip.z == pytest.approx(Z_TOP, abs=1e-9)  # retracted to the top of z travel
