"""Safe state when any macro on the Door is stopped or aborted, and the `safe_state` macro.

Stop or abort of any macro, stock scans included, puts every instrument of env
`NanomriInstruments` (role -> Tango device) in its `SafeState`: motion and acquisition stopped,
sequence stopped, laser blanked, MW/RF off, bias made small, the magnet holding its field where
it is. A scan head (role `probe`) retracts its tip only if the macro was using it: one of the
macro's Pool elements drives it, or it was moving. A tip that a confocal scan never moved stays
where it is, held by its own feedback: retracting it would make nothing safer and lose an
approach (and an alignment over an NV centre) that takes long to redo.

Sardana 3.7 has no general stop/abort hook. `on_abort` belongs to each macro class, general
hooks attach only to hookable scans, and once a macro is aborted no macro (hence no hook) can
run. What every stop and abort of every macro goes through is the Door's `MacroExecutor`: its
job that stops/aborts the macro's reserved elements right after interrupting the macro thread,
and `_handle_stop`/`_handle_abort` in the macro thread as the macro unwinds, before the Door
takes the next macro. The MacroServer imports this module from the MacroPath; it wraps those
four methods of `MacroExecutor`, once (a reload replaces the wrappers, never stacks them):

1. with the reserved elements: the safe state at once, from a thread of its own, so it comes
   within milliseconds even if the macro's thread is blocked in a call;
2. as the outermost macro unwinds: the same again, after the macro's own `on_abort` or
   `finally` (which might have switched something back on), so the Door reports the macro
   stopped only with every instrument safe.

Guards keep a macro from leaving the Door busy for ever (each seen in issue 5's tests):

- the executor's `_abort`/`_stop` jobs never raise: Sardana's thread pool would then skip the
  callback that says they are done, and the macro thread wait for it without a timeout
  (sardana-org/sardana#640);
- a wait for a Pool event (`AttributeEventWait.waitForEvent`) without a timeout wakes every
  `REACTIVITY` s and raises AbortException itself if the macro of its thread was aborted and
  has not begun to unwind. Sardana aborts a macro by raising AbortException in its thread at
  whatever it is doing: a thread blocked in `Condition.wait()` never sees it, and an event
  listener running in the macro thread catches and logs it (seen: `on_motor_changed`), after
  which `PoolElement.start` waited for ever for the MOVING of a motion the abort had stopped;
- the same wait reads the state every `MISSED_EVENT_AFTER` s and ends when the state it
  waits for is there, or the element rests (ON), with a warning in the Sardana log: the Pool
  does not always send a motor group's MOVING (seen in 2 of 5 tries: a software raster's first
  move after a Ctrl-C'd continuous raster and a hardware raster, the group ON at its target
  while the macro waited for MOVING).
- the wait of an element's stop or abort for the end of its motion (`PoolElement.waitReady`,
  Taurus's `EventGenerator.waitEvent`, which only looks at the last event) reads the state
  every `MISSED_EVENT_AFTER` s and, if it is not the last event's, fires the missed event
  itself (seen in CI: the abort job waiting for ever for the end of a MOVING that had ended,
  the Door RUNNING and refusing every later macro).
"""

import threading
import time
import weakref
from collections.abc import Iterable, Mapping

import tango
from sardana.macroserver.macro import AbortException, InterruptException, macro
from sardana.macroserver.msexception import UnknownEnv
from sardana.macroserver.msmacromanager import MacroExecutor
from sardana.taurus.core.tango.sardana.pool import PoolElement
from taurus.core.util.event import AttributeEventWait, EventGenerator

INSTRUMENTS_ENV = "NanomriInstruments"
SCAN_HEADS = ("probe",)  # roles whose SafeState retracts a tip: only when the macro used them
TIMEOUT = 2.0  # s for each instrument's SafeState to answer
REACTIVITY = 0.1  # s: the longest a macro thread waiting for a Pool event takes to see an abort
MISSED_EVENT_AFTER = 2.0  # s without an awaited state event between reads of the state itself

_proxies: dict[str, tango.DeviceProxy] = {}
_ctrl_properties: dict[str, dict[str, list[str]]] = {}  # Pool controller -> its properties
_plans = weakref.WeakKeyDictionary()  # executor -> (outermost macro, plan) of its first pass
_lock = threading.Lock()  # one safe-state pass at a time; guards the caches
_pending_aborts = weakref.WeakSet()  # executors whose aborted macro has not begun to unwind


def safe_roles(instruments: Mapping[str, str], heads_in_use: Iterable[str]) -> dict[str, str]:
    """Role -> device of the instruments a stop or abort puts in SafeState: every one but the
    scan heads the macro did not use."""
    used = set(heads_in_use)
    return {role: dev for role, dev in instruments.items()
            if role not in SCAN_HEADS or role in used}


