"""The simulated sequencer on a fake clock, and the PulseSequencer device in a test context."""

import time

import numpy as np
import pytest
import tango
import yaml

from nanomri.devices.sequencer import PulseSequencer
from nanomri.interfaces.errors import Refused
from nanomri.interfaces.scanner import PathMove
from nanomri.interfaces.sequencer import PositionGates, StartTrigger
from nanomri.sequence import Pulse, Sequence
from nanomri.simulators.drivers.scanner import SimScanner
from nanomri.simulators.drivers.sequencer import SimSequencer, open_driver
from nanomri.simulators.sim_world import SimWorld
from nanomri.world import load_world

from .fake_clock import FakeClock
from .tango_context import CONFOCAL, Events, device, reason, wait_while

MODEL = load_world(CONFOCAL)
SPEC = MODEL.instruments.sequencer  # 1 GSa/s, 2**20 steps, 1e7 steps/s + 20 ms, 1 ms start


def sim(**spec) -> tuple[FakeClock, SimSequencer]:
    """A simulated sequencer on a fake clock, with `spec` changed from the shipped world's."""
    clock = FakeClock()
    return clock, SimSequencer(SimWorld(MODEL, clock), SPEC.model_copy(update=spec))


def gated(length: float = 10e-6) -> Sequence:
    """Laser for the first 3 µs with a 300 ns gate at its start, MW in the middle."""
    return Sequence((Pulse("laser", 0.0, 3e-6), Pulse("gate", 0.0, 300e-9),
                     Pulse("mw", 4e-6, 100e-9)), length)


def loaded(clock: FakeClock, seq: Sequence, driver: SimSequencer) -> None:
    driver.load(seq)
    clock.now += 1.0
    assert not driver.is_uploading()


def refused(reason_: str, call, *args) -> str:
    with pytest.raises(Refused) as exc:
        call(*args)
    assert exc.value.reason == reason_
    return str(exc.value)


def gate_train(gates: int = 10_000, period: float = 1e-3) -> Sequence:
    """A pixel gate of half a period in the middle of every period: a confocal image's gates."""
    return Sequence(tuple(Pulse("gate", k * period + period / 4, period / 2)
                          for k in range(gates)), gates * period)


def test_upload_takes_latency_plus_steps_over_rate_and_blocks_run_until_done():
    clock, seq = sim(upload_latency=0.5, upload_rate=1e6)
    seq.load(gated(1e-3))  # 5 steps (edges at 0.3, 3, 4, 4.1 µs): 0.5 s + 5 µs
    upload = 0.5 + 5 / 1e6
    assert seq.is_uploading() and seq.upload_remaining() == pytest.approx(upload)
    assert "ready in 0.5 s" in refused("BUSY", seq.run)
    refused("BUSY", seq.load, gated())
    clock.now += upload - 1e-7
    assert seq.is_uploading()
    clock.now += 2e-7
    assert not seq.is_uploading() and seq.upload_remaining() == 0.0
    seq.run()
    assert seq.is_running()


def test_run_plays_after_the_start_latency_for_repetitions_times_length():
    clock, seq = sim()
    loaded(clock, gated(), seq)
    seq.set_repetitions(1000)
    t0 = clock.now
    seq.run()
    assert seq.playback.start == pytest.approx(t0 + SPEC.start_latency)
    assert seq.progress() == (0, 1000) and seq.is_running()
    clock.now = t0 + SPEC.start_latency + 2.55e-3
    assert seq.progress() == (255, 1000)
    assert len(seq.playback.windows("gate", clock.now)) == 255
    clock.now = t0 + SPEC.start_latency + 10e-3 - 1e-9
    assert seq.is_running()
    clock.now += 2e-9
    assert not seq.is_running() and seq.progress() == (1000, 1000)


