"""The whole stack as a user drives it: `nanomri up`, macro lines on the Door, files, `down`."""

import json
import signal
import socket
import subprocess
import time

import h5py
import numpy as np
import pytest
import yaml

from nanomri.analysis.spots import find_spots, match_spots
from nanomri.nexus import read_image
from nanomri.world import load_world

from .conftest import NANOMRI, ROOT, StackRun, stack_env, still_running
from .stack_helpers import started_scan

pytestmark = pytest.mark.stack

WORLD = ROOT / "conf" / "worlds" / "confocal.yaml"
NVS = np.asarray(load_world(WORLD).sample.nv_centres)
RASTER = "raster x 10e-6 15e-6 26 y 10e-6 15e-6 26 0.002"  # 200 nm pixels


def newest_scan(stack: StackRun) -> h5py.File:
    files = sorted((stack.results / "scans").glob("scan_*.h5"))
    return h5py.File(files[-1], "r")


@pytest.fixture(scope="module")
def confocal_scan(stack: StackRun) -> h5py.File:
    stack.run_ok("laser_on 1e-3")
    done = stack.run_ok(RASTER)
    assert "warning" not in (done.stdout + done.stderr).lower(), done.stdout
    with newest_scan(stack) as h5:
        yield h5


def test_raster_finds_nv_centres_at_world_positions(confocal_scan):
    image, x, y = read_image(confocal_scan.filename)
    assert image.shape == (26, 26) and not np.isnan(image).any()
    pixel = x[1] - x[0]
    found = find_spots(image, x, y)
    pairs = match_spots(found, NVS, max_distance=pixel)
    misses = [NVS[i] for i, spot, _ in pairs if spot is None]
    assert misses == [], f"NV centres not found within one pixel: {misses}"
    assert len(found) == len(NVS), f"spurious spots: {found}"


def test_scan_file_holds_macro_line_world_and_instrument_settings(confocal_scan):
    entry = confocal_scan["entry"]
    assert entry["title"].asstr()[()].startswith("raster x 1e-05 1.5e-05 26 y")
    assert entry["end_status"][()] == b"Normal"
    world = yaml.safe_load(entry["sample/world"].asstr()[()])
    assert np.allclose(world["sample"]["nv_centres"], NVS)
    assert entry["instrument/laser/power"][()] == pytest.approx(1e-3)
    assert bool(entry["instrument/laser/emission"][()]) is True
    assert entry["instrument/scanner/x"].attrs["units"] == "m"
    assert entry["instrument/mw/frequency"].attrs["units"] == "Hz"
    assert entry["instrument/magnet/Bz"].attrs["units"] == "T"
    assert entry["instrument/sequencer/tango_device"].asstr()[()] == "nanomri/confocal/sequencer"
    assert entry["instrument/probe/driver"].asstr()[()].endswith("confocal.yaml#probe")
    data = entry["data"]
    assert list(data.attrs["axes"]) == ["y", "x"] and data.attrs["signal"] == "counts"
    measured_x = entry["measurement/x"][()].reshape(26, 26)
    assert np.allclose(measured_x, data["x"][()][None, :], atol=1e-9)  # the scanner arrived


def test_blanked_laser_gives_an_image_without_nv_centres(stack: StackRun, confocal_scan):
    stack.run_ok("laser_off")
    stack.run_ok("raster x 10e-6 15e-6 11 y 10e-6 15e-6 11 0.002")
    with newest_scan(stack) as h5:
        image, x, y = read_image(h5.filename)
        assert h5["entry/instrument/laser/emission"][()] == 0
    assert find_spots(image, x, y) == []
    assert image.mean() < 2.0  # dark counts only: 200 /s x 2 ms


@pytest.mark.parametrize("line, message", [
    ("raster nosuchmotor 10e-6 15e-6 5 y 10e-6 15e-6 5 0.001", "nosuchmotor"),
    ("raster x 15e-6 10e-6 5 y 10e-6 15e-6 5 0.001", "reversed"),
    ("raster x 10e-6 15e-6 5 y 10e-6 15e-6 5 -0.001", "dwell"),
    ("raster x 10e-6 15e-6 5 x 10e-6 15e-6 5 0.001", "must differ"),
])
def test_bad_raster_fails_clearly_and_servers_keep_running(stack: StackRun, line, message):
    done = stack.cli("run", line)
    assert done.returncode != 0
    assert message in done.stdout + done.stderr
    stack.run_ok("raster x 10e-6 11e-6 2 y 10e-6 11e-6 2 0")


