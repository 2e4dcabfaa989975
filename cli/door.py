"""Running one macro line on a Sardana Door: stream its output and progress, report how it ended."""

import json
import shlex
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import tango

STREAMS = ("Output", "Info", "Warning", "Error")
ENDINGS = {"finish", "exception", "abort", "stop"}
BUSY = (tango.DevState.RUNNING, tango.DevState.STANDBY)  # STANDBY: the macro is paused
GRACE = 10.0  # s a macro has to end after AbortMacro, then after ReleaseMacro (spock's 3rd ^C)


class DoorStuck(RuntimeError):
    """The Door still runs a macro after it was aborted and released."""


def _timed_out(error: tango.DevFailed) -> bool:
    return any("Timeout" in e.reason or "TimedOut" in e.reason for e in error.args)


@dataclass
class MacroRun:
    """What one macro run reported: its ending, its error lines, whether the Door ran it."""

    macro_id: str = ""
    ending: str | None = None
    errors: list[str] = field(default_factory=list)
    seen_running: bool = False
    percent: int = -1  # last progress reported, in whole percent
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def succeeded(self) -> bool:
        return self.ending == "finish" and not self.errors


def _lines(value) -> list[str]:
    return [str(v) for v in (value or ()) if str(v).strip()]


class DoorClient:
    """A Tango client of one Door; `run` blocks until the macro has ended."""

    def __init__(self, door: str, echo: Callable[[str, str], None] | None = None):
        self.proxy = tango.DeviceProxy(door)
        self.echo = echo or _print_stream
        self._run = MacroRun()
        self._started = False
        self._endings: dict[str, str] = {}  # macro id -> how it ended, as the Door reported
        self._events = [
            self.proxy.subscribe_event(name, tango.EventType.CHANGE_EVENT, self._on_stream)
            for name in STREAMS
        ]
        self._events += [
            self.proxy.subscribe_event(name, tango.EventType.CHANGE_EVENT, callback)
            for name, callback in (("MacroStatus", self._on_status), ("State", self._on_state))
        ]

    def close(self) -> None:
        for event_id in self._events:
            self.proxy.unsubscribe_event(event_id)

    def _on_stream(self, event) -> None:
        if event.err or not self._started:
            return
        stream = event.attr_name.rsplit("/", 1)[-1].capitalize()
        for line in _lines(event.attr_value.value):
            if stream == "Error":
                self._run.errors.append(line)
            self.echo(stream, line)

    def _on_status(self, event) -> None:
        if event.err or not self._started or not event.attr_value.value[1]:
            return
        for item in json.loads(event.attr_value.value[1]):
            if item.get("state") in ENDINGS:  # a quick macro may end before RunMacro returns
                self._endings[item.get("id")] = item["state"]
            if item.get("id") != self._run.macro_id:
                continue
            if item.get("state") == "step" and int(item["step"]) != self._run.percent:
                self._run.percent = int(item["step"])
                self.echo("Progress", f"{self._run.percent} %")
            if item.get("state") in ENDINGS:
                self._run.ending = item["state"]

    def _on_state(self, event) -> None:
        if event.err or not self._started:
            return
        state = event.attr_value.value
        if state in BUSY:
            self._run.seen_running = True
        elif self._run.seen_running:
            self._run.done.set()

    def run(self, line: str, poll: float = 0.2) -> MacroRun:
        """Run `line`; Ctrl-C aborts the macro on the Door and waits for it to stop."""
        self._run = MacroRun()
        self._started = True
        reply = self.proxy.RunMacro(shlex.split(line))
        self._run.macro_id = reply[0].split(' id="', 1)[1].split('"', 1)[0]
        start = time.monotonic()
        try:
            while not self._run.done.wait(poll):
                if self._idle() and (self._run.seen_running or time.monotonic() - start > 2.0):
                    break
        except KeyboardInterrupt:
            self._interrupt(poll)
            self._run.ending = "abort"
        time.sleep(poll)  # the last Output/Error events trail the state change
        self._started = False
        if self._run.ending is None:
            self._run.ending = self._endings.get(self._run.macro_id)
        return self._run

    def _idle(self) -> bool:
        """Whether the Door runs no macro; a Door too busy to answer in time is running one."""
        try:
            return self.proxy.state() not in BUSY
        except tango.DevFailed as error:
            if _timed_out(error):
                return False
            raise

    def _interrupt(self, poll: float) -> None:
        """Abort the macro; release it if it has not ended `GRACE` s later (or at a new Ctrl-C)."""
        self.echo("Warning", "Ctrl-C: aborting the macro")
        for command in ("AbortMacro", "ReleaseMacro"):
            if self._command(command, poll) and self._wait_idle(poll):
                return
            self.echo("Warning", f"the macro still runs after {command}")
        raise DoorStuck(f"{self.proxy.dev_name()} still runs the macro after AbortMacro and "
                        "ReleaseMacro: see Sardana-nanomri.log among the stack's logs")

    def _command(self, command: str, poll: float) -> bool:
        """Send `command`, again while the Door times out; False if it is no longer allowed."""
        deadline = time.monotonic() + GRACE
        while True:
            try:
                self.proxy.command_inout(command)
                return True
            except tango.DevFailed as error:
                if any(e.reason == "API_CommandNotAllowed" for e in error.args):
                    return self._idle()  # the macro ended meanwhile
                if not _timed_out(error) or time.monotonic() > deadline:
                    raise
            time.sleep(poll)

    def _wait_idle(self, poll: float) -> bool:
        """Whether the Door became idle within `GRACE` s; a new Ctrl-C stops waiting."""
        deadline = time.monotonic() + GRACE
        try:
            while not self._idle():
                if time.monotonic() > deadline:
                    return False
                time.sleep(poll)
        except KeyboardInterrupt:
            return False
        return True


def _print_stream(stream: str, line: str) -> None:
    out = sys.stderr if stream in ("Warning", "Error") else sys.stdout
    prefix = "" if stream == "Output" else f"[{stream.lower()}] "
    print(prefix + line, file=out, flush=True)


def describe_failure(error: tango.DevFailed) -> str:
    """The description of a DevFailed, without Tango's stack of origins."""
    return error.args[0].desc.strip()