def devices_named(properties: Mapping[str, Iterable[str]], devices: Iterable[str]) -> set[str]:
    """Those of `devices` that a controller's properties name, alone or with an attribute."""
    values = [v.strip().lower() for vals in properties.values() for v in vals]
    return {d for d in devices if any(v == d.lower() or v.startswith(d.lower() + "/")
                                      for v in values)}


def _proxy(name: str) -> tango.DeviceProxy:
    if name not in _proxies:
        proxy = tango.DeviceProxy(name)
        proxy.set_source(tango.DevSource.DEV)
        _proxies[name] = proxy
    return _proxies[name]


def _why(exc: tango.DevFailed) -> str:
    return exc.args[0].desc.strip().splitlines()[0]


def make_safe(devices: Mapping[str, str], timeout: float = TIMEOUT) -> dict[str, str]:
    """SafeState on every device at once (asynchronous calls); role -> error of those failing."""
    errors, pending = {}, {}
    for role, name in devices.items():
        try:
            proxy = _proxy(name)
            pending[role] = proxy, proxy.command_inout_asynch("SafeState")
        except tango.DevFailed as exc:
            errors[role] = _why(exc)
    for role, (proxy, request) in pending.items():
        try:
            proxy.command_inout_reply(request, int(timeout * 1000))
        except tango.DevFailed as exc:
            errors[role] = _why(exc)
    return errors


def _element_names(obj) -> list[str]:
    """Names of the Pool elements in a reserved object (a Motion holds several)."""
    names = getattr(obj, "names", None)
    return list(names) if names else [obj.getName()]


def _driven_devices(executor: MacroExecutor, candidates: list[str]) -> set[str]:
    """Those of `candidates` that a Pool element reserved by the running macros drives."""
    ms, found, seen = executor.macro_server, set(), set()
    todo = [n for objs in list(executor._reserved_macro_objs.values()) for o in objs
            for n in _element_names(o)]
    while todo:
        name = todo.pop()
        if name in seen or (elem := ms.get_object(name)) is None:
            continue
        seen.add(name)
        data = elem.getPoolData()
        todo.extend(data.get("physical_elements") or data.get("elements") or [])
        if ctrl := data.get("controller"):
            if ctrl not in _ctrl_properties:
                proxy = tango.DeviceProxy(ctrl)
                _ctrl_properties[ctrl] = proxy.get_property(proxy.get_property_list("*"))
            found |= devices_named(_ctrl_properties[ctrl], candidates)
    return found


def _heads_in_use(executor: MacroExecutor, instruments: Mapping[str, str]) -> set[str]:
    """Scan-head roles the running macros use: driven by their Pool elements, or moving."""
    heads = {role: dev for role, dev in instruments.items() if role in SCAN_HEADS}
    if not heads:
        return set()
    driven = _driven_devices(executor, list(heads.values()))
    used = {role for role, dev in heads.items() if dev in driven}
    for role in heads.keys() - used:
        try:
            if _proxy(heads[role]).state() == tango.DevState.MOVING:
                used.add(role)
        except tango.DevFailed:
            used.add(role)  # a head that does not answer might be moving: retract it
    return used


def _plan(executor: MacroExecutor) -> tuple[dict[str, str], list[str]]:
    """Role -> device of what to put safe, and the scan heads left alone."""
    try:
        instruments = dict(executor.door.get_env(INSTRUMENTS_ENV))
    except UnknownEnv:
        executor.warning(f"no safe state: env {INSTRUMENTS_ENV} is not set")
        return {}, []
    try:
        heads = _heads_in_use(executor, instruments)
    except Exception as exc:  # cannot tell what the macro used: retract, the safe side
        executor.warning(f"retracting the tip: cannot tell whether the macro used it ({exc})")
        heads = set(SCAN_HEADS)
    safe = safe_roles(instruments, heads)
    return safe, sorted(set(instruments) - set(safe))


def _outermost(executor: MacroExecutor):
    """The macro the Door runs (its stack changes in the macro's thread meanwhile)."""
    return next(iter(list(executor._macro_stack)), None)


