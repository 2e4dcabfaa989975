"""Every patch of Sardana's and Taurus's internals, applied only to the versions it was made for.

A patch is a function below that wraps or replaces attributes of an upstream class; its
docstring says which upstream bug or limitation it works around and where that is reported.
Each process applies its patches in one call, which first refuses any version but the pinned
ones: the MacroServer through `install_macroserver` (macros/safety.py, loaded from the
MacroPath, passes it the stop/abort hooks) and the Pool through `install_pool`
(controllers/SequencerTGCtrl.py). A patched class keeps the upstream attribute (`upstream`), so
applying a patch again, as a reloaded macro library does, replaces its wrapper instead of
stacking another. tests/test_sardana_compat.py shows each upstream bug on the unpatched code:
when such a test fails on a new version, upstream has fixed the bug and the patch can go.

Sardana and Taurus are imported after the version check, and each process imports only the
classes it patches.
"""

import importlib.metadata
import logging
import queue
import sys
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import tango

PINNED = {"sardana": "3.7.1", "taurus": "5.4.1"}  # the versions every patch here is made for
PATCHES = "_nanomri_patches"  # class attribute: name -> (upstream attribute, {patch: wrap})
REACTIVITY = 0.1  # s: the longest a macro thread waiting for a Pool event takes to see an abort
MISSED_EVENT_AFTER = 2.0  # s without an awaited state event between reads of the state itself
BUSY_RETRIES = 3  # pushes of one Door message while the Door's monitor stays busy (3.2 s each)
DRAIN_WAIT = 2.0  # s a Door state or macro-status push waits for the messages before it
AFTER_MESSAGES = {"state", "status", "macrostatus", "result"}  # Door attributes pushed so
TICK = 1e-9  # s: gate times closer than this are the same time to a hardware gate
HANDLER_WAIT = 1.0  # s a log record waits for a logging handler's lock another thread holds

_pending_aborts = weakref.WeakSet()  # executors whose aborted macro has not begun to unwind


# --- versions ----------------------------------------------------------------------------------

def installed_versions() -> dict[str, str]:
    """The installed version of each pinned distribution."""
    return {name: importlib.metadata.version(name) for name in PINNED}


def check_versions(found: Mapping[str, str], pinned: Mapping[str, str] = PINNED) -> None:
    """Refuse, in one line, any version but the pinned ones."""
    wrong = [f"{name} {found.get(name)}" for name in pinned if found.get(name) != pinned[name]]
    if wrong:
        wanted = " and ".join(f"{name} {version}" for name, version in pinned.items())
        raise RuntimeError(f"nanomri's Sardana patches are for {wanted}, found {', '.join(wrong)}: "
                           "check each patch of nanomri.clients.sardana_compat and its tests "
                           "against it, then update PINNED and setup.cfg")


# --- how a patch is applied --------------------------------------------------------------------

def _patch(cls: type, name: str, patch: str, wrap: Callable[[Any], Any]) -> None:
    """Set `cls.<name>` to `wrap` of the upstream attribute, over the wraps of the other patches
    of it in the order they were first applied; applying a patch again replaces its wrap."""
    patches = vars(cls).get(PATCHES)
    if patches is None:
        patches = {}
        setattr(cls, PATCHES, patches)
    original, wraps = patches.setdefault(name, (getattr(cls, name), {}))
    wraps[patch] = wrap
    attribute = original
    for layer in wraps.values():
        attribute = layer(attribute)
    setattr(cls, name, attribute)


def upstream(cls: type, name: str) -> Any:
    """`cls.<name>` as upstream defines it, patched or not."""
    patched = vars(cls).get(PATCHES, {}).get(name)
    return getattr(cls, name) if patched is None else patched[0]


# --- the MacroServer: stop and abort -----------------------------------------------------------