def test_stop_ends_the_playback_now_with_every_channel_low_after():
    clock, seq = sim()
    loaded(clock, gated(), seq)
    seq.set_repetitions(10_000)
    seq.run()
    clock.now += SPEC.start_latency + 30.5e-6
    stopped = clock.now
    seq.stop()
    assert not seq.is_running()
    assert seq.playback.stopped == stopped and seq.progress() == (3, 10_000)
    clock.now += 1.0
    assert seq.progress() == (3, 10_000)
    later = stopped + np.arange(1, 1000) * 1e-6
    assert not seq.playback.high("laser", later).any()


def test_a_new_run_replaces_the_last_playback():
    clock, seq = sim()
    loaded(clock, gated(), seq)
    seq.run()
    first = seq.playback
    clock.now += 1.0
    seq.set_repetitions(7)
    seq.run()
    assert seq.playback is not first and seq.playback.repetitions == 7
    assert seq.progress() == (0, 7)


def test_busy_sequencer_refuses_load_repetitions_and_run_and_keeps_its_sequence():
    clock, seq = sim()
    loaded(clock, gated(), seq)
    seq.set_repetitions(100_000)
    seq.run()
    clock.now += 0.1
    assert "while running" in refused("BUSY", seq.load, gated(20e-6))
    refused("BUSY", seq.set_repetitions, 5)
    refused("BUSY", seq.run)
    assert seq.sequence() == gated() and seq.repetitions() == 100_000


def test_a_ten_second_train_of_10000_gates_loads_in_latency_plus_steps_over_rate():
    clock, seq = sim()
    train = gate_train()  # 20 000 edges inside the repetition: 20 001 steps
    seq.load(train)
    upload = SPEC.upload_latency + 20_001 / SPEC.upload_rate
    assert seq.upload_remaining() == pytest.approx(upload) and upload < 0.1
    clock.now += upload + 1e-6
    seq.run()
    clock.now += SPEC.start_latency + 10.0 + 1e-6
    assert seq.progress() == (1, 1)
    gates = seq.playback.windows("gate", clock.now)
    assert len(gates) == 10_000
    np.testing.assert_allclose(gates[-1] - seq.playback.start, [9.99925, 9.99975], atol=1e-12)


def test_refused_sequence_leaves_the_loaded_one_ready_to_run():
    clock, seq = sim(max_steps=20_000)
    loaded(clock, gated(), seq)
    overlapping = Sequence((Pulse("mw", 0.0, 1e-6), Pulse("mw", 0.5e-6, 1e-6)), 5e-6)
    assert "overlap" in refused("SEQUENCE", seq.load, overlapping)
    message = refused("SEQUENCE", seq.load, gate_train(15_000))  # 30 001 steps
    assert "sequence of 30001 steps exceeds the memory of 20000 steps" in message
    assert seq.sequence() == gated() and not seq.is_uploading()
    seq.run()
    assert seq.is_running()


def test_run_without_a_sequence_and_repetitions_out_of_range_are_refused():
    _, seq = sim()
    refused("NO_SEQUENCE", seq.run)
    assert seq.playback is None
    for bad in (0, SPEC.max_repetitions + 1):
        assert f"[1, {SPEC.max_repetitions}]" in refused("OUT_OF_RANGE", seq.set_repetitions, bad)
    assert seq.repetitions() == 1


def test_open_driver_links_itself_for_the_other_simulators():
    driver = open_driver(f"{CONFOCAL}#sequencer")
    assert driver.world.links.sequencer is driver
    assert open_driver(str(CONFOCAL)) is driver  # opened again: the same instrument
    with pytest.raises(ValueError, match="not a SequencerSpec"):
        open_driver(f"{CONFOCAL}#mw")


# The device, on the shipped confocal world (uploads of 20 ms, 1 GSa/s).

SHORT = gated(10e-6).to_json()


def load(sequencer: tango.DeviceProxy, text: str = SHORT) -> None:
    sequencer.Load(text)
    wait_while(sequencer, tango.DevState.MOVING)
    assert sequencer.state() == tango.DevState.ON


