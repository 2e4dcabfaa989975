"""Each patch of Sardana's and Taurus's internals: the upstream bug it works around, shown on
the unpatched code (such a test fails once upstream fixes the bug: then the patch can go), the
patched behaviour, and the refusal of other versions."""

import configparser
import ctypes
import linecache
import logging
import os
import queue
import signal
import subprocess
import threading
import time
import traceback
import types
from collections.abc import Callable, Iterator

import pytest
import tango
from sardana import State
from sardana.macroserver.macro import AbortException, PauseEvent
from sardana.macroserver.msmacromanager import MacroExecutor
from sardana.pool.poolacquisition import PoolAcquisitionSoftware, PoolAcquisitionSoftwareStart
from sardana.pool.pooldefs import SynchDomain, SynchParam
from sardana.pool.poolsynchronization import SynchDescription
from sardana.pool.test.util import ActionEvent
from sardana.tango.core.attributehandler import AttributeLogHandler
from sardana.taurus.core.tango.sardana.pool import PoolElement
from taurus.core.util.event import AttributeEventWait, EventGenerator
from taurus.core.util.threadpool import ThreadPool

from nanomri.cli.stack import Launcher, Paths, start_database, stop_processes
from nanomri.clients import sardana_compat as compat

from .conftest import ROOT, stack_env

MOVING = (tango.DevState.MOVING,)
MONITOR_TIMEOUT = 1.0  # s a stand-in Door's push waits for its monitor (Tango's: 3.2 s)
FROZEN = 0.5  # s a test stops the database server for


# --- versions ----------------------------------------------------------------------------------

def test_the_installed_sardana_and_taurus_are_the_pinned_versions():
    compat.check_versions(compat.installed_versions())


def test_setup_cfg_pins_the_versions_the_patches_are_for():
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    requires = setup["options"]["install_requires"].split()
    assert [f"{name}=={version}" for name, version in compat.PINNED.items()
            if f"{name}=={version}" not in requires] == []


def test_another_sardana_version_is_refused_in_one_clear_line():
    with pytest.raises(RuntimeError) as refused:
        compat.check_versions({"sardana": "3.8.0", "taurus": "5.4.1"})
    message = str(refused.value)
    assert message.startswith("nanomri's Sardana patches are for sardana 3.7.1 and taurus 5.4.1, "
                              "found sardana 3.8.0: ")
    assert "\n" not in message


def test_installing_on_another_version_refuses_and_patches_nothing(monkeypatch):
    monkeypatch.setattr(compat, "installed_versions",
                        lambda: {"sardana": "3.8.0", "taurus": "5.4.1"})
    before = {cls: dict(vars(cls)) for cls in (SynchDescription, MacroExecutor)}
    for install in (compat.install_pool, lambda: compat.install_macroserver(print, print)):
        with pytest.raises(RuntimeError, match="found sardana 3.8.0"):
            install()
    assert {cls: dict(vars(cls)) for cls in before} == before


# --- stop and abort hooks (sardana#1509) -------------------------------------------------------

class Unwinding:
    """What `MacroExecutor` uses of itself and of its macro as a stopped or aborted macro
    unwinds, one object standing for both, recording the steps."""

    def __init__(self):
        self.steps = []
        self._reserved_macro_objs, self._stopped_macro_objs, self._aborted = {}, {}, False

    def _waitStopDone(self):  # noqa: N802 (Sardana's names)
        self.steps.append("stop done")

    def _waitAbortDone(self):  # noqa: N802
        self.steps.append("abort done")

    def output(self, message):
        pass

    def debug(self, message):
        pass

    def sendMacroStatusStop(self):  # noqa: N802
        self.steps.append("status stop")

    def sendMacroStatusAbort(self):  # noqa: N802
        self.steps.append("status abort")

    def _getName(self):  # noqa: N802
        return "ascan"

    def _stopOnError(self):  # noqa: N802
        self.steps.append("on_stop")

    def _abortOnError(self):  # noqa: N802
        self.steps.append("on_abort")