def hook_stop_and_abort(executor: type, interrupted: Callable[[Any], None],
                        unwound: Callable[[Any, Any], None]) -> None:
    """Call `interrupted(executor)` whenever a macro is stopped or aborted, and
    `unwound(executor, macro)` as each stopped or aborted macro unwinds.

    Sardana has no general stop/abort hook: `on_stop`/`on_abort` belong to each macro class,
    general hooks attach only to hookable macros, and once a macro is stopped or aborted no
    macro, hence no hook, runs (https://github.com/sardana-org/sardana/issues/1509). Every stop
    and abort of every macro passes through the Door's `MacroExecutor`: the job that stops or
    aborts the macro's reserved elements right after the macro has been interrupted
    (`__stopObjects`/`__abortObjects`: `interrupted` runs first), and `_handle_stop`/
    `_handle_abort` in the macro thread as the macro unwinds, before the Door takes the next
    macro (`unwound` runs after them, so after the macro's own `on_stop`/`on_abort`).
    """
    def before(original):
        def interrupt_objects(self):
            interrupted(self)
            return original(self)

        return interrupt_objects

    def after(original):
        def handle(self, macro_obj):
            original(self, macro_obj)
            unwound(self, macro_obj)

        return handle

    for name, wrap in (("_MacroExecutor__stopObjects", before),
                       ("_MacroExecutor__abortObjects", before),
                       ("_handle_stop", after), ("_handle_abort", after)):
        _patch(executor, name, "hook_stop_and_abort", wrap)


def executor_jobs_never_raise(executor: type) -> None:
    """Make the executor's stop and abort jobs log their failure instead of raising it.

    Sardana's thread pool calls a job's callback with what the job returned, and skips it when
    the job raises: when `_stop`/`_abort` fails (an element that does not answer), the callback
    that says the stop or abort is done never runs, the macro thread waits for it without a
    timeout and the Door stays RUNNING (https://github.com/sardana-org/sardana/issues/640).
    """
    def never_raises(original):
        def job(self):
            try:
                original(self)
            except Exception as exc:  # the callback that says "done" must run
                self.warning(f"{original.__name__} of the reserved objects failed: {exc!r}")

        return job

    for name in ("_stop", "_abort"):
        _patch(executor, name, "executor_jobs_never_raise", never_raises)


def event_waits_see_aborts_and_missed_states(executor: type, event_wait: type) -> None:
    """Make a wait for a Pool event without a timeout end on an abort of its macro, and when
    the state it waits for has come without its event.

    Sardana aborts a macro by raising AbortException asynchronously in its thread at whatever
    it is doing (https://github.com/sardana-org/sardana/pull/1256): a thread blocked in Taurus's
    `AttributeEventWait.waitForEvent` without a timeout (a bare `Condition.wait()`) never sees
    it, and an event listener running in the macro thread may catch and log it, after which
    the wait goes on for ever (no upstream issue filed). Here the executor's abort job marks
    the executor until its macro unwinds (`_handle_abort`), and such a wait wakes every
    `REACTIVITY` s and raises AbortException itself while its thread's macro is so marked; a
    wait with a timeout wakes as often, so that an asynchronous abort reaches it.

    The Pool does not always send the state event a wait is for, e.g. a motor group's MOVING,
    and the wait then never ends (https://github.com/sardana-org/sardana/issues/1023): here it
    reads the state every `MISSED_EVENT_AFTER` s and ends when the state it waits for is there,
    or the element rests (ON), with a warning in the Sardana log.
    """
    from sardana.taurus.core.tango.sardana.pool import AbortException

    def marks_abort(original):
        def abort_job(self):
            _pending_aborts.add(self)
            original(self)

        return abort_job

    def clears_abort(original):
        def handle_abort(self, macro_obj):
            _pending_aborts.discard(self)  # the macro unwinds: the abort reached it
            original(self, macro_obj)

        return handle_abort

    def sees_aborts(original):
        def wait_for_event(self, values, after=0, equal=True, timeout=None, reactivity=None,
                           ignore_values=False):
            if timeout is not None:
                if reactivity is None and timeout > REACTIVITY:
                    reactivity = REACTIVITY
                return original(self, values, after, equal, timeout, reactivity, ignore_values)
            unseen_for = 0.0  # s since the state was last read
            while not original(self, values, after, equal, REACTIVITY, None, ignore_values):
                if _abort_pending_here():
                    raise AbortException(f"aborted while waiting for {values}")
                unseen_for += REACTIVITY
                if unseen_for >= MISSED_EVENT_AFTER:  # one read per period, not per wake-up
                    if _state_reached_unseen(self, values, equal):
                        return True
                    unseen_for = 0.0
            return True

        return wait_for_event

    patch = "event_waits_see_aborts_and_missed_states"
    _patch(executor, "_abort", patch, marks_abort)
    _patch(executor, "_handle_abort", patch, clears_abort)
    _patch(event_wait, "waitForEvent", patch, sees_aborts)


