"""`nanomri spock`: Sardana's command line on the running stack's Door, in a pseudo-terminal."""

import json
import re
import sys

import pexpect
import pytest
import tango
from traitlets.config import Config

from nanomri.cli.spock import PLOTS, PROFILE, spock_env
from nanomri.cli.stack import Paths

from .conftest import NANOMRI, ROOT, StackRun, sigint_ignored, stack_env

COLOUR = r"(?:\x1b\[[0-9;]*m)*"  # IPython colours the prompt number


def prompt(n: int) -> str:
    return rf"door_nanomri \[{COLOUR}{n}{COLOUR}\]: "


def tango_host(stack: StackRun) -> str:
    return json.loads((stack.state / "stack.json").read_text())["tango_host"]


@pytest.fixture()
def spock(stack: StackRun):
    """`nanomri spock` in a terminal without display, as a user starts it, with SIGINT
    ignored as it comes from a shell's background job."""
    env = {k: v for k, v in stack.env.items() if k != "DISPLAY"}
    with sigint_ignored():
        child = pexpect.spawn(NANOMRI[0], NANOMRI[1:] + ["spock"], env=env, encoding="utf-8",
                              timeout=60, dimensions=(40, 160))
    child.logfile_read = sys.stdout  # shown by pytest when a test fails
    yield child
    if child.isalive():
        child.terminate(force=True)


@pytest.mark.stack
def test_spock_runs_macro_lines_on_the_door_without_asking_anything(stack: StackRun, spock):
    spock.expect("no display: no scan plots")
    spock.expect(prompt(1))  # no question about the Door or the profile on the way
    spock.sendline("lsdef laser_.*")
    spock.expect(prompt(2))
    assert {"laser_on", "laser_off"} <= set(re.findall(r"\blaser_o\w+", spock.before))
    spock.sendline("wa")
    spock.expect(prompt(3))
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", spock.before)  # no terminal control codes
    headers = set(re.findall(r"(?<![\w.])([A-Za-z_]\w*)(?![\w.])", text))
    assert {"x", "y", "z", "mw_frequency", "Bz", "User", "Dial"} <= headers, text
    spock.sendline("exit")
    spock.expect(pexpect.EOF)
    spock.close()
    assert spock.exitstatus == 0
    config = (stack.state / "ipython" / f"profile_{PROFILE}" / "ipython_config.py").read_text()
    assert f"door_name = tango://{tango_host(stack)}/nanomri/door/1" in config


@pytest.mark.stack
def test_ctrl_c_in_spock_stops_the_raster_and_blanks_the_laser(stack: StackRun, spock):
    laser = tango.DeviceProxy(f"tango://{tango_host(stack)}/nanomri/confocal/laser")
    spock.expect(prompt(1))
    spock.sendline("laser_on 1e-3")
    spock.expect(prompt(2))
    assert laser.emission
    spock.sendline("raster x 10e-6 15e-6 20 y 10e-6 15e-6 20 0.01")
    spock.expect(r"\b25\s+1\.\d+e-05\s")  # point 25 of the scan table
    spock.sendintr()  # Ctrl-C: spock stops the macro
    # the Door's message may print before spock's next prompt or after it
    spock.expect("instruments in their safe state")
    assert not laser.emission
    spock.sendline("exit")
    spock.expect(pexpect.EOF)


def test_with_a_display_spock_starts_by_opening_sardanas_scan_plots():
    config = Config()
    exec(PLOTS, {"config": config})  # what write_profile appends to the profile's config
    assert config.InteractiveShellApp.exec_lines == ["senv JsonRecorder True", "showscan"]


def test_without_a_display_qt_and_matplotlib_run_offscreen(tmp_path):
    env = spock_env(Paths(ROOT, tmp_path, tmp_path), plots=False)
    assert env["QT_QPA_PLATFORM"] == "offscreen" and env["MPLBACKEND"] == "Agg"
    assert env["IPYTHONDIR"] == str(tmp_path / "ipython")


def test_spock_without_a_stack_says_so_in_one_line(tmp_path):
    env = stack_env(tmp_path)
    child = pexpect.spawn(NANOMRI[0], NANOMRI[1:] + ["spock"], env=env, encoding="utf-8",
                          timeout=60)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert child.before.strip().splitlines() == [
        "nanomri: nanomri is not running; start it with `nanomri up`"]