def test_upstream_runs_only_the_macros_own_handler_as_a_stopped_or_aborted_macro_unwinds():
    """No general stop/abort hook: a hook called here would be missing from `Unwinding`."""
    run = Unwinding()
    compat.upstream(MacroExecutor, "_handle_stop")(run, run)
    compat.upstream(MacroExecutor, "_handle_abort")(run, run)
    assert run.steps == ["stop done", "on_stop", "status stop",
                         "abort done", "on_abort", "status abort"]


def test_the_hooks_run_once_when_a_macro_is_interrupted_and_after_its_own_handler():
    """Installed again, as a reloaded macro library does, the hooks are replaced."""
    hooks = []
    compat.install_macroserver(lambda ex: hooks.append("stale"),
                               lambda ex, macro: hooks.append("stale"))
    compat.install_macroserver(lambda ex: hooks.append("interrupted"),
                               lambda ex, macro: hooks.append(macro.steps[-1]))
    run = Unwinding()
    MacroExecutor._MacroExecutor__stopObjects(run)
    MacroExecutor._handle_stop(run, run)
    MacroExecutor._MacroExecutor__abortObjects(run)
    MacroExecutor._handle_abort(run, run)
    assert hooks == ["interrupted", "status stop", "interrupted", "status abort"]
    assert run.steps == ["stop done", "on_stop", "status stop",
                         "abort done", "on_abort", "status abort"]


# --- executor jobs (sardana#640) ---------------------------------------------------------------

class FailingAbort:
    """An executor whose reserved objects fail to abort; it records its warnings."""

    def __init__(self):
        self._stopped, self.warnings = False, []
        self._aborted, self._thread_pool = True, types.SimpleNamespace(workers=[])  # no macro

    def getRunningMacro(self):  # noqa: N802 (Sardana's name)
        return None

    def _MacroExecutor__abortObjects(self):  # noqa: N802
        raise RuntimeError("motor did not answer")

    def warning(self, message):
        self.warnings.append(message)


def abort_through_the_thread_pool(abort_job, executor: FailingAbort) -> bool:
    """Whether Sardana's thread pool calls the "done" callback of `abort_job` of `executor`."""
    pool, done, later = ThreadPool(name="compat-test", Psize=1), threading.Event(), []

    def _abort():
        return abort_job(executor)

    pool.add(_abort, lambda _: done.set())
    pool.add(lambda: None, later.append)  # one worker: this runs after the abort job
    deadline = time.monotonic() + 5
    while not later and time.monotonic() < deadline:
        time.sleep(0.01)
    pool.join()
    return done.is_set()


def test_upstream_abort_job_that_fails_never_reports_done():
    upstream_abort = compat.upstream(MacroExecutor, "_abort")
    assert abort_through_the_thread_pool(upstream_abort, FailingAbort()) is False


def test_a_failing_abort_job_reports_done_and_warns():
    compat.install_macroserver(lambda ex: None, lambda ex, macro: None)
    executor = FailingAbort()
    assert abort_through_the_thread_pool(MacroExecutor._abort, executor) is True
    assert executor.warnings == ["_abort of the reserved objects failed: "
                                 "RuntimeError('motor did not answer')"]


# --- waits for Pool events (asynchronous aborts; sardana#1023) ---------------------------------

class FakeExecutor:
    """The MacroExecutor steps the wait patch wraps, recording what they say; its abort job
    fails."""

    def __init__(self):
        self.calls = []

    def _handle_abort(self, macro_obj):
        self.calls.append("on_abort")

    def _stop(self):
        self.calls.append("stop job")

    def _abort(self):
        raise RuntimeError("motor did not answer")

    def warning(self, message):
        self.calls.append(message)


def patch_fake_executor() -> None:
    """The MacroServer's patches of the executor on FakeExecutor, with the real event wait."""
    compat.executor_jobs_never_raise(FakeExecutor)
    compat.event_waits_see_aborts_and_missed_states(FakeExecutor, AttributeEventWait)