def _abort_pending_here() -> bool:
    """Whether the running thread is the macro thread of an aborted macro still running."""
    here = threading.current_thread()
    return any(executor._aborted and here in executor._thread_pool.workers
               for executor in list(_pending_aborts))


def _state_reached_unseen(wait, values, equal: bool) -> bool:
    """Whether the state a wait for a state event is for has come without its event: read now,
    it is one of `values` (or none of them, `equal` False), or it is at rest after a start."""
    attr = wait._attr
    if attr is None or not all(isinstance(v, tango.DevState) for v in values):
        return False
    state = attr.read(cache=False).rvalue
    if (state in values) == equal or state == tango.DevState.ON:
        attr.warning(f"no event of {values} for {MISSED_EVENT_AFTER:g} s; state now {state}, "
                     "so it came and went unseen: going on")
        return True
    return False


def wait_ready_fires_missed_state(element: type) -> None:
    """Make the wait of a Pool element's stop or abort for the end of its motion read the state
    when its event does not come.

    `PoolElement.waitReady` waits on Taurus's `EventGenerator.waitEvent`, which looks only at
    the last event: when the Pool's end-of-motion event is lost
    (https://github.com/sardana-org/sardana/issues/1023) the abort job waits for ever for the
    end of a motion that has ended, and the Door stays RUNNING. Here it reads the state every
    `MISSED_EVENT_AFTER` s and, if it is not the last event's, fires the missed event itself.
    """
    def reads_state(original):
        def wait_ready(self, timeout=None):
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                period = MISSED_EVENT_AFTER
                if deadline is not None:
                    period = max(min(period, deadline - time.monotonic()), 1e-3)
                state = original(self, timeout=period)
                if state != tango.DevState.MOVING or (
                        deadline is not None and time.monotonic() >= deadline):
                    return state
                _fire_missed_state(self.getStateEG())

        return wait_ready

    _patch(element, "waitReady", "wait_ready_fires_missed_state", reads_state)


def _fire_missed_state(events) -> None:
    """Fire the element's state as read now, if its event did not come."""
    try:
        state = events.getAttribute().read(cache=False).rvalue
    except Exception:  # no answer now: the next period reads again
        return
    if state != events.last_val:
        events.warning(f"no event of state {state} for {MISSED_EVENT_AFTER:g} s (last event "
                       f"{events.last_val}): firing it from a read")
        events.fireEvent(state)


# --- the MacroServer: logging handlers' locks ----------------------------------------------------

def handler_locks_never_wait_for_ever(handler: type) -> None:
    """Make a log record wait at most `HANDLER_WAIT` s for a handler's lock that another
    thread holds; then the handler gets a new lock and the record is emitted under it.

    Sardana aborts a macro by raising AbortException in the macro's thread asynchronously:
    raised between the acquire of a logging handler's lock and the `try` that releases it, it
    leaves the lock held by that thread for ever, and every other thread that logs through the
    handler waits for ever (the family of https://github.com/sardana-org/sardana/issues/693).
    Seen on the MacroServer's log file handler: the abort job waited in its "Aborting" debug
    line and the Door stayed RUNNING after AbortMacro of an ascan.
    """
    def wrap(original):
        def handle(self, record):
            lock = self.lock
            if lock is None:
                return original(self, record)
            kept = self.filter(record)
            if not kept:
                return kept
            if not lock.acquire(timeout=HANDLER_WAIT):
                print(f"{type(self).__name__}: its lock held for over {HANDLER_WAIT:g} s (a "
                      "thread aborted inside it): the handler takes a new one",
                      file=sys.stderr, flush=True)
                self.createLock()
                lock = self.lock
                lock.acquire()
            try:
                self.emit(record)
            finally:
                lock.release()
            return kept

        return handle

    _patch(handler, "handle", "handler_locks_never_wait_for_ever", wrap)


# --- both: Taurus's thread pool ------------------------------------------------------------------

