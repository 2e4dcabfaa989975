"""The stack's processes told from later ones with the same PID by when they started after
boot, so that `nanomri down` still stops them after the wall clock moved: the boot time the
kernel gives follows the wall clock, and a paused virtual machine or a clock step moves it by
seconds (psutil's create_time with it)."""

import json
import os
import subprocess
import sys

import psutil

from nanomri.cli.stack import Process, Stack, running, since_boot, stop_processes


def stepped(monkeypatch, seconds: float) -> None:
    """The kernel's boot time moved by `seconds`, as a step of the wall clock moves it."""
    boot = psutil.boot_time()
    monkeypatch.setattr(psutil._psplatform, "boot_time", lambda: boot + seconds)


def test_a_process_is_still_itself_after_the_wall_clock_stepped(monkeypatch):
    started = since_boot(os.getpid())
    created = psutil.Process(os.getpid()).create_time()
    stepped(monkeypatch, 1.0)
    assert abs(psutil.Process(os.getpid()).create_time() - created) > 0.5  # what moved
    assert running(os.getpid(), started)
    assert not running(os.getpid(), started - 1.0)  # another process with this PID


def test_down_stops_a_server_started_before_the_wall_clock_stepped(monkeypatch):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        process = Process("sleeper", child.pid, since_boot(child.pid), "")
        stepped(monkeypatch, 2.0)
        assert stop_processes([process], grace=5.0) == [f"sleeper (pid {child.pid})"]
        assert child.wait(timeout=5) == -15  # SIGTERM
    finally:
        if child.poll() is None:
            child.kill()


def test_a_pid_file_written_with_wall_clock_start_times_still_finds_its_processes(tmp_path):
    pidfile = tmp_path / "stack.json"
    pidfile.write_text(json.dumps({
        "tango_host": "127.0.0.1:1", "world": "w.yaml", "door": "d", "devices": [],
        "processes": [{"name": "me", "pid": os.getpid(), "log": "",
                       "create_time": psutil.Process(os.getpid()).create_time()}]}))
    (process,) = Stack.load(pidfile).processes
    assert process.alive() and abs(process.started - since_boot(os.getpid())) < 0.01