def test_device_describes_its_clock_memory_and_channels():
    with device(PulseSequencer) as sequencer:
        assert sequencer.state() == tango.DevState.OFF
        assert sequencer.sample_rate == SPEC.sample_rate
        assert sequencer.granularity == SPEC.granularity
        assert sequencer.granularity_time == pytest.approx(1e-9)
        assert sequencer.max_steps == SPEC.max_steps == 2**20
        assert sequencer.get_attribute_config("max_steps").unit == "steps"
        assert tuple(sequencer.channels) == ("laser", "mw", "rf", "gate", "camera", "spare")
        assert sequencer.sequence == "" and sequencer.length == 0.0
        config = sequencer.get_attribute_config("repetitions")
        assert (int(config.min_value), int(config.max_value)) == (1, SPEC.max_repetitions)
        assert sequencer.get_attribute_config("length").unit == "s"


def test_device_loads_runs_and_reports_progress_until_done():
    with device(PulseSequencer) as sequencer:
        load(sequencer)
        assert Sequence.from_json(sequencer.sequence) == gated()
        assert sequencer.length == 10e-6
        sequencer.repetitions = 50_000  # 0.5 s
        sequencer.Run()
        assert sequencer.state() == tango.DevState.RUNNING
        assert "of 50000 repetitions" in sequencer.status()
        wait_while(sequencer, tango.DevState.RUNNING)
        assert sequencer.state() == tango.DevState.ON
        assert sequencer.completed == 50_000 and sequencer.progress == 1.0
        assert sequencer.repetitions == 50_000


def test_device_stop_ends_a_run_part_way():
    with device(PulseSequencer) as sequencer:
        load(sequencer)
        sequencer.repetitions = 1_000_000  # 10 s
        sequencer.Run()
        time.sleep(0.1)
        sequencer.Stop()
        assert sequencer.state() == tango.DevState.ON
        done = sequencer.completed
        assert 0 < done < 1_000_000 and 0 < sequencer.progress < 1
        time.sleep(0.05)
        assert sequencer.completed == done
        sequencer.Run()
        sequencer.SafeState()
        assert sequencer.state() == tango.DevState.ON


def test_device_refuses_bad_sequences_and_keeps_the_loaded_one(tmp_path):
    bad = {
        "overlap": Sequence((Pulse("mw", 0.0, 1e-6), Pulse("mw", 0.5e-6, 1e-6)), 5e-6).to_json(),
        "granularity": Sequence((Pulse("laser", 0.0, 0.5e-9),), 5e-6).to_json(),
        "sequence of 201 steps exceeds the memory of 100 steps": gate_train(100).to_json(),
        "unknown channel 'trigger'": Sequence((Pulse("trigger", 0.0, 1e-6),), 5e-6).to_json(),
        "not valid JSON": '{"length": 1e-6, "pulses": [',
        'exactly "length" and "pulses"': "[1, 2, 3]",
    }
    with device(PulseSequencer, driver=changed_world(tmp_path, max_steps=100)) as sequencer:
        assert sequencer.max_steps == 100
        load(sequencer)
        before = sequencer.sequence
        for words, text in bad.items():
            with pytest.raises(tango.DevFailed) as exc:
                sequencer.Load(text)
            assert reason(exc) == "NANOMRI_SEQUENCE"
            assert words in exc.value.args[0].desc
            assert sequencer.sequence == before and sequencer.length == 10e-6
            assert sequencer.state() == tango.DevState.ON


def test_device_refuses_changes_while_running_and_nothing_changes():
    with device(PulseSequencer) as sequencer:
        load(sequencer)
        sequencer.repetitions = 1_000_000  # 10 s
        sequencer.Run()
        for call in (lambda: sequencer.Load(gated(20e-6).to_json()),
                     lambda: setattr(sequencer, "repetitions", 5), sequencer.Run):
            with pytest.raises(tango.DevFailed) as exc:
                call()
            assert reason(exc) == "NANOMRI_BUSY"
            assert "Stop it first" in exc.value.args[0].desc
        assert sequencer.state() == tango.DevState.RUNNING
        assert sequencer.repetitions == 1_000_000 and sequencer.length == 10e-6
        sequencer.Stop()


