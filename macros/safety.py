"""Safe state when any macro on the Door is stopped or aborted, and the `safe_state` macro.

Stop or abort of any macro, stock scans included, puts every instrument of env
`NanomriInstruments` (role -> Tango device) in its `SafeState`: motion and acquisition stopped,
sequence stopped, laser blanked, MW/RF off, bias made small, the magnet holding its field where
it is. A scan head (role `probe`) retracts its tip only if the macro was using it: one of the
macro's Pool elements drives it, or it was moving. A tip that a confocal scan never moved stays
where it is, held by its own feedback: retracting it would make nothing safer and lose an
approach (and an alignment over an NV centre) that takes long to redo.

Sardana has no general stop/abort hook; `nanomri.clients.sardana_compat.hook_stop_and_abort`
adds one. The MacroServer loads this module from the MacroPath, and the module installs the
MacroServer's patches (`sardana_compat.install_macroserver`) with these two hooks; a reload
replaces the hooks, never stacks them:

1. as soon as the macro is interrupted (`_first_pass`): the safe state at once, from a thread
   of its own, so it comes within milliseconds even if the macro's thread is blocked in a call;
2. as the outermost macro unwinds (`_final_pass`): the same again, after the macro's own
   `on_abort` or `finally` (which might have switched something back on), so the Door reports
   the macro stopped only with every instrument safe.

The other patches installed so keep a stop or abort from leaving the Door busy: waits for Pool
events that see the abort and missed state events, stop and abort jobs that never raise, the
Door's messages pushed from one thread.
"""

import threading
import weakref
from collections.abc import Iterable, Mapping

import tango
from sardana.macroserver.macro import InterruptException, macro
from sardana.macroserver.msexception import UnknownEnv
from sardana.macroserver.msmacromanager import MacroExecutor

from nanomri.clients import sardana_compat

INSTRUMENTS_ENV = "NanomriInstruments"
SCAN_HEADS = ("probe",)  # roles whose SafeState retracts a tip: only when the macro used them
TIMEOUT = 2.0  # s for each instrument's SafeState to answer

_proxies: dict[str, tango.DeviceProxy] = {}
_ctrl_properties: dict[str, dict[str, list[str]]] = {}  # Pool controller -> its properties
_plans = weakref.WeakKeyDictionary()  # executor -> (outermost macro, plan) of its first pass
_lock = threading.Lock()  # one safe-state pass at a time; guards the caches


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


sardana_compat.install_macroserver(interrupted=_first_pass, unwound=_final_pass)


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
