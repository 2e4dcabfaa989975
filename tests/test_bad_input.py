"""Every device against bad input: hypothesis throws bad values at every writable attribute and
every command taking an argument; each must raise DevFailed (Tango's own limit and type checks,
or the device's NANOMRI_* checks) and leave every setting reading back as before."""

import importlib
import math

import numpy as np
import pytest
import tango
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import ROOT
from .tango_context import CONFOCAL, device

VISA = ROOT / "tests" / "visa"
DEVICES = {
    "laser": ("laser", "NVLaser", f"sim:{CONFOCAL}"),
    "laser-cobolt": ("laser", "NVLaser", f"visa:ASRL1::INSTR|{VISA / 'laser.yaml'}@sim"),
    "counter": ("photon_counter", "PhotonCounter", f"sim:{CONFOCAL}"),
    "stage": ("scanner", "Scanner", f"sim:{CONFOCAL}"),
    "probe": ("scan_head", "ScanHead", f"sim:{CONFOCAL}#probe"),
    "sequencer": ("sequencer", "PulseSequencer", f"sim:{CONFOCAL}"),
    "mw": ("signal_generator", "SignalGenerator", f"sim:{CONFOCAL}#mw"),
    "rf": ("signal_generator", "SignalGenerator", f"sim:{CONFOCAL}#rf"),
    "mw-smb100a": ("signal_generator", "SignalGenerator",
                   f"visa:TCPIP0::localhost::inst0::INSTR|{VISA / 'signal_generator.yaml'}@sim"),
    "camera": ("camera", "EMCCD", f"sim:{CONFOCAL}"),
    "magnet": ("magnet", "VectorMagnet", f"sim:{CONFOCAL}"),
    # three AMI 430 supplies; '+' separates them where Tango's file database splits at commas
    "magnet-ami": ("magnet", "VectorMagnet", "visa:" + "+".join(
        f"TCPIP0::192.168.1.{n}::7180::SOCKET" for n in (11, 12, 13))
        + f"|{VISA / 'magnet.yaml'}@sim;max_ramp_rate=0.01"),
    "tunnel": ("tunnel_current", "TunnelCurrent", f"sim:{CONFOCAL}"),
}
EXAMPLES = settings(max_examples=15, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))
WRITABLE = (tango.AttrWriteType.READ_WRITE, tango.AttrWriteType.READ_WITH_WRITE,
            tango.AttrWriteType.WRITE)
FLOATS = (tango.CmdArgType.DevDouble, tango.CmdArgType.DevFloat)
INTS = (tango.CmdArgType.DevShort, tango.CmdArgType.DevLong, tango.CmdArgType.DevLong64,
        tango.CmdArgType.DevUShort, tango.CmdArgType.DevULong, tango.CmdArgType.DevULong64,
        tango.CmdArgType.DevUChar)
NUMBER = FLOATS + INTS


def limit(text: str) -> float | None:
    """A declared min/max value, None where Tango says it is not specified."""
    try:
        return float(text)
    except ValueError:
        return None


def bad_numbers(info: tango.AttributeInfoEx) -> st.SearchStrategy:
    """Values no numeric attribute may accept: beyond its declared limits, and non-finite."""
    low, high = limit(info.min_value), limit(info.max_value)
    choices = []
    if info.data_type in FLOATS:
        choices.append(st.sampled_from([math.nan, math.inf, -math.inf]))
        # a declared limit reads back rounded to its format: stay clear of that rounding
        if high is not None:
            above = high + abs(high) * 1e-9 + 1e-300
            choices.append(st.floats(min_value=above, max_value=abs(high) * 1e6 + 1e6))
        if low is not None:
            below = low - abs(low) * 1e-9 - 1e-300
            choices.append(st.floats(max_value=below, min_value=-abs(low) * 1e6 - 1e6))
    else:
        if high is not None:
            choices.append(st.integers(min_value=int(high) + 1, max_value=int(high) + 10**6))
        if low is not None and (low > 0 or info.data_type not in INTS[3:]):
            choices.append(st.integers(min_value=int(low) - 10**6, max_value=int(low) - 1))
    return st.one_of(choices)


