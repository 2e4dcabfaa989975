"""MW/RF signal generator: the simulator on a fake clock, the Tango device, and the R&S SCPI
driver on pyvisa-sim through the same device."""

import math
from pathlib import Path

import numpy as np
import pytest
import tango
import yaml

from nanomri.devices.signal_generator import SignalGenerator
from nanomri.drivers.signal_generator import open_driver as open_visa
from nanomri.interfaces.errors import Refused
from nanomri.interfaces.signal_generator import (
    Mode,
    Sweep,
    TriggerSource,
    dbm_to_watt,
    watt_to_dbm,
)
from nanomri.sequence import Pulse, Sequence
from nanomri.simulators.drivers.signal_generator import (
    SimSignalGenerator,
    edges_until,
    open_driver,
)
from nanomri.simulators.playback import Playback
from nanomri.simulators.sim_world import SimWorld
from nanomri.world import WorldError, parse_world

from .conftest import ROOT
from .fake_clock import FakeClock
from .tango_context import CONFOCAL, device, multi, reason


def generator_world() -> dict:
    """The shipped confocal world with only the sections a generator needs (mw, rf and the
    required ones), so other instruments' sections do not matter here."""
    data = yaml.safe_load(CONFOCAL.read_text())
    keep = ("scanner", "laser", "photon_counter", "mw", "rf")
    data["instruments"] = {k: v for k, v in data["instruments"].items() if k in keep}
    return data


MODEL = parse_world(yaml.safe_dump(generator_world()))
MW = MODEL.instruments.mw
SIM_VISA = f"{ROOT / 'tests' / 'visa' / 'signal_generator.yaml'}@sim"
VISA = f"TCPIP0::localhost::inst0::INSTR|{SIM_VISA}"  # the device's generator
VISA_DRIVER = f"TCPIP0::localhost::inst1::INSTR|{SIM_VISA}"  # the driver test's generator


class FakeSequencer:
    """What the generator reads of a sequencer: its current run."""

    playback: Playback | None = None


def setup(section: str = "mw") -> tuple[FakeClock, SimSignalGenerator, FakeSequencer]:
    clock = FakeClock()
    world = SimWorld(MODEL, clock)
    sequencer = FakeSequencer()
    world.links.sequencer = sequencer
    return clock, SimSignalGenerator(world, getattr(MODEL.instruments, section)), sequencer


def at(gen: SimSignalGenerator, t: float) -> tuple[bool, float, float]:
    on, f, p = gen.output_at(np.asarray([t]))
    return bool(on[0]), float(f[0]), float(p[0])


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("world") / "generators.yaml"
    path.write_text(yaml.safe_dump(generator_world()))
    return path


def trigger_train(start: float, edges: list[float], length: float, reps: int) -> Playback:
    """A run whose spare channel rises at `edges` (s into each repetition), 1 µs pulses."""
    pulses = tuple(Pulse("spare", e, 1e-6) for e in edges) + (Pulse("laser", 0.0, length),)
    return Playback(Sequence(pulses, length), start, reps)


# --- units ---------------------------------------------------------------------------------

def test_one_milliwatt_is_zero_dbm_and_levels_convert_both_ways():
    assert watt_to_dbm(1e-3) == 0.0
    assert watt_to_dbm(1.0) == pytest.approx(30.0)
    assert dbm_to_watt(-145.0) == pytest.approx(3.162e-18, rel=1e-3)
    assert dbm_to_watt(watt_to_dbm(0.0316)) == pytest.approx(0.0316)


# --- simulator -----------------------------------------------------------------------------

def test_frequency_reaches_the_output_after_its_settling_time():
    clock, gen, _ = setup()
    gen.set_output(True)
    clock.now += 1.0
    t0 = clock.now
    gen.set_frequency(2.80e9)
    assert not gen.settled() and gen.frequency() == 2.80e9
    assert at(gen, t0 + 0.5 * MW.frequency_settle_time)[1] == MW.initial_frequency
    clock.now += MW.frequency_settle_time
    assert gen.settled()
    assert at(gen, clock.now) == (True, 2.80e9, MW.initial_power)