def test_device_refuses_repetitions_out_of_range_and_run_with_nothing_loaded():
    with device(PulseSequencer) as sequencer:
        for bad in (0, -3, 100_000_001):
            with pytest.raises(tango.DevFailed) as exc:
                sequencer.repetitions = bad
            assert reason(exc) == "API_WAttrOutsideLimit"
        assert sequencer.repetitions == 1
        with pytest.raises(tango.DevFailed) as exc:
            sequencer.Run()
        assert reason(exc) == "NANOMRI_NO_SEQUENCE"
        assert sequencer.state() == tango.DevState.OFF


def changed_world(tmp_path, **sequencer) -> str:
    """The confocal world with its sequencer section changed by `sequencer`."""
    data = yaml.safe_load(CONFOCAL.read_text())
    data["instruments"]["sequencer"].update(sequencer)
    path = tmp_path / "changed_sequencer.yaml"
    path.write_text(yaml.safe_dump(data))
    return f"sim:{path}"


def slow_upload_world(tmp_path, latency: float = 1.0) -> str:
    """The confocal world with uploads of `latency` seconds, long enough to be seen."""
    return changed_world(tmp_path, upload_latency=latency)


def test_device_is_moving_while_uploading_and_refuses_run_and_load_until_done(tmp_path):
    with device(PulseSequencer, driver=slow_upload_world(tmp_path)) as sequencer:
        sequencer.Load(SHORT)
        assert sequencer.state() == tango.DevState.MOVING
        assert "uploading" in sequencer.status()
        assert Sequence.from_json(sequencer.sequence) == gated()
        for call in (sequencer.Run, lambda: sequencer.Load(SHORT)):
            with pytest.raises(tango.DevFailed) as exc:
                call()
            assert reason(exc) == "NANOMRI_BUSY"
            assert "uploads" in exc.value.args[0].desc
        sequencer.repetitions = 3  # a setting for the next run may change meanwhile
        wait_while(sequencer, tango.DevState.MOVING)
        assert sequencer.state() == tango.DevState.ON
        sequencer.Run()


def test_device_pushes_state_and_progress_change_events(tmp_path):
    on, running = tango.DevState.ON, tango.DevState.RUNNING
    with device(PulseSequencer, driver=slow_upload_world(tmp_path, 0.3)) as sequencer:
        states = Events(sequencer, "State")
        completed = Events(sequencer, "completed")
        progress = Events(sequencer, "progress")
        sequencer.Load(SHORT)
        states.wait_until(lambda v: v[-1] == on)
        sequencer.repetitions = 1000  # 10 ms: over between two polls, still seen
        sequencer.Run()
        seen = states.wait_until(lambda v: v[-2:] == [running, on])
        assert seen == [tango.DevState.OFF, tango.DevState.MOVING, on, running, on]
        counts = completed.wait_until(lambda v: v[-1] == 1000)
        assert counts[0] == 0 and counts[-1] == 1000
        assert progress.wait_until(lambda v: v[-1] == 1.0)[0] == 0.0


def test_device_without_a_sequencer_section_is_in_fault_and_refuses_cleanly():
    with device(PulseSequencer, driver=f"sim:{CONFOCAL}#mw") as sequencer:
        assert sequencer.state() == tango.DevState.FAULT
        assert "not a SequencerSpec" in sequencer.status()
        for call in (sequencer.SafeState, sequencer.Run, lambda: sequencer.Load(SHORT)):
            with pytest.raises(tango.DevFailed) as exc:
                call()
            assert reason(exc) == "NANOMRI_NO_DRIVER"