def bad_values(info: tango.AttributeInfoEx) -> st.SearchStrategy | None:
    """Bad values of one writable attribute, shaped as it is (scalar or spectrum)."""
    if info.data_type == tango.CmdArgType.DevEnum:
        return st.integers(min_value=len(info.enum_labels), max_value=1000)
    if info.data_type not in NUMBER:
        return None  # booleans and strings: only the wrong-type writes below
    numbers = bad_numbers(info)
    if info.data_format == tango.AttrDataFormat.SCALAR:
        return numbers
    good = st.floats(0, 0) if info.data_type in FLOATS else st.integers(0, 0)
    in_array = st.lists(good, min_size=0, max_size=3).flatmap(
        lambda head: numbers.map(lambda bad: [*head, bad]))
    too_long = st.just([0] * (info.max_dim_x + 1))
    return st.one_of(in_array, too_long)


def settings_of(proxy: tango.DeviceProxy, names: list[str]) -> dict[str, object]:
    """Read-back of every writable attribute, comparable with ==."""
    values = {}
    for name, attr in zip(names, proxy.read_attributes(names), strict=True):
        value = attr.value
        values[name] = np.asarray(value).tolist() if value is not None else None
    return values


def same(before: dict, after: dict) -> bool:
    return all(np.array_equal(np.asarray(before[k], dtype=object), np.asarray(after[k],
                                                                              dtype=object))
               or before[k] == after[k] for k in before)


def refused(error: tango.DevFailed) -> bool:
    """Refused by Tango's own checks (API_*) or by the device (NANOMRI_*), never a crash."""
    reason = error.args[0].reason
    return reason.startswith("NANOMRI_") or reason.startswith("API_")


def wrong_type(info: tango.AttributeInfoEx) -> tuple[tango.AttributeInfoEx, object]:
    """The attribute's info claiming another type, and a value of that type: what a client
    with a stale or wrong idea of the attribute would send."""
    fake = tango.AttributeInfoEx(info)
    if info.data_type == tango.CmdArgType.DevString:
        fake.data_type, value = tango.CmdArgType.DevDouble, 1.0
    else:
        fake.data_type, value = tango.CmdArgType.DevString, "not a number"
    if info.data_format != tango.AttrDataFormat.SCALAR:
        value = [value]
    return fake, value


LATIN_1 = st.characters(min_codepoint=1, max_codepoint=255)  # what a Tango string carries
COMMAND_ARGS = {
    tango.CmdArgType.DevDouble: st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -1e300]),
    tango.CmdArgType.DevLong: st.sampled_from([-1, -(2**31), 2**31 - 1]),
    tango.CmdArgType.DevLong64: st.sampled_from([-1, -(2**63), 2**63 - 1]),
    tango.CmdArgType.DevULong: st.sampled_from([2**32 - 1]),
    tango.CmdArgType.DevString: st.one_of(st.text(LATIN_1, max_size=30),
                                          st.sampled_from(["", "{", "[1, 2", '{"x": NaN}'])),
    tango.CmdArgType.DevVarDoubleArray: st.sampled_from([[], [math.nan], [math.inf, 1.0]]),
    tango.CmdArgType.DevVarLongArray: st.sampled_from([[], [-1], [2**31 - 1] * 5]),
}


def attack(strategy: st.SearchStrategy, attempt) -> None:
    """Run `attempt(value)` on values drawn from `strategy`."""

    @EXAMPLES
    @given(strategy)
    def run(value):
        attempt(value)

    run()


@pytest.fixture(scope="module", params=sorted(DEVICES))
def proxy(request):
    module, cls, driver = DEVICES[request.param]
    device_class = getattr(importlib.import_module(f"nanomri.devices.{module}"), cls)
    with device(device_class, driver) as proxy:
        assert proxy.state() != tango.DevState.FAULT, proxy.status()
        yield proxy