def raise_in(thread: threading.Thread, exception: type[BaseException]) -> None:
    """Raise `exception` asynchronously in `thread`, as Sardana aborts a macro."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_long(thread.ident),
                                               ctypes.py_object(exception))


def test_upstream_wait_without_timeout_never_sees_an_asynchronous_abort():
    wait, outcome = AttributeEventWait(), []
    upstream_wait = compat.upstream(AttributeEventWait, "waitForEvent")

    def macro_thread():
        try:
            upstream_wait(wait, MOVING, time.time())
            outcome.append("event")
        except AbortException:
            outcome.append("aborted")

    thread = threading.Thread(target=macro_thread, daemon=True)
    thread.start()
    time.sleep(0.2)
    raise_in(thread, AbortException)
    thread.join(1.0)
    assert thread.is_alive() and outcome == []
    wait.fireEvent(tango.DevState.MOVING)  # wakes the thread: only now the abort lands
    thread.join(2.0)
    assert outcome == ["aborted"]


def test_a_macro_waiting_for_a_pool_event_without_timeout_sees_an_abort():
    patch_fake_executor()
    wait, ended = AttributeEventWait(), []

    def macro_thread():
        try:
            wait.waitForEvent(MOVING, after=time.time())  # never comes
        except AbortException:
            ended.append(time.monotonic())

    thread = threading.Thread(target=macro_thread, daemon=True)
    thread.start()
    time.sleep(0.2)
    aborted = time.monotonic()
    raise_in(thread, AbortException)
    thread.join(2.0)
    assert ended and ended[0] - aborted <= 2 * compat.REACTIVITY


def test_an_abort_a_listener_swallowed_still_ends_the_wait_of_the_aborted_macro():
    """The abort job marks the executor; its macro thread's wait then raises by itself, until
    the macro unwinds (`_handle_abort`)."""
    patch_fake_executor()
    wait, outcome = AttributeEventWait(), []

    def macro_thread():
        try:
            wait.waitForEvent(MOVING, after=time.time())  # never comes
            outcome.append("event")
        except AbortException:
            outcome.append("aborted")

    thread = threading.Thread(target=macro_thread, daemon=True)
    executor = FakeExecutor()
    executor._thread_pool = types.SimpleNamespace(workers=[thread])
    executor._aborted = True
    thread.start()
    time.sleep(0.2)
    aborted = time.monotonic()
    executor._abort()  # Sardana's AbortException would be raised here, and swallowed
    thread.join(2.0)
    assert outcome == ["aborted"] and time.monotonic() - aborted <= 2.0
    executor._handle_abort(None)
    assert not compat._abort_pending_here() and executor not in compat._pending_aborts


def test_a_wait_in_another_thread_is_not_aborted():
    patch_fake_executor()
    executor = FakeExecutor()
    executor._thread_pool = types.SimpleNamespace(workers=[])  # no macro thread of ours
    executor._aborted = True
    executor._abort()
    wait = AttributeEventWait()
    assert wait.waitForEvent(MOVING, after=time.time(), timeout=0.3) is False
    assert not compat._abort_pending_here()


class StateAttribute:
    """A Pool element's state whose events never come: only a read tells it."""

    def __init__(self, state: tango.DevState):
        self.state, self.warnings, self.reads = state, [], 0

    def addListener(self, listener):  # noqa: N802 (Taurus's name)
        pass

    def removeListener(self, listener):  # noqa: N802
        pass

    def read(self, cache=True):
        self.reads += 1
        return types.SimpleNamespace(rvalue=self.state)

    def warning(self, message):
        self.warnings.append(message)


def test_upstream_wait_for_a_state_ends_only_on_its_event_and_never_reads_the_state():
    """What a lost MOVING event of the Pool (sardana#1023) leaves a start waiting for."""
    attribute = StateAttribute(tango.DevState.ON)  # at rest: the MOVING came and went unseen
    wait = AttributeEventWait(attribute)
    upstream_wait = compat.upstream(AttributeEventWait, "waitForEvent")
    assert upstream_wait(wait, MOVING, time.time(), True, 0.5) is False
    assert attribute.reads == 0


def test_a_wait_for_moving_whose_event_never_comes_ends_once_the_element_is_read_at_rest():
    """The Pool does not always send a motor group's MOVING: the start's wait reads the state."""
    patch_fake_executor()
    attribute = StateAttribute(tango.DevState.ON)
    wait = AttributeEventWait(attribute)
    started = time.monotonic()
    assert wait.waitForEvent(MOVING, after=time.time()) is True
    assert compat.MISSED_EVENT_AFTER <= time.monotonic() - started < compat.MISSED_EVENT_AFTER + 1
    assert "came and went unseen" in attribute.warnings[0] and attribute.reads == 1


