"""The device-test contexts start with one more try and never leave a server process behind."""

import pytest

from . import tango_context
from .tango_context import Started


class Process:
    def __init__(self):
        self.alive = True

    def is_alive(self) -> bool:
        return self.alive

    def terminate(self) -> None:
        self.alive = False

    def join(self, timeout: float) -> None:
        pass


class Context:
    """A context whose start fails `fails` times in all its instances."""

    made: list["Context"] = []

    def __init__(self, fails: int):
        self.thread, self.fails = Process(), fails
        Context.made.append(self)

    def __enter__(self):
        if len([c for c in Context.made if c.thread.alive is False]) < self.fails:
            raise RuntimeError("The connection request was delayed")
        return "proxy"

    def __exit__(self, *exc):
        self.thread.alive = False

    def delete_db(self) -> None:
        pass


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    Context.made = []
    monkeypatch.setattr(tango_context, "RETRY_AFTER", 0.0)


def test_a_server_slow_at_first_is_started_again_and_the_first_one_stopped():
    with Started(lambda: Context(fails=1)) as proxy:
        assert proxy == "proxy"
        first, second = Context.made
        assert not first.thread.alive and second.thread.alive
    assert not second.thread.alive


def test_a_server_that_never_answers_fails_the_test_and_is_stopped():
    with pytest.raises(RuntimeError, match="delayed"):
        with Started(lambda: Context(fails=5)):
            pass
    assert len(Context.made) == 2 and not any(c.thread.alive for c in Context.made)


class SlowToExit(Context):
    """A context whose server had to be killed at exit (`killed`) or survived it."""

    def __init__(self, killed: bool):
        super().__init__(fails=0)
        self.killed = killed

    def __exit__(self, *exc):
        self.thread.alive = not self.killed
        raise RuntimeError("Device server failed to exit cleanly (stuck in shutdown?).")


def test_a_server_killed_at_exit_is_a_warning_and_one_still_alive_an_error():
    with pytest.warns(UserWarning, match="test server killed at exit"):
        with Started(lambda: SlowToExit(killed=True)):
            pass
    with pytest.raises(RuntimeError, match="failed to exit cleanly"):
        with Started(lambda: SlowToExit(killed=False)):
            pass
