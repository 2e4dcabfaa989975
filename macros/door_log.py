"""The Door's message streams (Output, Info, Warning, Error, Debug…) pushed from one thread.

Sardana's `AttributeLogHandler` pushes every message as a change event of the Door from the
thread that logs it, inside the logging handler's lock, and a push waits for the Door's Tango
serialisation monitor (up to 3.2 s). A Tango thread holds that monitor while it runs a Door
command, and AbortMacro and ReleaseMacro log a message: such a thread waits for a handler's
lock that a macro, abort or safe-state thread holds while it waits for the monitor. Each such
wait ends only at the monitor's timeout, a client's command times out first and is sent
again, and the Door stays busy (sardana-org/sardana#693; seen in CI: the abort job blocked
in a debug message, AbortMacro and ReleaseMacro timing out for 10 s).

Here a handler only keeps the message in its buffer and queues it; one thread of this
process pushes the queue in order, holding no lock any other thread waits for. Queueing needs
no lock, so the handler takes none: Sardana aborts a macro by raising AbortException
asynchronously in its thread, and one that lands between a lock's acquire and its release
leaves the lock held for ever (seen in a fresh-clone run: the abort job and ReleaseMacro both
waiting in `Handler.acquire`, no thread in `emit`).

A client must still see a macro's messages before the Door says the macro ended (spock prints
its prompt then): before the Door pushes its State, Status, MacroStatus or Result, the thread
pushing them waits (at most `DRAIN_WAIT`) until the messages queued before have gone out. The
MacroServer imports this module from the MacroPath; `install` replaces the handler's `handle`
and `emit` and the Door's `set_attribute` once.
"""

import queue
import sys
import threading

import tango
from sardana.tango.core.attributehandler import AttributeLogHandler
from sardana.tango.macroserver.Door import Door

BUSY_RETRIES = 3  # pushes of one message while the Door's monitor stays busy (3.2 s each)
DRAIN_WAIT = 2.0  # s a Door state or macro-status push waits for the messages before it
AFTER_MESSAGES = {"state", "status", "macrostatus", "result"}  # Door attributes pushed so


def _push(handler: AttributeLogHandler, lines: list[str]) -> None:
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
    def emit(self: AttributeLogHandler, record) -> None:
        try:
            lines = self.getRecordMessage(record)
        except Exception:  # a message that cannot be formatted, as logging reports it
            self.handleError(record)
            return
        self.appendBuffer(lines)  # what a read of the attribute returns, at once
        messages.put((self, lines))

    return emit


def _handle_unlocked(self: AttributeLogHandler, record) -> bool:
    """`logging.Handler.handle` without the handler's lock, which a queued emit does not need."""
    kept = self.filter(record)
    if kept:
        self.emit(record)
    return kept


def install(cls: type = AttributeLogHandler, door: type = Door) -> queue.SimpleQueue:
    """Make `cls` queue its messages, unlocked, for one pushing thread, and `door` push its
    state and macro status after them; again (a reload) changes nothing."""
    messages = cls.__dict__.get("_nanomri_messages")
    if messages is None:
        messages = queue.SimpleQueue()
        threading.Thread(target=_pusher, args=(messages,), name="nanomri-door-log",
                         daemon=True).start()
        cls._nanomri_messages = messages
        cls.emit = _queued_emit(messages)
        cls.handle = _handle_unlocked
        door.set_attribute = _after_messages(door.set_attribute, messages)
    return messages


install()