def thread_pool_jobs_without_source_lookups(pool: type) -> None:
    """Make a job given to Taurus's `ThreadPool` keep its caller's stack as frames' places,
    read from the source only if the job fails.

    `ThreadPool.add` keeps the caller's stack for the error message of a job that fails, with
    `traceback.extract_stack`, which looks every frame's file up in linecache (`checkcache`
    stats each file): the Pool and the MacroServer add jobs for every event of every element,
    and a step scan's point spent milliseconds in it (py-spy of `odmr` on the stack, about a
    sixth of the server's busy time). No upstream issue filed.
    """
    def wrap(original):
        def add(self, job, callback=None, *args, **kw):
            if self.accept:
                self.jobs.put((job, args, kw, callback, threading.current_thread().name,
                               _places(sys._getframe(1))))

        return add

    _patch(pool, "add", "thread_pool_jobs_without_source_lookups", wrap)


def _places(frame) -> list[tuple[str, int, str, None]]:
    """(file, line, function, source read later) of `frame` and its callers, outermost
    first, as `traceback.format_list` takes them."""
    places = []
    while frame is not None:
        places.append((frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name, None))
        frame = frame.f_back
    return places[::-1]


# --- the MacroServer: pause -------------------------------------------------------------------

def pause_outlives_the_macro_it_was_sent_to(executor: type) -> None:
    """Hand a pause that the macro it was sent to ended without taking on to the macro that
    runs next on the stack.

    The Door pauses the macro at the top of its stack, which waits at its next pause point. A
    scan's pause points come between its steps; when the pause comes while the scan runs a
    hook macro (`defgh ... pre-acq`), the hook gets it, ends without another pause point, and
    the scan runs on while the Door says a pause was asked for. No upstream issue filed. Here,
    as a macro leaves the stack with the executor still paused, its parent is paused.
    """
    def wrap(original):
        def pop(self):
            original(self)
            running = self.macro_pointer
            if self._paused and running is not None and not running.isPaused():
                running.pause(cb=self._macroPaused)

        return pop

    _patch(executor, "_popMacro", "pause_outlives_the_macro_it_was_sent_to", wrap)


# --- the MacroServer: the Door's messages ------------------------------------------------------

def door_log_from_one_thread(handler: type, door: type) -> None:
    """Push the Door's messages from one thread that holds no lock another thread waits for,
    and the Door's state and macro status after the messages logged before them.

    Sardana's `AttributeLogHandler` pushes each message as a change event of the Door from the
    thread that logs it, inside the logging handler's lock, and a push waits for the Door's
    Tango serialisation monitor (up to 3.2 s). A Tango thread holds that monitor while it runs
    a Door command, and AbortMacro and ReleaseMacro log: such a thread waits for a handler's
    lock that a macro, abort or safe-state thread holds while it waits for the monitor, each
    such wait ends only at the monitor's timeout, and the Door stays busy
    (https://github.com/sardana-org/sardana/issues/693: closed, and 3.7.1 still pushes inside
    the lock). Here `emit` keeps the message in the handler's buffer and queues it for one
    pushing thread. Queueing needs no lock, so `handle` takes none: an AbortException raised
    asynchronously between a lock's acquire and its release would leave the lock held for ever.
    A client must still see a macro's messages before the Door says the macro ended: before
    the Door pushes its State, Status, MacroStatus or Result, the pushing thread waits (at most
    `DRAIN_WAIT`) until the messages queued before have gone out.
    """
    messages = vars(handler).get("_nanomri_messages")
    if messages is None:  # one queue and one pushing thread per handler class and process
        messages = queue.SimpleQueue()
        threading.Thread(target=_pusher, args=(messages,), name="nanomri-door-log",
                         daemon=True).start()
        handler._nanomri_messages = messages
    patch = "door_log_from_one_thread"
    _patch(handler, "emit", patch, lambda original: _queued_emit(messages))
    _patch(handler, "handle", patch, lambda original: _handle_unlocked)
    _patch(door, "set_attribute", patch, lambda original: _after_messages(original, messages))


def _push(handler, lines: list[str]) -> None:
    """Push one message, again while the Door is too busy to take it."""
    for attempt in range(BUSY_RETRIES):
        try:
            handler.sendText(lines)
            return
        except tango.DevFailed as exc:
            if exc.args[0].reason != "API_CommandTimedOut" or attempt == BUSY_RETRIES - 1:
                print(f"Door message not pushed ({exc.args[0].desc.strip()}): {lines}",
                      file=sys.stderr, flush=True)
                return