def test_a_wait_for_moving_goes_on_waiting_while_the_element_is_in_fault():
    patch_fake_executor()
    attribute = StateAttribute(tango.DevState.FAULT)
    wait, ended = AttributeEventWait(attribute), []
    thread = threading.Thread(target=lambda: ended.append(
        wait.waitForEvent(MOVING, after=time.time())), daemon=True)
    thread.start()
    thread.join(compat.MISSED_EVENT_AFTER + 1)
    assert ended == [] and attribute.warnings == [] and attribute.reads == 1  # once per period
    attribute.state = tango.DevState.MOVING  # read so at the next look
    thread.join(compat.MISSED_EVENT_AFTER + 1)
    assert ended == [True] and attribute.reads >= 2


# --- the end of motion of a stop or abort (sardana#1023) ---------------------------------------

class StateEvents(EventGenerator):
    """A Pool element's state events (`TangoAttributeEG`) whose last event was MOVING."""

    def __init__(self, attribute: StateAttribute):
        super().__init__("element state")
        self.attribute, self.last_val = attribute, tango.DevState.MOVING

    def getAttribute(self):  # noqa: N802 (Taurus's name)
        return self.attribute

    def warning(self, message):
        self.attribute.warning(message)


class Element:
    """What `PoolElement.waitReady` uses of a Pool element, with the patched waitReady."""

    def __init__(self, attribute: StateAttribute):
        self.events = StateEvents(attribute)

    def getStateEG(self):  # noqa: N802 (Sardana's name)
        return self.events

    waitReady = compat.upstream(PoolElement, "waitReady")  # noqa: N815


compat.wait_ready_fires_missed_state(Element)


def test_upstream_wait_for_the_end_of_motion_ends_only_on_its_event():
    attribute = StateAttribute(tango.DevState.ON)  # at rest: the end of motion came unseen
    upstream_wait_ready = compat.upstream(PoolElement, "waitReady")
    assert upstream_wait_ready(Element(attribute), timeout=0.5) == tango.DevState.MOVING
    assert attribute.reads == 0


def test_an_abort_whose_end_of_motion_event_never_comes_ends_once_the_element_is_read_at_rest():
    """`PoolElement.abort` waits without a timeout for the state to leave MOVING."""
    attribute = StateAttribute(tango.DevState.ON)
    element, ended = Element(attribute), []
    started = time.monotonic()
    thread = threading.Thread(target=lambda: ended.append(element.waitReady()), daemon=True)
    thread.start()
    thread.join(compat.MISSED_EVENT_AFTER + 1)  # unpatched, it would wait for ever
    assert ended == [tango.DevState.ON]
    assert compat.MISSED_EVENT_AFTER <= time.monotonic() - started < compat.MISSED_EVENT_AFTER + 1
    assert "firing it from a read" in attribute.warnings[0] and attribute.reads == 1


def test_a_wait_for_the_end_of_motion_waits_while_the_element_moves_and_keeps_its_timeout():
    attribute = StateAttribute(tango.DevState.MOVING)
    element, ended = Element(attribute), []
    thread = threading.Thread(target=lambda: ended.append(element.waitReady()), daemon=True)
    thread.start()
    thread.join(compat.MISSED_EVENT_AFTER + 1)
    assert ended == [] and attribute.warnings == [] and attribute.reads == 1
    element.events.fireEvent(tango.DevState.ON)  # the event comes
    thread.join(1.0)
    assert ended == [tango.DevState.ON]
    started = time.monotonic()
    assert Element(attribute).waitReady(timeout=0.5) == tango.DevState.MOVING
    assert 0.5 <= time.monotonic() - started < 1.0


# --- the Door's messages (sardana#693) ---------------------------------------------------------

class Door:
    """A Door whose event pushes need its serialisation monitor, as a Tango device's do, and
    give up after `MONITOR_TIMEOUT`."""

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
        if not self.monitor.acquire(timeout=MONITOR_TIMEOUT):
            tango.Except.throw_exception("API_CommandTimedOut", "monitor busy", "Door")
        try:
            self.pushed.append(lines)
        finally:
            self.monitor.release()


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