def test_up_twice_says_it_is_already_running(stack: StackRun):
    done = stack.cli("up")
    assert done.returncode != 0 and "already running" in done.stderr


def test_status_lists_every_device_answering(stack: StackRun):
    done = stack.cli("status")
    assert done.returncode == 0
    for device in ("nanomri/confocal/scanner", "nanomri/door/1", "mg_counts"):
        assert device in done.stdout
    assert "not answering" not in done.stdout and "DEAD" not in done.stdout


def cli_in(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return StackRun(stack_env(tmp_path), tmp_path / "var", tmp_path / "results").cli(*args)


def test_up_with_missing_world_fails_with_one_line(tmp_path):
    done = cli_in(tmp_path, "up", "--world", str(tmp_path / "nope.yaml"))
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [f"nanomri: world file not found: "
                                                f"{tmp_path / 'nope.yaml'}"]
    assert not (tmp_path / "var" / "stack.json").exists()


def test_up_with_unknown_world_key_names_it(tmp_path):
    world = yaml.safe_load(WORLD.read_text())
    world["optics"]["psf_fwhm"] = 3e-7
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(world))
    done = cli_in(tmp_path, "up", "--world", str(bad))
    assert done.returncode != 0
    assert "optics: unknown key 'psf_fwhm'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_up_on_a_busy_port_fails_and_leaves_nothing_running(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = cli_in(tmp_path, "up", "--port", str(port))
    assert done.returncode != 0
    assert f"port {port} on 127.0.0.1 is busy" in done.stderr
    assert not (tmp_path / "var" / "stack.json").exists()


def test_run_without_a_stack_says_so(tmp_path):
    done = cli_in(tmp_path, "run", "raster x 0 1 2 y 0 1 2 0")
    assert done.returncode != 0 and "not running" in done.stderr


def test_ctrl_c_aborts_the_raster_and_leaves_a_readable_file(stack: StackRun):
    before = set((stack.results / "scans").glob("scan_*.h5"))
    run = subprocess.Popen([*NANOMRI, "run", "raster x 10e-6 15e-6 20 y 10e-6 15e-6 20 0.01"],
                           env=stack.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, stdin=subprocess.DEVNULL)
    try:
        path = started_scan(stack, before, lines=2)
    finally:  # abort the raster even if the test fails, so the next test finds the Door free
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=60)
    assert run.returncode == 130 and "aborted" in err
    with h5py.File(path, "r") as h5:
        assert h5["entry/end_status"][()] == b"Abort"
        image = h5["entry/data/counts"][()]
    complete = ~np.isnan(image).any(axis=1)
    assert 1 <= complete.sum() < 20 and np.isnan(image[-1]).all()
    stack.run_ok("raster x 10e-6 11e-6 2 y 10e-6 11e-6 2 0")


