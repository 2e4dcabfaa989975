"""Running nanomri devices in PyTango's test context, and waiting on them, for device tests."""

import time
import warnings

import pytest
import tango
from tango.test_context import DeviceTestContext, MultiDeviceTestContext

from .conftest import ROOT

CONFOCAL = ROOT / "conf" / "worlds" / "confocal.yaml"
WORLD = f"sim:{CONFOCAL}"
# s for a test server to start or exit; PyTango's 7 s default was once exceeded by an exit on
# a loaded 2-core machine ("Device server failed to exit cleanly")
SERVER_TIMEOUT = 30.0


START_TRIES = 2
RETRY_AFTER = 1.5  # s: cppTango refuses to reconnect to a server within 1 s of a failed try


class Started:
    """A test context whose server is started with one more try, and stopped when it fails.

    A server process slow to answer its first connection leaves the client refused for a
    second ("The connection request was delayed"), and a context whose start fails leaves its
    process running, for which pytest then waits at exit for ever. A server that does not
    exit within SERVER_TIMEOUT at the end is killed by the context; once it is gone, that is
    a warning, not a failure of the test (seen once in CI-like runs: a signal generator's
    server, a controller's client still holding it). Attributes are the context's
    (`get_device`, `get_device_access`, ...).
    """

    def __init__(self, make):
        self._make = make
        self._context = make()

    def __getattr__(self, name: str):
        return getattr(self._context, name)

    def __enter__(self):
        for attempt in range(START_TRIES):
            try:
                return self._context.__enter__()
            except Exception:
                _stop(self._context)
                if attempt + 1 == START_TRIES:
                    raise
            time.sleep(RETRY_AFTER)
            self._context = self._make()

    def __exit__(self, *exc):
        try:
            return self._context.__exit__(*exc)
        except RuntimeError as error:  # the test is done; its server had to be killed
            if self._context.thread.is_alive():
                raise
            warnings.warn(f"test server killed at exit: {error}", stacklevel=2)
            return False


def _stop(context: MultiDeviceTestContext) -> None:
    """End the server process of a context that failed to start."""
    process = context.thread
    if process.is_alive():
        process.terminate()
        process.join(SERVER_TIMEOUT)
    context.delete_db()


def device(cls, driver: str = WORLD, **properties) -> Started:
    """One device in its own server process on loopback, its `Driver` set to `driver`."""
    return Started(lambda: DeviceTestContext(
        cls, properties={"Driver": driver, **properties}, process=True, host="127.0.0.1",
        timeout=SERVER_TIMEOUT))


def multi(info: list[dict]) -> Started:
    """Devices of `info` (as MultiDeviceTestContext takes it) in one server process."""
    return Started(lambda: MultiDeviceTestContext(info, process=True, host="127.0.0.1",
                                                  timeout=SERVER_TIMEOUT))


def devices(*entries: tuple[type, str, str]) -> Started:
    """Several devices (class, name, Driver) in one server process, so they share one world;
    reach each with `context.get_device(name)`."""
    return multi([{"class": cls, "devices": [{"name": name, "properties": {"Driver": driver}}]}
                  for cls, name, driver in entries])


def wait_while(proxy: tango.DeviceProxy, state: tango.DevState, timeout: float = 10.0) -> None:
    """Poll until `proxy` leaves `state`; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while proxy.state() == state:
        assert time.monotonic() < deadline, f"still {state} after {timeout} s"
        time.sleep(0.005)


def reason(exc: pytest.ExceptionInfo) -> str:
    """The reason of the first error of a DevFailed."""
    return exc.value.args[0].reason


class Events:
    """Change events of one attribute, collected as they arrive."""

    def __init__(self, proxy: tango.DeviceProxy, name: str):
        self.values: list = []
        proxy.subscribe_event(name, tango.EventType.CHANGE_EVENT, self)

    def push_event(self, event) -> None:
        if not event.err:
            self.values.append(event.attr_value.value)

    def wait_until(self, done, timeout: float = 5.0) -> list:
        """The values received once `done(values)` holds; fail after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not done(list(self.values)):
            assert time.monotonic() < deadline, f"events so far: {self.values}"
            time.sleep(0.01)
        return list(self.values)
