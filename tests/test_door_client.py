"""`nanomri run`'s Ctrl-C: abort, then release, a macro on a Door that is slow or stuck."""

import pytest
import tango

from nanomri.cli import door as door_module
from nanomri.cli.door import DoorClient, DoorStuck

RUNNING, ON = tango.DevState.RUNNING, tango.DevState.ON


def timed_out() -> tango.DevFailed:
    """What a client gets from a Door that did not answer within its timeout."""
    corba, device = tango.DevError(), tango.DevError()
    corba.reason, corba.desc = "API_CorbaException", "TRANSIENT_CallTimedout"
    device.reason, device.desc = "API_DeviceTimedOut", "Timeout (3000 mS) exceeded"
    return tango.DevFailed(corba, device)


class FakeDoor:
    """A Door whose macro ends only on one of `ends_on`; it times out `slow` calls first."""

    def __init__(self, ends_on: set[str], slow: int = 0):
        self.ends_on, self.slow = ends_on, slow
        self.commands: list[str] = []
        self.running = True

    def _maybe_time_out(self) -> None:
        if self.slow:
            self.slow -= 1
            raise timed_out()

    def state(self) -> tango.DevState:
        self._maybe_time_out()
        return RUNNING if self.running else ON

    def command_inout(self, name: str) -> None:
        self._maybe_time_out()
        self.commands.append(name)
        self.running = self.running and name not in self.ends_on

    def dev_name(self) -> str:
        return "nanomri/door/1"


def client(proxy: FakeDoor) -> DoorClient:
    made = DoorClient.__new__(DoorClient)  # no Tango: only the interrupt path is under test
    made.proxy, made.echo, made.said = proxy, lambda stream, line: made.said.append(line), []
    return made


@pytest.fixture(autouse=True)
def short_grace(monkeypatch):
    monkeypatch.setattr(door_module, "GRACE", 0.3)


def test_an_abort_that_times_out_is_sent_again():
    door = FakeDoor(ends_on={"AbortMacro"}, slow=2)
    client(door)._interrupt(poll=0.01)
    assert door.commands == ["AbortMacro"] and not door.running


def test_a_macro_that_outlives_its_abort_is_released():
    door = FakeDoor(ends_on={"ReleaseMacro"})
    made = client(door)
    made._interrupt(poll=0.01)
    assert door.commands == ["AbortMacro", "ReleaseMacro"] and not door.running
    assert "the macro still runs after AbortMacro" in made.said


def test_a_door_that_neither_abort_nor_release_frees_is_named():
    door = FakeDoor(ends_on=set())
    with pytest.raises(DoorStuck, match="nanomri/door/1 still runs the macro"):
        client(door)._interrupt(poll=0.01)
    assert door.commands == ["AbortMacro", "ReleaseMacro"]


def test_a_door_too_busy_to_answer_counts_as_running():
    door = FakeDoor(ends_on=set(), slow=1)
    assert client(door)._idle() is False
    door.running = False
    assert client(door)._idle() is True