class UpstreamHandler(AttributeLogHandler):
    """Sardana's handler as upstream defines it, whatever this process has patched."""

    emit = compat.upstream(AttributeLogHandler, "emit")
    handle = compat.upstream(AttributeLogHandler, "handle")


def logger_of(door: Door, handler_class: type) -> logging.Logger:
    """A logger whose messages go to `door` through a handler of `handler_class`."""
    logger = logging.getLogger(f"door-{id(door)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = handler_class(door, "Debug", max_buff_size=10)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    return logger


def door_logger(door: Door, handler_class: type = Handler) -> logging.Logger:
    """`logger_of` with the door-log patch on `handler_class`."""
    compat.door_log_from_one_thread(handler_class, DoorDevice)
    return logger_of(door, handler_class)


def test_upstream_door_command_that_logs_waits_for_a_message_that_waits_for_the_monitor():
    """Sardana's handler pushes inside its lock: the command waits until that push gives up,
    and its message is lost."""
    door, lost = Door(), []
    logger = logger_of(door, UpstreamHandler)

    def abort_job():
        try:
            logger.debug("aborting the motion")
        except tango.DevFailed:
            lost.append("aborting the motion")

    def abort_macro():  # a Tango thread: it holds the monitor while it runs the command
        with door.monitor:
            threading.Thread(target=abort_job, daemon=True).start()
            assert door.pushing.wait(5)
            logger.debug("aborting the macro")

    command = threading.Thread(target=abort_macro, daemon=True)
    command.start()
    command.join(MONITOR_TIMEOUT / 2)
    assert command.is_alive(), "the command did not wait for the abort job's message"
    command.join(MONITOR_TIMEOUT + 5)
    assert not command.is_alive() and lost == ["aborting the motion"]
    assert door.pushed == [["aborting the macro"]]


def test_upstream_handler_lock_left_held_blocks_every_later_message():
    door = Door()
    logger = logger_of(door, UpstreamHandler)
    (handler,) = logger.handlers
    handler.acquire()  # as an asynchronous AbortException between acquire and release leaves it
    speaker = threading.Thread(target=logger.debug, args=("aborting",), daemon=True)
    speaker.start()
    try:
        speaker.join(0.5)
        assert speaker.is_alive(), "the message did not wait for the lock"
    finally:
        handler.release()
    speaker.join(5)
    assert door.pushed == [["aborting"]]


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

    compat._push(BusyOnce(), ["scan started"])
    assert attempts == [["scan started"], ["scan started"]]


def test_a_message_the_door_refuses_is_reported_not_raised(capsys):
    class Refusing:
        def sendText(self, lines):
            tango.Except.throw_exception("API_AttrNotFound", "no such attribute", "test")

    compat._push(Refusing(), ["lost"])
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


# --- a logging handler's lock an aborted thread left held (sardana#693's family) ----------------

class Kept(logging.Handler):
    """Keeps what it emits."""

    def __init__(self):
        super().__init__()
        self.kept = []

    def emit(self, record):
        self.kept.append(record.getMessage())


def held_by_an_aborted_thread(handler: logging.Handler) -> threading.Event:
    """The handler's lock taken by a thread that will not release it until the returned event
    is set (an AbortException left it held)."""
    taken, done = threading.Event(), threading.Event()

    def aborted():
        lock = handler.lock
        lock.acquire()
        taken.set()
        done.wait(30)
        lock.release()  # else logging's shutdown at exit waits for it for ever

    threading.Thread(target=aborted, daemon=True).start()
    assert taken.wait(5)
    return done


def record(message: str) -> logging.LogRecord:
    return logging.LogRecord("abort", logging.DEBUG, __file__, 1, message, None, None)


def test_upstream_record_waits_for_ever_for_a_lock_an_aborted_thread_holds():
    handler = Kept()
    done = held_by_an_aborted_thread(handler)
    try:
        logs = threading.Thread(target=compat.upstream(logging.Handler, "handle"),
                                args=(handler, record("Aborting...")), daemon=True)
        logs.start()
        logs.join(2 * compat.HANDLER_WAIT)
        assert logs.is_alive() and handler.kept == []
    finally:
        done.set()


def test_a_record_is_emitted_under_a_new_lock_when_an_aborted_thread_holds_the_old():
    compat.install_macroserver(lambda ex: None, lambda ex, macro: None)
    handler = Kept()
    old = handler.lock
    done = held_by_an_aborted_thread(handler)
    try:
        for message in ("Aborting...", "aborted"):
            logs = threading.Thread(target=handler.handle, args=(record(message),), daemon=True)
            logs.start()
            logs.join(5 * compat.HANDLER_WAIT)
            assert not logs.is_alive()
        assert handler.kept == ["Aborting...", "aborted"] and handler.lock is not old
    finally:
        done.set()


# --- Taurus's thread pool: the caller's stack of a job (no upstream issue) -----------------------

class Jobs:
    """What `ThreadPool.add` uses of its pool."""

    def __init__(self):
        self.accept, self.jobs = True, queue.SimpleQueue()


def added_job(add, monkeypatch) -> tuple[list, int]:
    """The caller's stack a job added with `add` keeps, and the source files looked up."""
    looked_up = []
    monkeypatch.setattr(linecache, "checkcache", lambda *a: looked_up.append(a))
    pool = Jobs()
    add(pool, print)
    stack = pool.jobs.get()[-1]
    monkeypatch.undo()
    return stack, len(looked_up)


def test_upstream_thread_pool_looks_up_the_source_of_every_caller_of_every_job(monkeypatch):
    stack, looked_up = added_job(compat.upstream(ThreadPool, "add"), monkeypatch)
    assert looked_up > 0 and stack[-1].name == "added_job"


def test_a_job_keeps_its_callers_places_and_reads_their_source_only_to_report(monkeypatch):
    compat.install_pool()
    stack, looked_up = added_job(ThreadPool.add, monkeypatch)
    assert looked_up == 0
    report = "".join(traceback.format_list(stack))  # what the worker logs if the job fails
    assert stack[-1][2] == "added_job" and "add(pool, print)" in report


# --- a pause sent to a hook macro (no upstream issue) -------------------------------------------

class Stacked:
    """A macro on the executor's stack, with Sardana's own pause event."""

    def __init__(self, name: str):
        self.name = name
        self._pause_event = PauseEvent(self)

    def _getName(self):  # noqa: N802 (Sardana's name)
        return self.name

    def isPaused(self):  # noqa: N802
        return self._pause_event.isPaused()

    def pause(self, cb=None):
        self._pause_event.pause(cb=cb)


class PausedExecutor:
    """A Door's executor running `scan` and its hook `laser_on`, the pause asked for while the
    hook runs, as the Door's `pause` does it."""

    macro_pointer = MacroExecutor.macro_pointer
    _popMacroStack = MacroExecutor._popMacroStack  # noqa: N815 (Sardana's name)

    def __init__(self):
        self.scan, self.hook = Stacked("scan"), Stacked("laser_on")
        self._macro_stack, self.paused = [self.scan, self.hook], []
        self._paused = True
        self.hook.pause(cb=self._macroPaused)

    def _macroPaused(self, macro):  # noqa: N802
        self.paused.append(macro.name)


def test_upstream_pause_sent_to_a_hook_that_ends_is_lost():
    executor = PausedExecutor()
    compat.upstream(MacroExecutor, "_popMacro")(executor)  # the hook has ended
    assert executor.macro_pointer is executor.scan and not executor.scan.isPaused()


def test_a_pause_sent_to_a_hook_that_ends_pauses_the_scan_at_its_next_pause_point():
    compat.install_macroserver(lambda ex: None, lambda ex, macro: None)
    executor = PausedExecutor()
    MacroExecutor._popMacro(executor)
    assert executor.scan.isPaused()
    waits = threading.Thread(target=executor.scan._pause_event.wait, daemon=True)
    waits.start()  # the scan's next pause point: it tells the Door it has paused, and waits
    deadline = time.monotonic() + 5
    while not executor.paused and time.monotonic() < deadline:
        time.sleep(0.01)
    assert executor.paused == ["scan"] and waits.is_alive()
    executor.scan._pause_event.resume()
    waits.join(5)
    assert not waits.is_alive()


def test_a_pause_the_hook_took_is_not_passed_on():
    compat.install_macroserver(lambda ex: None, lambda ex, macro: None)
    executor = PausedExecutor()
    executor._paused = False  # the hook paused, and the Door resumed it
    executor.hook._pause_event.resume()
    MacroExecutor._popMacro(executor)
    assert not executor.scan.isPaused()


# --- a motor's set point in the database (no upstream issue) -----------------------------------

class SlowDatabase:
    """A Tango database whose writes wait for `free`; it keeps what was written."""

    def __init__(self):
        self.free, self.written = threading.Event(), []

    def put_device_attribute_property(self, device, data):
        self.free.wait(10)
        self.written.append((device, data["DialPosition"]["__value"]))


class MovedMotor:
    """What the Motor device uses of itself to store its set point."""

    def __init__(self, database: SlowDatabase):
        self.database, self.target = database, 0.0
        self.motor = self

    def get_dial_position_attribute(self):
        return types.SimpleNamespace(has_write_value=lambda: True, w_value=self.target,
                                     w_timestamp=1.0)

    def get_database(self):
        return self.database

    def get_name(self):
        return "motor/mw_ctrl/1"


def test_upstream_write_of_a_position_waits_for_the_database():
    from sardana.tango.pool.Motor import Motor

    device = MovedMotor(SlowDatabase())
    store = threading.Thread(target=compat.upstream(Motor, "set_write_dial_position_to_db"),
                             args=(device,), daemon=True)
    store.start()
    store.join(0.5)
    assert store.is_alive()  # the move's write still waiting
    device.database.free.set()
    store.join(5)


def test_a_moves_set_point_reaches_the_database_after_the_write_the_latest_per_motor():
    from sardana.tango.pool.Motor import Motor

    compat.install_pool()
    device = MovedMotor(SlowDatabase())
    for target in (1.0, 2.0, 3.0):  # three moves while the database is slow
        device.target = target
        store = threading.Thread(target=Motor.set_write_dial_position_to_db, args=(device,),
                                 daemon=True)
        store.start()
        store.join(5)
        assert not store.is_alive()
    device.database.free.set()
    assert Motor._nanomri_set_points.flush()
    assert device.database.written[-1] == ("motor/mw_ctrl/1", "3.0")
    assert len(device.database.written) <= 2  # the first, perhaps; then only the latest


# --- PyTango: the set-point writer's database write lets the other threads run -----------------

@pytest.fixture(scope="module")
def database(tmp_path_factory) -> Iterator[tuple[tango.Database, int]]:
    """The embedded Tango database of this file and its server's PID."""
    tmp = tmp_path_factory.mktemp("database")
    launcher = Launcher(Paths(ROOT, tmp / "var", tmp / "results"), stack_env(tmp))
    launcher.paths.state.mkdir(exist_ok=True)
    try:
        host, port = start_database(launcher, 0).split(":")
        yield tango.Database(host, int(port)), launcher.processes[0].pid
    finally:
        stop_processes(launcher.processes)


def steps_of_another_thread(call: Callable[[], None], server: int) -> float:
    """How far a spinning thread gets while `call` waits for the `server`, stopped for
    FROZEN s (a process of ours resumes it: this process may not run meanwhile), as a
    fraction of how far it gets while this thread sleeps as long."""
    steps, done = [0], threading.Event()

    def spin():
        while not done.is_set():
            steps[0] += 1

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    os.kill(server, signal.SIGSTOP)
    resume = subprocess.Popen(["sh", "-c", f"sleep {FROZEN}; exec kill -CONT {server}"])
    try:
        before, start = steps[0], time.monotonic()
        call()
        during, waited = steps[0] - before, time.monotonic() - start
    finally:
        resume.wait(10)
        os.kill(server, signal.SIGCONT)
    if waited < FROZEN / 2:
        raise RuntimeError(f"the call took {waited:.3f} s: it did not wait for the server")
    before = steps[0]
    time.sleep(waited)
    asleep = steps[0] - before
    done.set()
    spinner.join(5)
    return during / asleep


def test_a_database_write_lets_the_other_threads_run_while_the_database_is_slow(database):
    """What the Pool's set-point writer relies on: PyTango 10.3.1 held the GIL until the
    database answered, stopping the Pool and the MacroServer at every move of a step scan."""
    db, server = database
    set_point = {"DialPosition": {"__value": "2870000000.0", "__value_ts": 1765140000.25}}
    ran = steps_of_another_thread(
        lambda: db.put_device_attribute_property("motor/mw_ctrl/1", set_point), server)
    assert ran > 0.3


# --- synchronisation descriptions of several groups (no upstream issue) ------------------------

def description(*active_times: float, total: float = 2e-3, repeats: int = 3) -> SynchDescription:
    """A description of one group of `repeats` gates per active time, every `total` s."""
    return SynchDescription([{SynchParam.Delay: {SynchDomain.Time: 0.0},
                              SynchParam.Active: {SynchDomain.Time: active},
                              SynchParam.Total: {SynchDomain.Time: total},
                              SynchParam.Repeats: repeats} for active in active_times])


def test_upstream_description_of_two_groups_of_equal_gates_has_no_gate_length_or_latency():
    two = description(1e-3, 1e-3)
    with pytest.raises(Exception, match="more than one synchronization description groups"):
        compat.upstream(SynchDescription, "integration_time").fget(two)
    with pytest.raises(TypeError):
        compat.upstream(SynchDescription, "passive_time").fget(two)


def test_a_description_of_groups_of_equal_gates_gives_their_length_and_latency():
    compat.install_pool()
    two = description(1e-3, 1e-3)
    assert two.integration_time == 1e-3 and two.passive_time == pytest.approx(1e-3)
    one = description(1e-3)
    assert one.integration_time == 1e-3 and one.passive_time == pytest.approx(1e-3)


def test_a_description_of_groups_of_different_gates_is_refused():
    compat.install_pool()
    with pytest.raises(ValueError, match="same length"):
        description(1e-3, 1.5e-3).integration_time  # noqa: B018 (a property that refuses)


# --- the Pool: an acquisition whose start raises (family of sardana#530) -------------------------

START_WAIT = 2.0  # s: far more than a dummy counter's 10 ms count takes


def refuse_then_count(mntgrp, monkeypatch) -> tuple[list[tuple[int, str]], bool]:
    """Each channel's state and status after a count whose LoadOne refused, and whether a
    next count, its LoadOne accepting, ends."""
    ctrl = type(mntgrp.get_user_elements()[0].controller.ctrl)
    accept = ctrl.LoadOne

    def refuse(self, axis, value, repetitions, latency):
        raise ValueError("integration time refused")

    monkeypatch.setattr(ctrl, "LoadOne", refuse)
    mntgrp.integration_time = 0.01
    mntgrp.prepare()
    mntgrp.start_acquisition()
    deadline = time.monotonic() + START_WAIT
    channels = mntgrp.get_user_elements()
    while time.monotonic() < deadline and any(c.state != State.Fault for c in channels):
        time.sleep(0.01)
    after_refusal = [(c.state, c.status) for c in channels]
    monkeypatch.setattr(ctrl, "LoadOne", accept)
    counted = ActionEvent(mntgrp)
    mntgrp.prepare()
    mntgrp.start_acquisition()
    return after_refusal, counted.started.wait(START_WAIT) and counted.done.wait(START_WAIT)


def test_upstream_a_refused_start_leaves_the_channels_on_and_the_next_count_never_ends(
        mntgrp01, monkeypatch):
    for acquisition in (PoolAcquisitionSoftware, PoolAcquisitionSoftwareStart):
        monkeypatch.setattr(acquisition, "run", compat.upstream(acquisition, "run"))
    after_refusal, next_ended = refuse_then_count(mntgrp01, monkeypatch)
    assert {state for state, _ in after_refusal} == {State.On} and not next_ended


def test_a_refused_start_faults_the_channels_with_the_reason_and_the_next_count_ends(
        mntgrp01, monkeypatch):
    compat.install_pool()
    after_refusal, next_ended = refuse_then_count(mntgrp01, monkeypatch)
    assert {state for state, _ in after_refusal} == {State.Fault}
    assert all("integration time refused" in status for _, status in after_refusal)
    assert next_ended and mntgrp01.state == State.On