def test_output_switches_after_the_level_settling_and_is_recorded_in_the_history():
    clock, gen, _ = setup()
    t_on = clock.now
    gen.set_output(True)
    clock.now += 1.0
    gen.set_power(2e-3)
    clock.now += 1.0
    t_off = clock.now
    gen.set_output(False)
    clock.now += 1.0
    on, f, p = gen.output_at(np.array([t_on - 1, t_on + 0.5 * MW.level_settle_time,
                                       t_on + 0.5, t_on + 1.5, t_off + 2 * MW.level_settle_time]))
    assert list(on) == [False, False, True, True, False]
    assert list(p[2:4]) == [MW.initial_power, 2e-3]
    assert np.all(f == MW.initial_frequency)
    assert [s.setting.on for s in gen.history] == [False, True, True, False]


def test_phase_is_kept_per_time():
    clock, gen, _ = setup()
    gen.set_phase(math.pi / 2)
    clock.now += 1.0
    assert gen.phase_at(np.array([clock.now - 2, clock.now])).tolist() == [0.0, math.pi / 2]


def test_refusals_name_the_limit_and_change_nothing():
    clock, gen, _ = setup()
    before = (gen.frequency(), gen.power(), gen.phase(), gen.sweep(), gen.dwell(), gen.mode())
    cases = [
        (lambda: gen.set_frequency(7e9), "OUT_OF_RANGE", "6e+09] Hz"),
        (lambda: gen.set_frequency(math.nan), "OUT_OF_RANGE", "frequency nan"),
        (lambda: gen.set_power(1.0), "OUT_OF_RANGE", "0.063] W"),
        (lambda: gen.set_phase(-20.0), "OUT_OF_RANGE", "12.5664] rad"),
        (lambda: gen.set_sweep(Sweep(2.8e9, 2.9e9, 1)), "OUT_OF_RANGE", "[2, 2000]"),
        (lambda: gen.set_sweep(Sweep(1e3, 2.9e9, 11)), "OUT_OF_RANGE", "[9000, 6e+09]"),
        (lambda: gen.set_dwell(1e-4), "OUT_OF_RANGE", "[0.001, 100] s"),
        (lambda: gen.set_mode(Mode.LIST), "NO_LIST", "list"),
        (lambda: gen.set_mode(7), "OUT_OF_RANGE", "2 LIST"),
        (lambda: gen.set_list([2.8e9, 2.9e9], [1e-3]), "LIST_LENGTH", "as many powers"),
        (lambda: gen.set_list(np.full(2001, 2.8e9), np.full(2001, 1e-3)), "LIST_LENGTH", "2000"),
        (lambda: gen.set_list([2.8e9, 7e9], [1e-3, 1e-3]), "OUT_OF_RANGE", "list frequency 1"),
        (lambda: gen.software_trigger(), "NOT_ARMED", "SOFTWARE"),
    ]
    for call, why, text in cases:
        with pytest.raises(Refused) as exc:
            call()
        assert exc.value.reason == why and text in str(exc.value)
    assert (gen.frequency(), gen.power(), gen.phase(), gen.sweep(), gen.dwell(),
            gen.mode()) == before
    assert len(gen.list_frequencies()) == 0 and len(gen.history) == 1


def test_immediate_sweep_steps_every_dwell_and_wraps_around():
    clock, gen, _ = setup()
    gen.set_sweep(Sweep(2.80e9, 2.90e9, 11))
    gen.set_dwell(0.01)
    gen.set_output(True)
    t0 = clock.now
    gen.set_mode(Mode.SWEEP)
    assert gen.step() == 0
    clock.now = t0 + 0.035
    assert gen.step() == 3
    settle = MW.frequency_settle_time
    assert at(gen, t0 + 0.035)[1] == pytest.approx(2.83e9)
    assert at(gen, t0 + 0.030 + 0.5 * settle)[1] == pytest.approx(2.82e9)  # still settling
    assert gen.settled()
    clock.now = t0 + 0.040 + 0.5 * settle
    assert gen.step() == 4 and not gen.settled()
    clock.now = t0 + 0.115  # 11 points: the 12th dwell is the first point again
    assert gen.step() == 0 and at(gen, clock.now)[1] == pytest.approx(2.80e9)


