"""The Door's messages reach its clients in order without a Door command ever waiting for them."""

import importlib.util
import logging
import threading
import time

import tango
from sardana.tango.core.attributehandler import AttributeLogHandler

from .conftest import ROOT


def load_door_log():
    spec = importlib.util.spec_from_file_location("nanomri_door_log", ROOT / "macros/door_log.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


door_log = load_door_log()


class Door:
    """A Door whose event pushes need its serialisation monitor, as a Tango device's do."""

    def __init__(self):
        self.monitor = threading.RLock()
        self.pushing = threading.Event()
        self.pushed: list[list[str]] = []

    def get_device_attr(self):
        return self

    def get_attr_by_name(self, name: str) -> str:
        return name

    def set_attribute(self, attr: str, lines: list[str]) -> None:
        self.pushing.set()
        with self.monitor:
            self.pushed.append(lines)


class Handler(AttributeLogHandler):
    """Its own class, so that installing on it leaves Sardana's class alone."""


class DoorDevice:
    """Where the Door pushes its State: here, into the stand-in Door's list."""

    def __init__(self, door: Door):
        self.door = door

    def set_attribute(self, attr, value) -> None:
        self.door.pushed.append([f"{attr.get_name()} {value}"])


class Attr:
    def __init__(self, name: str):
        self.name = name

    def get_name(self) -> str:
        return self.name


def door_logger(door: Door, handler_class: type = Handler) -> logging.Logger:
    door_log.install(handler_class, DoorDevice)
    logger = logging.getLogger(f"door-{id(door)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = handler_class(door, "Debug", max_buff_size=10)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    return logger


def test_a_door_command_logging_while_a_message_waits_for_the_monitor_does_not_hang():
    door = Door()
    logger = door_logger(door)

    def abort_macro():  # a Tango thread: it holds the monitor while it runs the command
        with door.monitor:
            job = threading.Thread(target=logger.debug, args=("aborting the motion",),
                                   daemon=True)
            job.start()  # the abort job logs; its message waits for the monitor
            assert door.pushing.wait(5)
            logger.debug("aborting the macro")  # Sardana's AbortMacro logs too

    command = threading.Thread(target=abort_macro, daemon=True)
    command.start()
    command.join(5)
    assert not command.is_alive(), "AbortMacro hangs: its log waits for the abort job's"
    deadline = time.monotonic() + 5
    while len(door.pushed) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert door.pushed == [["aborting the motion"], ["aborting the macro"]]


def test_a_message_is_pushed_again_while_the_door_is_busy():
    attempts = []

    class BusyOnce:
        def sendText(self, lines):
            attempts.append(lines)
            if len(attempts) == 1:
                tango.Except.throw_exception("API_CommandTimedOut", "monitor busy", "test")

    door_log._push(BusyOnce(), ["scan started"])
    assert attempts == [["scan started"], ["scan started"]]


def test_a_message_the_door_refuses_is_reported_not_raised(capsys):
    class Refusing:
        def sendText(self, lines):
            tango.Except.throw_exception("API_AttrNotFound", "no such attribute", "test")

    door_log._push(Refusing(), ["lost"])
    assert "no such attribute" in capsys.readouterr().err


def test_a_handler_lock_an_aborted_thread_left_held_blocks_no_message():
    door = Door()
    logger = door_logger(door)
    (handler,) = logger.handlers
    taken, done = threading.Event(), threading.Event()

    def aborted_macro():  # an async AbortException left the lock held; the thread waits on
        handler.acquire()
        taken.set()
        done.wait(10)
        handler.release()  # else logging's shutdown at exit waits for it for ever

    macro = threading.Thread(target=aborted_macro, daemon=True)
    macro.start()
    try:
        assert taken.wait(5)
        speaker = threading.Thread(target=logger.debug, args=("aborting",), daemon=True)
        speaker.start()
        speaker.join(5)
        assert not speaker.is_alive(), "a message waits for a lock nobody will release"
        deadline = time.monotonic() + 5
        while not door.pushed and time.monotonic() < deadline:
            time.sleep(0.01)
        assert door.pushed == [["aborting"]]
    finally:
        done.set()
        macro.join(5)


class OrderedHandler(AttributeLogHandler):
    """A class of its own: the Door-state patch is installed with it."""


class SlowDoor(Door):
    def set_attribute(self, attr: str, lines: list[str]) -> None:
        time.sleep(0.2)  # a push that takes its time (a busy Door)
        super().set_attribute(attr, lines)


def test_the_door_pushes_its_state_after_the_messages_logged_before():
    door = SlowDoor()
    logger = door_logger(door, OrderedHandler)
    logger.debug("last line of the macro")
    DoorDevice(door).set_attribute(Attr("State"), "ON")  # the macro has ended
    assert door.pushed == [["last line of the macro"], ["State ON"]]