def test_up_on_an_existing_tango_host_uses_it_and_leaves_it_running(tmp_path):
    import re
    import sys

    env = {**stack_env(tmp_path), "PYTANGO_DATABASE_NAME": str(tmp_path / "own.db")}
    log = tmp_path / "db.log"
    with open(log, "w") as out:
        db = subprocess.Popen([sys.executable, "-m", "tango.databaseds.database", "--host",
                               "127.0.0.1", "--port", "0", "--print-host-port", "2"],
                              env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not (found := re.search(r"port=(\d+)", log.read_text())):
            assert time.monotonic() < deadline and db.poll() is None, log.read_text()
            time.sleep(0.1)
        host = f"127.0.0.1:{found.group(1)}"
        run = StackRun(stack_env(tmp_path), tmp_path / "var", tmp_path / "results")
        up = run.cli("up", "--tango-host", host)
        assert up.returncode == 0, up.stderr
        assert f"TANGO_HOST={host}" in up.stdout
        run.run_ok("raster x 10e-6 11e-6 2 y 10e-6 11e-6 2 0")
        assert run.cli("down").returncode == 0
        assert db.poll() is None, "nanomri down stopped a database it did not start"
    finally:
        db.terminate()
        db.wait(timeout=30)


@pytest.mark.parametrize("mode, dwell", [("step", 0.005), ("--bidirectional", 0.03)])
def test_paused_raster_stands_still_and_completes_after_resume(stack: StackRun, mode, dwell):
    """A pause stops at once, keeps whole lines only, and after the resume takes the line it
    interrupted again; the file names that line."""
    import tango

    stack.run_ok("laser_on 1e-3")
    tango_host = json.loads((stack.state / "stack.json").read_text())["tango_host"]
    door = tango.DeviceProxy(f"tango://{tango_host}/nanomri/door/1")
    before = set((stack.results / "scans").glob("scan_*.h5"))
    line = f"raster x 10e-6 15e-6 12 y 10e-6 15e-6 12 {dwell} {mode}"
    run = subprocess.Popen([*NANOMRI, "run", line], env=stack.env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        path = started_scan(stack, before, lines=1)
        door.PauseMacro()
        time.sleep(0.5)
        assert door.state() == tango.DevState.STANDBY
        with h5py.File(path, "r") as h5:
            done_at_pause = int((~np.isnan(h5["entry/data/counts"][()])).sum())
        time.sleep(1.0)
        with h5py.File(path, "r") as h5:
            assert int((~np.isnan(h5["entry/data/counts"][()])).sum()) == done_at_pause
        door.ResumeMacro()
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
    except BaseException:  # leave the Door free for the next test
        run.send_signal(signal.SIGINT)
        run.communicate(timeout=60)
        raise
    image, x, y = read_image(path)
    assert not np.isnan(image).any() and 0 < done_at_pause < image.size
    assert done_at_pause % 12 == 0  # whole lines only: the interrupted one was not kept
    with h5py.File(path, "r") as h5:
        repeated = list(h5["entry/notes/repeated_lines"][()]) if "notes" in h5["entry"] else []
    assert repeated in ([], [done_at_pause // 12])  # the first line not done at the pause
    assert ("taken again" in out) == bool(repeated)


def test_restarted_stack_keeps_its_tango_host_and_memorized_settings(tmp_path):
    import tango

    run = StackRun(stack_env(tmp_path), tmp_path / "var", tmp_path / "results")
    hosts = []
    for first in (True, False):
        up = run.cli("up")
        assert up.returncode == 0, up.stderr
        hosts.append(up.stdout.split("TANGO_HOST=")[1].strip())
        if first:  # through the Door: this process keeps no connection to the database,
            # which would hold its port for a minute after it stops (FIN_WAIT2)
            assert run.cli("run", "laser_on 3.5e-3").returncode == 0
            assert run.cli("run", "laser_off").returncode == 0
        else:
            assert tango.DeviceProxy(f"tango://{hosts[-1]}/nanomri/confocal/laser").power == 3.5e-3
        pids = run.pids
        assert run.cli("down").returncode == 0
        assert still_running(pids) == []
    assert hosts[0] == hosts[1]


def test_every_attribute_of_every_device_is_readable_by_a_plain_client(stack: StackRun):
    import tango

    tango_host = json.loads((stack.state / "stack.json").read_text())["tango_host"]
    config = json.loads((ROOT / "conf" / "tango" / "confocal.json").read_text())
    names = [name for classes in config["servers"]["NanoMRI"]["confocal"].values()
             for name in classes]
    assert len(names) >= 10
    for name in names:
        proxy = tango.DeviceProxy(f"tango://{tango_host}/{name}")
        assert proxy.state() not in (tango.DevState.FAULT, tango.DevState.UNKNOWN), (
            f"{name}: {proxy.status()}")
        attributes = list(proxy.get_attribute_list())
        failed = [a.name for a in proxy.read_attributes(attributes) if a.has_failed]
        assert failed == [], f"{name}: cannot read {failed}"


TWO_STACKS = """
import sys
from pathlib import Path
from nanomri.cli.stack import Paths, down, up
root, tmp = Path(sys.argv[1]), Path(sys.argv[2])
for name in ("first", "second"):  # as make demo does: one process, two databases in turn
    paths = Paths(root, tmp / name / "var", tmp / name / "results")
    stack = up(paths, root / "conf" / "worlds" / "confocal.yaml")
    print(name, stack.tango_host, flush=True)
    down(paths)
"""


def test_one_process_brings_up_a_second_stack_after_the_first(tmp_path):
    done = subprocess.run([NANOMRI[0], "-c", TWO_STACKS, str(ROOT), str(tmp_path)],
                          env=stack_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    hosts = [line.split()[1] for line in done.stdout.splitlines()]
    assert len(hosts) == 2 and hosts[0] != hosts[1]