def test_software_triggers_step_a_list_of_frequencies_and_powers():
    clock, gen, _ = setup()
    gen.set_list([2.85e9, 2.87e9, 2.89e9], [1e-3, 2e-3, 4e-3])
    gen.set_trigger(TriggerSource.SOFTWARE)
    gen.set_output(True)
    gen.set_mode(Mode.LIST)
    clock.now += 1.0
    assert gen.step() == 0 and at(gen, clock.now)[1:] == (2.85e9, 1e-3)
    for expected in (1, 2, 0, 1):
        gen.software_trigger()
        assert gen.step() == expected
        clock.now += 0.1
    assert at(gen, clock.now)[1:] == (2.87e9, 2e-3)
    gen.restart()
    clock.now += 0.1
    assert gen.step() == 0 and at(gen, clock.now)[1] == 2.85e9


def test_external_trigger_steps_on_rising_edges_of_the_sequencer_channel():
    clock, gen, sequencer = setup()
    gen.set_list([2.85e9, 2.86e9, 2.87e9, 2.88e9], np.full(4, 1e-3))
    gen.set_trigger(TriggerSource.EXTERNAL)
    gen.set_output(True)
    gen.set_mode(Mode.LIST)
    clock.now += 1.0
    assert gen.step() == 0  # no run yet: no edge
    start = clock.now
    sequencer.playback = trigger_train(start, [0.01, 0.03], length=0.05, reps=3)
    clock.now = start + 0.02  # one edge (0.01)
    assert gen.step() == 1
    clock.now = start + 0.07  # 0.01, 0.03, 0.06
    assert gen.step() == 3
    clock.now = start + 1.0  # all six edges of three repetitions: 6 mod 4
    assert gen.step() == 2
    _, f, _ = gen.output_at(start + np.array([0.005, 0.015, 0.035, 0.065, 0.085]))
    assert f.tolist() == [2.85e9, 2.86e9, 2.87e9, 2.88e9, 2.85e9]


def test_a_stopped_or_replaced_run_gives_no_more_edges():
    clock, gen, sequencer = setup()
    gen.set_sweep(Sweep(2.8e9, 2.9e9, 101))
    gen.set_trigger(TriggerSource.EXTERNAL)
    gen.set_mode(Mode.SWEEP)
    start = clock.now + 1.0
    run = trigger_train(start, [0.0], length=0.01, reps=1000)
    sequencer.playback = run
    clock.now = start + 0.0305  # edges at 0, 0.01, 0.02, 0.03
    assert gen.step() == 4
    sequencer.playback = Playback(run.sequence, run.start, run.repetitions, stopped=clock.now)
    clock.now += 1.0
    assert gen.step() == 4
    sequencer.playback = trigger_train(clock.now, [0.0], length=0.01, reps=2)
    clock.now += 1.0
    assert gen.step() == 6


def test_rising_edges_of_touching_pulses_count_once_also_across_repetitions():
    seq = Sequence((Pulse("spare", 0.0, 1e-3), Pulse("spare", 1e-3, 1e-3),
                    Pulse("spare", 5e-3, 5e-3)), 10e-3)
    run = Playback(seq, 0.0, 10)
    # first repetition: edges at 0 and 5 ms; later ones only at 5 ms (high from 5 ms to 12 ms)
    assert edges_until(run, "spare", np.array([0.004, 0.006, 0.0995]), np.inf).tolist() == \
        [1, 2, 11]
    assert edges_until(run, "spare", np.array([1.0]), 0.05).tolist() == [6]
    assert edges_until(run, "gate", np.array([1.0]), np.inf).tolist() == [0]


def test_open_driver_links_the_mw_and_rf_sections_of_one_world(world):
    mw = open_driver(str(world))
    rf = open_driver(f"{world}#rf")
    shared = mw.world
    assert rf.world is shared and shared.links.mw is mw and shared.links.rf is rf
    assert mw.constraints.frequency_max == 6.0e9 and rf.constraints.frequency_max == 12.75e9
    with pytest.raises(ValueError, match="SignalGeneratorSpec"):
        open_driver(f"{world}#laser")


def test_world_refuses_a_trigger_channel_the_sequencer_does_not_have():
    data = generator_world()
    data["instruments"]["mw"]["trigger_channel"] = "aux"
    with pytest.raises(WorldError, match="instruments.mw: trigger_channel 'aux'"):
        parse_world(yaml.safe_dump(data))
    data = generator_world()
    data["instruments"]["rf"]["initial_frequency"] = 13e9
    with pytest.raises(WorldError, match="instruments.rf: initial_frequency 1.3e"):
        parse_world(yaml.safe_dump(data))