def _pusher(messages: queue.SimpleQueue) -> None:
    with tango.EnsureOmniThread():
        while True:
            item = messages.get()
            if isinstance(item, threading.Event):  # a drain mark: all before it went out
                item.set()
            else:
                _push(*item)


def drain(messages: queue.SimpleQueue, timeout: float = DRAIN_WAIT) -> bool:
    """Wait until the messages queued so far have been pushed; False after `timeout` s."""
    mark = threading.Event()
    messages.put(mark)
    return mark.wait(timeout)


def _after_messages(original, messages: queue.SimpleQueue):
    def set_attribute(self, attr, *args, **kwargs):
        if attr.get_name().lower() in AFTER_MESSAGES:
            drain(messages)
        return original(self, attr, *args, **kwargs)

    return set_attribute


def _queued_emit(messages: queue.SimpleQueue):
    def emit(self, record) -> None:
        try:
            lines = self.getRecordMessage(record)
        except Exception:  # a message that cannot be formatted, as logging reports it
            self.handleError(record)
            return
        self.appendBuffer(lines)  # what a read of the attribute returns, at once
        messages.put((self, lines))

    return emit


def _handle_unlocked(self, record) -> bool:
    """`logging.Handler.handle` without the handler's lock, which a queued emit does not need."""
    kept = self.filter(record)
    if kept:
        self.emit(record)
    return kept


# --- the Pool ----------------------------------------------------------------------------------

def synch_description_common_gate(description: type) -> None:
    """Give a synchronisation description of several groups the integration time and latency
    its gates share, and refuse one whose gates differ.

    Sardana's acquisition asks the description for one integration time and latency (passive
    time), and `SynchDescription` raises for several groups ("more than one synchronization
    description groups"; the passive time subtracts two lists) even when every gate has the
    same length: a hardware-gated counter needs only that length. The sequencer plays
    descriptions of several groups, a raster line each. No upstream issue filed: Sardana's own
    scans give one group, so only a trigger/gate controller playing several groups meets it.
    """
    def integration_time(self) -> float:
        return _common(self.active_time, "length")

    def passive_time(self) -> float:
        return _common(np.subtract(self.total_time, self.active_time).tolist(),
                       "time to the next gate")

    patch = "synch_description_common_gate"
    _patch(description, "integration_time", patch, lambda original: property(integration_time))
    _patch(description, "passive_time", patch, lambda original: property(passive_time))


def _common(values: float | list[float], what: str) -> float:
    """The one value every gate shares; refuse gates of different lengths or latencies."""
    if isinstance(values, float | int):
        return values
    if len(values) == 0 or not np.allclose(values, values[0], rtol=1e-9, atol=TICK):
        raise ValueError(f"every gate of a hardware-gated acquisition must have the same {what}")
    return values[0]


# --- the Pool: an acquisition that does not start -------------------------------------------------

def failed_acquisition_starts_fault_and_free(acquisitions: tuple[type, ...]) -> None:
    """Make a software-synchronised acquisition whose start raises (a controller's LoadOne or
    PreStartAll refusing its integration time, a device that does not answer) put its channels
    in Fault with the reason as their status, and be ready for the next acquisition.

    Upstream the reason goes only to the Pool's log: the channels stay On, the measurement
    group reports a normal end, so a scan goes on with no new values, and the acquisition stays
    busy, so the group's next count waits for ever (until the Pool restarts). Same family as
    sardana#530 (a trigger/gate start error leaves the group unusable).
    """
    def wrap(original):
        def run(self, *args, **kwargs):
            try:
                return original(self, *args, **kwargs)
            except Exception as exc:
                from sardana import State

                for channel in self.get_elements():
                    channel.set_state_info(
                        (State.Fault, f"acquisition did not start: {exc}"),
                        propagate=2)
                self._set_ready()
                raise
        return run

    for acquisition in acquisitions:
        _patch(acquisition, "run", "failed_acquisition_starts_fault_and_free", wrap)


# --- the Pool: a motor's set point in the database ------------------------------------------------