def write_refused(proxy: tango.DeviceProxy, name: str, names: list[str], before: dict):
    """An attempt to write `value` to attribute `name` that must be refused, changing nothing."""

    def attempt(value) -> None:
        with pytest.raises(tango.DevFailed) as exc:
            proxy.write_attribute(name, value)
        assert refused(exc.value), f"{name} = {value!r}: {exc.value.args[0].reason}"
        assert same(before, settings_of(proxy, names)), f"{name} = {value!r} changed a setting"

    return attempt


def command_refused(proxy: tango.DeviceProxy, name: str, names: list[str], before: dict):
    """An attempt to run command `name` with a bad argument that the device itself must refuse."""

    def attempt(arg) -> None:
        with pytest.raises(tango.DevFailed) as exc:
            proxy.command_inout(name, arg)
        assert exc.value.args[0].reason.startswith("NANOMRI_"), (
            f"{name}({arg!r}): {exc.value.args[0].reason}")
        assert same(before, settings_of(proxy, names)), f"{name}({arg!r}) changed a setting"

    return attempt


def writable(proxy: tango.DeviceProxy) -> list[tango.AttributeInfoEx]:
    return [a for a in proxy.attribute_list_query_ex() if a.writable in WRITABLE]


def test_every_writable_number_declares_its_limits(proxy):
    for info in writable(proxy):
        if info.data_type in NUMBER:
            assert limit(info.min_value) is not None and limit(info.max_value) is not None, (
                f"{proxy.dev_name()}/{info.name} declares no min/max")
            assert info.unit or info.data_type in INTS, f"{info.name} has no unit"


def test_bad_attribute_values_are_refused_and_change_nothing(proxy):
    infos = writable(proxy)
    names = [i.name for i in infos if i.writable != tango.AttrWriteType.WRITE]
    before = settings_of(proxy, names)
    for info in infos:
        strategy = bad_values(info)
        if strategy is not None:
            attack(strategy, write_refused(proxy, info.name, names, before))
    assert proxy.state() != tango.DevState.FAULT


def test_writes_of_the_wrong_type_are_refused_and_change_nothing(proxy):
    infos = writable(proxy)
    names = [i.name for i in infos if i.writable != tango.AttrWriteType.WRITE]
    before = settings_of(proxy, names)
    for info in infos:
        fake, value = wrong_type(info)
        with pytest.raises(tango.DevFailed) as exc:
            proxy.write_attribute(fake, value)
        assert refused(exc.value), f"{info.name}: {exc.value.args[0].reason}"
    assert same(before, settings_of(proxy, names))


def test_bad_command_arguments_are_refused_and_change_nothing(proxy):
    names = [i.name for i in writable(proxy) if i.writable != tango.AttrWriteType.WRITE]
    before = settings_of(proxy, names)
    for cmd in proxy.command_list_query():
        if cmd.in_type == tango.CmdArgType.DevVoid:
            continue
        assert cmd.in_type in COMMAND_ARGS, f"{cmd.cmd_name}: no bad values for {cmd.in_type}"
        attack(COMMAND_ARGS[cmd.in_type], command_refused(proxy, cmd.cmd_name, names, before))


def test_every_command_either_runs_or_is_refused_by_the_device_never_crashes(proxy):
    for cmd in proxy.command_list_query():
        if cmd.in_type != tango.CmdArgType.DevVoid or cmd.cmd_name in ("Init", "State",
                                                                        "Status"):
            continue
        try:
            proxy.command_inout(cmd.cmd_name)
        except tango.DevFailed as exc:
            assert exc.args[0].reason.startswith("NANOMRI_"), (
                f"{cmd.cmd_name}: {exc.args[0].reason}: {exc.args[0].desc}")
        assert proxy.state() != tango.DevState.FAULT, f"{cmd.cmd_name}: {proxy.status()}"
    proxy.SafeState()


def test_safe_state_is_offered_and_leaves_the_device_working(proxy):
    proxy.SafeState()
    assert proxy.state() not in (tango.DevState.FAULT, tango.DevState.UNKNOWN), proxy.status()