def test_device_init_keeps_the_instruments_memory_and_restarts_its_events():
    with device(PulseSequencer) as sequencer:
        load(sequencer)
        sequencer.Init()
        states = Events(sequencer, "State")
        assert sequencer.state() == tango.DevState.ON  # the world kept the loaded sequence
        sequencer.Run()
        assert states.wait_until(lambda v: v[-2:] == [tango.DevState.RUNNING, tango.DevState.ON])


def test_armed_run_starts_on_the_stages_motion_start_after_its_delay():
    clock = FakeClock()
    world = SimWorld(MODEL, clock)
    seq, stage = SimSequencer(world, SPEC), SimScanner(world)
    loaded(clock, gated(), seq)
    seq.set_start(StartTrigger.STAGE_MOTION, 2e-3)
    seq.run()
    assert seq.is_running() and seq.playback is None  # armed, waiting
    assert seq.trigger_lag() is None  # not timed before a triggered run
    assert "trigger" in refused("BUSY", seq.load, gated())
    clock.now += 0.5
    stage.move_to("x", 20e-6)
    assert seq.playback.start == pytest.approx(clock.now + SPEC.start_latency + 2e-3)
    assert seq.trigger_lag() == pytest.approx(seq.playback.start - clock.now - 2e-3)
    stage.move_to("y", 20e-6)  # a later move does not restart it
    assert seq.playback.start == pytest.approx(clock.now + SPEC.start_latency + 2e-3)


def test_start_settings_are_refused_out_of_range_or_while_armed():
    clock, seq = sim()
    loaded(clock, gated(), seq)
    refused("OUT_OF_RANGE", seq.set_start, StartTrigger.IMMEDIATE, -1.0)
    seq.set_start(StartTrigger.STAGE_MOTION, 0.0)
    seq.run()
    refused("BUSY", seq.set_start, StartTrigger.IMMEDIATE, 0.0)
    seq.stop()
    assert not seq.is_running() and seq.start() == (StartTrigger.STAGE_MOTION, 0.0)


# --- gates in the position domain: the stage's position comparator

def stage_and_sequencer() -> tuple[FakeClock, SimWorld, SimSequencer, SimScanner]:
    clock = FakeClock()
    world = SimWorld(MODEL, clock)
    return clock, world, SimSequencer(world, SPEC), SimScanner(world)


def test_position_gates_open_where_the_stage_is_even_in_its_acceleration_ramp():
    clock, world, seq, stage = stage_and_sequencer()
    x0 = stage.position("x")
    opens = x0 + 10e-9 + 50e-9 * np.arange(20)  # the first µm: mostly the ramp to cruise
    seq.load_position_gates(PositionGates("x", tuple((a, a + 40e-9) for a in opens)))
    seq.run()
    assert seq.is_running() and seq.playback is None  # armed for the stage's next move
    clock.now += 0.5
    stage.move_to("x", x0 + 5e-6)
    gates = seq.playback.windows("gate", clock.now + 1.0)
    path = world.paths["x"]
    assert gates.shape == (20, 2)
    assert np.allclose(path.position(gates[:, 0]), opens, rtol=0, atol=1e-12)
    assert np.allclose(path.position(gates[:, 1]), opens + 40e-9, rtol=0, atol=1e-12)
    # times for the cruise speed from the motion start would open the first gate ~10 nm early
    cruise = x0 + stage.velocity("x") * (gates[0, 0] - path.starts[0])
    assert cruise - opens[0] > 5e-9


def test_position_gates_stop_at_the_first_window_the_stage_never_reaches():
    clock, world, seq, stage = stage_and_sequencer()
    x0 = stage.position("x")
    windows = ((x0 + 1e-7, x0 + 2e-7), (x0 + 3e-7, x0 + 4e-7), (x0 + 9e-6, x0 + 10e-6))
    seq.load_position_gates(PositionGates("x", windows))
    seq.run()
    stage.move_to("x", x0 + 1e-6)
    clock.now += 1.0
    assert len(seq.playback.windows("gate", clock.now)) == 2 and not seq.is_running()