def motor_set_points_stored_behind(motor: type) -> None:
    """Make a motor's new set point go to the Tango database from one writer thread, the
    latest per motor, instead of inside the write of its Position.

    Sardana's Motor device stores the dial set point in the database (so a restarted Pool
    knows it) before the write of Position returns: a database round trip in every move of
    every step scan, 5-10 ms of each point with the embedded database (py-spy of a loop of
    moves of mw_frequency: a third of the write). The macro waits for the write before it
    waits for the motion. No upstream issue filed. The writer thread needs a PyTango whose
    `Database` calls let the other threads run (10.3.2; 10.3.1 held the GIL to the answer).
    """
    writes = vars(motor).get("_nanomri_set_points")
    if writes is None:  # one writer per process
        writes = _SetPointWriter()
        motor._nanomri_set_points = writes

    def wrap(original):
        def set_write_dial_position_to_db(self):
            dial = self.motor.get_dial_position_attribute()
            if dial.has_write_value():
                writes.put(self.get_database(), self.get_name(), {"DialPosition": {
                    "__value": str(dial.w_value), "__value_ts": dial.w_timestamp}})

        return set_write_dial_position_to_db

    _patch(motor, "set_write_dial_position_to_db", "motor_set_points_stored_behind", wrap)


class _SetPointWriter:
    """Database writes of set points from one thread, the latest per device."""

    def __init__(self):
        self._pending: dict[str, tuple] = {}
        self._writing = False  # a batch taken from _pending is being written
        self._lock, self._wake = threading.Lock(), threading.Event()
        threading.Thread(target=self._run, name="nanomri-set-points", daemon=True).start()

    def put(self, database, device: str, data: dict) -> None:
        with self._lock:
            self._pending[device] = (database, data)
        self._wake.set()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every set point put so far is written; False after `timeout` s."""
        deadline = time.monotonic() + timeout
        while self._pending or self._writing:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def _run(self) -> None:
        with tango.EnsureOmniThread():
            while True:
                self._wake.wait()
                with self._lock:
                    self._wake.clear()
                    pending, self._pending = self._pending, {}
                    self._writing = True
                for device, (database, data) in pending.items():
                    try:
                        database.put_device_attribute_property(device, data)
                    except Exception as exc:  # the next move stores its set point again
                        print(f"set point of {device} not stored: {exc!r}", file=sys.stderr,
                              flush=True)
                self._writing = False


# --- one call per process ----------------------------------------------------------------------

def install_macroserver(interrupted: Callable[[Any], None],
                        unwound: Callable[[Any, Any], None]) -> None:
    """Apply the MacroServer's patches, `interrupted` and `unwound` its stop/abort hooks (see
    `hook_stop_and_abort`); refused on versions other than PINNED."""
    check_versions(installed_versions())
    from sardana.macroserver.msmacromanager import MacroExecutor
    from sardana.tango.core.attributehandler import AttributeLogHandler
    from sardana.tango.macroserver.Door import Door
    from sardana.taurus.core.tango.sardana.pool import PoolElement
    from taurus.core.util.event import AttributeEventWait
    from taurus.core.util.threadpool import ThreadPool

    hook_stop_and_abort(MacroExecutor, interrupted, unwound)
    executor_jobs_never_raise(MacroExecutor)
    event_waits_see_aborts_and_missed_states(MacroExecutor, AttributeEventWait)
    wait_ready_fires_missed_state(PoolElement)
    pause_outlives_the_macro_it_was_sent_to(MacroExecutor)
    handler_locks_never_wait_for_ever(logging.Handler)
    thread_pool_jobs_without_source_lookups(ThreadPool)
    door_log_from_one_thread(AttributeLogHandler, Door)


def install_pool() -> None:
    """Apply the Pool's patches; refused on versions other than PINNED."""
    check_versions(installed_versions())
    from sardana.pool.poolacquisition import PoolAcquisitionSoftware, PoolAcquisitionSoftwareStart
    from sardana.pool.poolsynchronization import SynchDescription
    from sardana.tango.pool.Motor import Motor
    from taurus.core.util.threadpool import ThreadPool

    synch_description_common_gate(SynchDescription)
    failed_acquisition_starts_fault_and_free((PoolAcquisitionSoftware,
                                              PoolAcquisitionSoftwareStart))
    thread_pool_jobs_without_source_lookups(ThreadPool)
    motor_set_points_stored_behind(Motor)