def _safe_pass(executor: MacroExecutor, final_of=None) -> None:
    """Put the instruments safe. The first pass keeps its plan for the final one, run as
    `final_of` the outermost macro unwinds: by then a nested macro has returned the elements
    that showed whether it used the scan head. The final pass also says what it did."""
    with _lock:
        kept_for, plan = _plans.pop(executor, (None, None))
        if final_of is None or kept_for is not final_of:
            plan = _plan(executor)
        if final_of is None:
            _plans[executor] = _outermost(executor), plan
        safe, left = plan
        errors = make_safe(safe)
    for role, error in errors.items():
        executor.warning(f"safe state of {role} ({safe[role]}) failed: {error}")
    if final_of is not None and safe:
        executor.output(f"instruments in their safe state: {', '.join(sorted(safe))}"
                        + (f"; {', '.join(left)} left in place (not used)" if left else ""))


def _first_pass(executor: MacroExecutor) -> None:
    def run():
        with tango.EnsureOmniThread():
            try:
                _safe_pass(executor)
            except Exception as exc:  # never take the MacroServer down with a safety thread
                executor.warning(f"safe state failed: {exc}")

    threading.Thread(target=run, name="nanomri-safe-state", daemon=True).start()


def _final_pass(executor: MacroExecutor, macro_obj) -> None:
    if macro_obj.parent_macro is None:  # the outermost macro: nothing of it runs after this
        try:
            _safe_pass(executor, final_of=macro_obj)
        except InterruptException:  # a second Ctrl-C: its own first pass makes safe again
            raise
        except Exception as exc:
            executor.warning(f"safe state failed: {exc}")


def _wrap_interrupt(original):
    def interrupt_objects(self):
        _first_pass(self)
        return original(self)

    return interrupt_objects


def _wrap_handler(original):
    def handle(self, macro_obj):
        original(self, macro_obj)
        _final_pass(self, macro_obj)

    return handle


def _wrap_abort_handler(original):
    handle = _wrap_handler(original)

    def handle_abort(self, macro_obj):
        _pending_aborts.discard(self)  # the macro unwinds: the abort reached it
        handle(self, macro_obj)

    return handle_abort


def _wrap_job(original):
    def job(self):
        try:
            original(self)
        except Exception as exc:  # the callback that says "done" must run: sardana#640
            self.warning(f"{original.__name__} of the reserved objects failed: {exc!r}")

    return job


def _wrap_abort_job(original):
    job = _wrap_job(original)

    def abort_job(self):
        _pending_aborts.add(self)
        job(self)

    return abort_job


def _abort_pending_here() -> bool:
    """Whether the running thread is the macro thread of an aborted macro still running."""
    here = threading.current_thread()
    return any(executor._aborted and here in executor._thread_pool.workers
               for executor in list(_pending_aborts))


def _state_reached_unseen(wait: AttributeEventWait, values, equal: bool) -> bool:
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


def _wrap_wait(original):
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


def _fire_missed_state(events: EventGenerator) -> None:
    """Fire the element's state as read now, if its event did not come."""
    try:
        state = events.getAttribute().read(cache=False).rvalue
    except Exception:  # no answer now: the next period reads again
        return
    if state != events.last_val:
        events.warning(f"no event of state {state} for {MISSED_EVENT_AFTER:g} s (last event "
                       f"{events.last_val}): firing it from a read")
        events.fireEvent(state)


def _wrap_wait_ready(original):
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


WRAPPED = {
    MacroExecutor: {
        "_MacroExecutor__stopObjects": _wrap_interrupt,  # once the macro has been told to stop
        "_MacroExecutor__abortObjects": _wrap_interrupt,  # once AbortException is on its way
        "_handle_stop": _wrap_handler,
        "_handle_abort": _wrap_abort_handler,
        "_stop": _wrap_job,
        "_abort": _wrap_abort_job,
    },
    AttributeEventWait: {"waitForEvent": _wrap_wait},
    PoolElement: {"waitReady": _wrap_wait_ready},  # stop and abort wait for the end of motion
}


def install(classes: Mapping[type, Mapping] = WRAPPED) -> None:
    """Wrap the methods named in `classes`; the originals are kept, so this can run again."""
    for cls, wrappers in classes.items():
        originals = cls.__dict__.get("_nanomri_originals")
        if originals is None:
            originals = {name: getattr(cls, name) for name in wrappers}
            cls._nanomri_originals = originals
        for name, wrap in wrappers.items():
            setattr(cls, name, wrap(originals[name]))


install()


@macro()
def safe_state(self):
    """Every instrument in its safe state now, the tip retracted, the magnet holding its field."""
    instruments = dict(self.getEnv(INSTRUMENTS_ENV))
    with _lock:
        errors = make_safe(instruments)
    for role, error in errors.items():
        self.warning(f"{role} ({instruments[role]}): {error}")
    done = sorted(set(instruments) - set(errors))
    self.output(f"safe state: {', '.join(done)}")
    if errors:
        raise RuntimeError(f"safe state failed for {', '.join(sorted(errors))}")
