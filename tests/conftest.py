"""Fixtures: the whole stack (`nanomri up` … `nanomri down`) on free loopback ports."""

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from nanomri.cli.stack import running

LOG_TAIL = 60  # lines of each server log shown with a failed stack test

ROOT = Path(__file__).resolve().parents[1]
NANOMRI = [sys.executable, "-m", "nanomri.cli.main"]


@dataclass
class StackRun:
    """A running stack of the tests and how to talk to it like a user."""

    env: dict[str, str]
    state: Path
    results: Path

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([*NANOMRI, *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def run_ok(self, line: str) -> subprocess.CompletedProcess:
        done = self.cli("run", line)
        assert done.returncode == 0, f"{line!r} failed:\n{done.stdout}\n{done.stderr}"
        return done

    @property
    def tango_host(self) -> str:
        return json.loads((self.state / "stack.json").read_text())["tango_host"]

    @property
    def pids(self) -> list[tuple[int, float]]:
        stack = json.loads((self.state / "stack.json").read_text())
        return [(p["pid"], p["started"]) for p in stack["processes"]]


def stack_env(tmp: Path) -> dict[str, str]:
    """An environment whose state and results stay in `tmp`."""
    env = {k: v for k, v in os.environ.items() if k != "TANGO_HOST"}
    env["NANOMRI_STATE"] = str(tmp / "var")
    env["NANOMRI_RESULTS"] = str(tmp / "results")
    return env


def still_running(pids: list[tuple[int, float]]) -> list[int]:
    """Those of `pids` (with their start, s after boot) that still run."""
    return [pid for pid, started in pids if running(pid, started)]


@contextmanager
def sigint_ignored() -> Iterator[None]:
    """SIGINT ignored in the processes started in the block, as a shell without job control
    starts a background job (`make test &`) and they inherit it."""
    default = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, default)


@contextmanager
def started_stack(tmp: Path, world: Path | None = None) -> Iterator[StackRun]:
    """`nanomri up` (on `world`, else the default) in `tmp`; `nanomri down` at the end, and no
    process of it left."""
    run = StackRun(stack_env(tmp), tmp / "var", tmp / "results")
    up = run.cli("up", *(["--world", str(world)] if world else []))
    assert up.returncode == 0, f"nanomri up failed:\n{up.stdout}\n{up.stderr}"
    assert "TANGO_HOST=127.0.0.1:" in up.stdout
    pids = run.pids
    try:
        yield run
    finally:
        down = run.cli("down")
        assert down.returncode == 0, down.stderr
        assert still_running(pids) == [], "processes left behind by nanomri down"


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[StackRun]:
    with started_stack(tmp_path_factory.mktemp("stack")) as run:
        yield run


def server_report(process: dict) -> str:
    """The Python stacks of every thread of a stack's server now, and the tail of its log."""
    spy = Path(sys.executable).with_name("py-spy")
    try:
        dump = subprocess.run([str(spy), "dump", "--pid", str(process["pid"])],
                              capture_output=True, text=True, timeout=60)
        stacks = without_waiting_workers(dump.stdout) + dump.stderr
    except (OSError, subprocess.TimeoutExpired) as exc:
        stacks = f"py-spy dump failed: {exc}"
    log = Path(process["log"])
    tail = log.read_text(errors="replace").splitlines()[-LOG_TAIL:] if log.exists() else []
    return "\n".join([stacks, f"--- last lines of {log}", *tail])


def without_waiting_workers(dump: str) -> str:
    """A py-spy dump without the threads of pools that wait for a job: a failed test's report
    shows the threads that are doing or waiting for something."""
    blocks = re.split(r"\n(?=Thread )", dump)
    kept = [b for b in blocks if not ("Worker.run" in b and "Queue.get" in b)]
    return "\n".join(kept) + f"\n({len(blocks) - len(kept)} pool workers waiting for a job)"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed stack test shows what each server was doing: a hang is seen in its stacks."""
    outcome = yield
    report = outcome.get_result()
    run = item.funcargs.get("stack") if hasattr(item, "funcargs") else None
    if report.when != "call" or not report.failed or not isinstance(run, StackRun):
        return
    for process in json.loads((run.state / "stack.json").read_text())["processes"]:
        if process["name"].startswith("Sardana"):
            report.sections.append((f"server {process['name']}", server_report(process)))