# --- Tango device on the simulator ---------------------------------------------------------

def test_generator_starts_off_and_puts_out_what_it_is_told(world):
    with device(SignalGenerator, f"sim:{world}#mw") as gen:
        assert gen.state() == tango.DevState.OFF and gen.output is False
        assert gen.get_attribute_config("frequency").unit == "Hz"
        assert float(gen.get_attribute_config("frequency").max_value) == MW.frequency_max
        assert float(gen.get_attribute_config("power").max_value) == MW.power_max
        gen.frequency = 2.88e9
        gen.power_dbm = -10.0
        assert gen.power == pytest.approx(1e-4)
        gen.power = 2e-3
        assert gen.power_dbm == pytest.approx(3.0103, abs=1e-4)
        gen.phase = 1.0
        gen.output = True
        assert gen.state() == tango.DevState.ON
        assert (gen.frequency, gen.phase, gen.step) == (2.88e9, 1.0, -1)
        assert "output on" in gen.status()
        gen.SafeState()
        assert gen.state() == tango.DevState.OFF and gen.frequency == 2.88e9


def test_generator_refuses_bad_values_and_keeps_every_setting(world):
    with device(SignalGenerator, f"sim:{world}#mw") as gen:
        gen.list_frequencies = [2.86e9, 2.88e9]
        names = ("frequency", "power", "phase", "mode", "sweep_start", "sweep_stop",
                 "sweep_points", "dwell", "trigger_source", "output")
        before = {n: gen.read_attribute(n).value for n in names}
        lists = (gen.list_frequencies.tolist(), gen.list_powers.tolist())
        bad = [("frequency", 7e9, "API_WAttrOutsideLimit"),
               ("power", math.nan, "API_WAttrOutsideLimit"),
               ("power_dbm", 30.0, "API_WAttrOutsideLimit"),
               ("phase", math.inf, "API_WAttrOutsideLimit"),
               ("mode", 3, "API_WAttrOutsideLimit"),
               ("sweep_points", 5000, "API_WAttrOutsideLimit"),
               ("dwell", 0.0, "API_WAttrOutsideLimit"),
               ("list_frequencies", [2.8e9] * 2001, "NANOMRI_LIST_LENGTH"),
               ("list_frequencies", [2.8e9, math.nan], "API_WAttrOutsideLimit"),
               ("list_powers", [1e-3, 1e-3, 1e-3], "NANOMRI_LIST_LENGTH")]
        for name, value, why in bad:
            with pytest.raises(tango.DevFailed) as exc:
                gen.write_attribute(name, value)
            assert reason(exc) == why, name
        with pytest.raises(tango.DevFailed) as exc:
            gen.Trigger()
        assert reason(exc) == "NANOMRI_NOT_ARMED" and "SOFTWARE" in exc.value.args[0].desc
        assert {n: gen.read_attribute(n).value for n in names} == before
        assert (gen.list_frequencies.tolist(), gen.list_powers.tolist()) == lists


def test_list_mode_is_running_and_steps_on_software_triggers(world):
    with device(SignalGenerator, f"sim:{world}#mw") as gen:
        gen.set_source(tango.DevSource.DEV)  # `step` is polled: read it fresh, not cached
        with pytest.raises(tango.DevFailed) as exc:
            gen.mode = Mode.LIST
        assert reason(exc) == "NANOMRI_NO_LIST"
        gen.list_frequencies = [2.86e9, 2.87e9, 2.88e9]
        gen.list_powers = [1e-3, 2e-3, 1e-3]
        gen.trigger_source = TriggerSource.SOFTWARE
        gen.mode = Mode.LIST
        gen.output = True
        assert gen.state() == tango.DevState.RUNNING and gen.step == 0
        gen.Trigger()
        gen.Trigger()
        assert gen.step == 2
        gen.Trigger()
        assert gen.step == 0
        gen.Trigger()
        gen.Restart()
        assert gen.step == 0
        gen.list_frequencies = [2.85e9, 2.86e9]  # a new length: every point at `power`
        assert gen.list_powers.tolist() == [gen.power] * 2
        gen.Stop()
        assert gen.state() == tango.DevState.OFF and gen.mode == Mode.LIST