def test_position_gates_open_only_when_the_stage_heads_for_their_closing_edge():
    clock, world, seq, stage = stage_and_sequencer()
    x0 = stage.position("x")
    forward, backward = (x0 + 2e-7, x0 + 3e-7), (x0 + 3e-7, x0 + 2e-7)
    seq.load_position_gates(PositionGates("x", (forward, forward, backward)))
    seq.run()
    stage.load_path([PathMove("x", 0.0, x0 + 1e-6, 1e-4), PathMove("x", 0.1, x0, 1e-4),
                     PathMove("x", 0.2, x0 + 1e-6, 1e-4), PathMove("x", 0.3, x0, 1e-4)])
    stage.run_path()
    clock.now += 1.0
    gates = seq.playback.windows("gate", clock.now)
    path = world.paths["x"]
    starts = path.position(gates[:, 0])
    # out, back (passing the first edge the wrong way opens nothing), out again, back again
    assert np.allclose(starts, [forward[0], forward[0], backward[0]], rtol=0, atol=1e-12)
    assert [path.velocity(t) > 0 for t in gates[:, 0]] == [True, True, False]
    assert gates[1, 0] - seq.playback.start > 0.2 and gates[2, 0] - seq.playback.start > 0.3


def test_position_gates_the_comparator_cannot_take_are_refused_and_a_sequence_replaces_them():
    clock, world, seq, stage = stage_and_sequencer()
    for gates, words in [
        (PositionGates("q", ((0.0, 1e-6),)), "stage axis"),
        (PositionGates("x", ((0.0, float("nan")),)), "gate 0"),
        (PositionGates("x", ((1e-6, 1e-6),)), "two different"),
        (PositionGates("x", ()), "1 to"),
    ]:
        assert words in refused("SEQUENCE", seq.load_position_gates, gates)
    assert seq.position_gates() is None
    seq.load_position_gates(PositionGates("x", ((0.0, 1e-6),)))
    loaded(clock, gated(), seq)
    assert seq.position_gates() is None and seq.sequence() == gated()


def test_device_loads_position_gates_as_json_and_refuses_bad_ones():
    with device(PulseSequencer) as sequencer:
        for text, words in [('{"axis": "x"}', "windows"), ("[1, 2]", "JSON"),
                            ('{"axis": "x", "windows": [[0, 1, 2]]}', "JSON"),
                            ('{"axis": "w", "windows": [[0, 1e-6]]}', "stage axis")]:
            with pytest.raises(tango.DevFailed) as exc:
                sequencer.LoadPositionGates(text)
            assert reason(exc) == "NANOMRI_SEQUENCE" and words in exc.value.args[0].desc
        sequencer.LoadPositionGates('{"axis": "x", "windows": [[1e-5, 1.01e-5]]}')
        assert sequencer.sequence == ""
        sequencer.Run()
        assert sequencer.state() == tango.DevState.RUNNING  # armed for the stage's next move
        assert "1 position gates on the stage's x" in sequencer.status()
        sequencer.Stop()
        assert sequencer.state() == tango.DevState.ON


def test_position_gates_back_to_back_stay_one_gate_each():
    """Sardana's ascanct with no latency asks for gates that touch: each is counted alone."""
    clock, world, seq, stage = stage_and_sequencer()
    clock.now = 51407.6  # a day of uptime: the clock's rounding is ~1e-11 s
    x0 = stage.position("x")
    edges = x0 + 1e-6 + 20e-9 * np.arange(11)
    seq.load_position_gates(PositionGates("x", tuple(zip(edges[:-1], edges[1:], strict=True))))
    seq.run()
    stage.move_to("x", x0 + 2e-6)
    clock.now += 1.0
    gates = seq.playback.windows("gate", clock.now)
    assert len(gates) == 10 and np.all(gates[1:, 0] > gates[:-1, 1])
    np.testing.assert_allclose(world.paths["x"].position(gates[:, 0]), edges[:-1], atol=1e-12)