def test_mw_and_rf_in_one_server_have_their_own_limits(world):
    info = [{"class": SignalGenerator, "devices": [
        {"name": "lab/setup/mw", "properties": {"Driver": f"sim:{world}#mw"}},
        {"name": "lab/setup/rf", "properties": {"Driver": f"sim:{world}#rf"}}]}]
    with multi(info) as context:
        mw, rf = context.get_device("lab/setup/mw"), context.get_device("lab/setup/rf")
        rf.set_source(tango.DevSource.DEV)
        rf.frequency = 10e9
        with pytest.raises(tango.DevFailed) as exc:
            mw.frequency = 10e9
        assert reason(exc) == "API_WAttrOutsideLimit"
        assert (mw.frequency, rf.frequency) == (MW.initial_frequency, 10e9)
        rf.sweep_start, rf.sweep_stop, rf.sweep_points = 1e6, 2e6, 11
        rf.dwell = 1e-3
        rf.mode = Mode.SWEEP
        rf.output = True
        assert rf.state() == tango.DevState.RUNNING and mw.state() == tango.DevState.OFF
        assert 0 <= rf.step < 11


# --- the R&S SCPI driver on pyvisa-sim ------------------------------------------------------

def test_scpi_driver_converts_units_and_raises_the_instruments_refusals():
    gen = open_visa(VISA_DRIVER)
    assert gen.model == "SMB100A"
    assert gen.constraints.power_max == pytest.approx(dbm_to_watt(18.0))
    gen.set_power(1e-3)
    gen.set_phase(math.pi)
    assert gen.power() == 1e-3 and gen.phase() == pytest.approx(math.pi)
    gen.set_frequency(2.87e9)
    with pytest.raises(Refused) as exc:
        gen.set_frequency(7e9)
    assert exc.value.reason == "OUT_OF_RANGE" and "Data out of range" in str(exc.value)
    assert gen.frequency() == 2.87e9
    gen.set_list([2.8e9, 2.9e9], [1e-3, 1e-2])
    assert gen.list_frequencies().tolist() == [2.8e9, 2.9e9]
    assert gen.list_powers() == pytest.approx([1e-3, 1e-2])
    gen.set_mode(Mode.LIST)
    gen.set_trigger(TriggerSource.EXTERNAL)
    assert (gen.mode(), gen.trigger(), gen.step()) == (Mode.LIST, TriggerSource.EXTERNAL, 0)


def test_scpi_generator_through_the_device_sets_reads_back_and_refuses():
    with device(SignalGenerator, f"visa:{VISA}") as gen:
        gen.set_source(tango.DevSource.DEV)
        assert gen.state() == tango.DevState.OFF
        assert float(gen.get_attribute_config("frequency").max_value) == 6e9
        gen.frequency = 2.87e9
        gen.power = 1e-3
        gen.output = True
        assert (gen.frequency, gen.power, gen.output) == (2.87e9, 1e-3, True)
        assert gen.state() == tango.DevState.ON
        with pytest.raises(tango.DevFailed) as exc:
            gen.frequency = 7e9
        assert reason(exc) == "API_WAttrOutsideLimit"
        with pytest.raises(tango.DevFailed) as exc:
            gen.sweep_points = 1
        assert reason(exc) == "API_WAttrOutsideLimit"
        gen.sweep_start, gen.sweep_stop, gen.sweep_points = 2.8e9, 2.9e9, 51
        gen.trigger_source = TriggerSource.SOFTWARE
        gen.mode = Mode.SWEEP
        assert gen.state() == tango.DevState.RUNNING
        gen.Trigger()
        assert gen.step == 1
        assert (gen.frequency, gen.sweep_points) == (2.87e9, 51)
        gen.Stop()
        assert gen.state() == tango.DevState.OFF and gen.output is False


def test_an_unreachable_instrument_is_a_fault_naming_it():
    with device(SignalGenerator, f"visa:TCPIP0::localhost::inst9::INSTR|{SIM_VISA}") as gen:
        assert gen.state() == tango.DevState.FAULT
        assert "inst9" in gen.status()
        with pytest.raises(tango.DevFailed) as exc:
            gen.output = True
        assert reason(exc) == "NANOMRI_NO_DRIVER"
