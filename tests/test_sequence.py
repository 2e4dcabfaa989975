"""Pulse sequences as data (checks, JSON) and the playback record of what a sequencer played."""

import json

import numpy as np
import pytest

from nanomri.nv_sequences import MEASUREMENTS, Times, measurement, sweep_point
from nanomri.sequence import CHANNELS, Pulse, Sequence, SequenceError, check
from nanomri.simulators.playback import Playback

RATE, GRAIN, MEMORY = 1e9, 2, 10_000  # 2 ns grid, 10 000 run-length-encoded steps
NS = 1e-9


def odmr_like() -> Sequence:
    """3 µs laser + gate, a 1 µs MW pulse after it, in a 5 µs repetition."""
    return Sequence((Pulse("laser", 0.0, 3e-6), Pulse("gate", 0.2e-6, 0.3e-6),
                     Pulse("mw", 3.5e-6, 1e-6), Pulse("gate", 2.5e-6, 0.3e-6)), 5e-6)


def refusal(seq: Sequence) -> str:
    with pytest.raises(SequenceError) as exc:
        check(seq, RATE, GRAIN, MEMORY)
    return str(exc.value)


def test_a_playable_sequence_counts_its_run_length_encoded_steps():
    # edges inside the repetition at 0.2, 0.5, 2.5, 2.8, 3, 3.5, 4.5 µs: 8 segments
    assert check(odmr_like(), RATE, GRAIN, MEMORY) == 8
    assert check(Sequence((), 2 * NS), RATE, GRAIN, MEMORY) == 1


def test_edges_that_coincide_on_two_channels_are_one_step_boundary():
    seq = Sequence((Pulse("laser", 0.0, 100 * NS), Pulse("gate", 50 * NS, 50 * NS),
                    Pulse("mw", 100 * NS, 50 * NS), Pulse("rf", 200 * NS, 100 * NS)), 400 * NS)
    # [0, 50) laser, [50, 100) laser + gate, [100, 150) mw, [150, 200) low,
    # [200, 300) rf, [300, 400) low: the edges at 100 ns of laser, gate and mw are one
    assert check(seq, RATE, GRAIN, MEMORY) == 6
    assert check(seq, RATE, GRAIN, 6) == 6


def test_a_long_repetition_with_few_edges_fits_whatever_its_length():
    assert check(Sequence((Pulse("gate", 1.0, 2.0),), 100.0), RATE, GRAIN, 3) == 3


def test_sequence_survives_json_exactly():
    seq = odmr_like()
    assert Sequence.from_json(seq.to_json()) == seq
    assert json.loads(seq.to_json())["length"] == 5e-6


def test_windows_of_a_channel_come_in_time_order():
    w = odmr_like().windows("gate")
    np.testing.assert_allclose(w, [[0.2e-6, 0.5e-6], [2.5e-6, 2.8e-6]])
    assert odmr_like().windows("camera").shape == (0, 2)


def test_overlapping_pulses_on_one_channel_are_refused_naming_both():
    seq = Sequence((Pulse("mw", 0.0, 100 * NS), Pulse("mw", 50 * NS, 100 * NS)), 1e-6)
    message = refusal(seq)
    assert "pulses on mw overlap" in message and "[0, 1e-07]" in message


def test_touching_pulses_and_pulses_on_different_channels_may_coincide():
    seq = Sequence((Pulse("mw", 0.0, 100 * NS), Pulse("mw", 100 * NS, 100 * NS),
                    Pulse("laser", 0.0, 200 * NS)), 1e-6)
    assert check(seq, RATE, GRAIN, MEMORY) == 3  # edges at 100 ns (touching) and 200 ns


def test_pulse_shorter_than_the_granularity_is_refused_naming_it():
    message = refusal(Sequence((Pulse("laser", 0.0, 1 * NS),), 1e-6))
    assert "not a multiple of the granularity 2e-09 s" in message
    message = refusal(Sequence((Pulse("laser", 0.0, 0.0),), 1e-6))
    assert "duration must be at least 2e-09 s" in message


def test_edges_off_the_grid_are_refused():
    assert "pulse 0 start = 3e-09 s is not a multiple" in refusal(
        Sequence((Pulse("laser", 3 * NS, 4 * NS),), 1e-6))
    assert "length = 1.001e-06 s is not a multiple" in refusal(Sequence((), 1001 * NS))


def test_sequence_of_more_steps_than_the_memory_is_refused_naming_both():
    gates = tuple(Pulse("gate", (4 * k + 2) * NS, 2 * NS) for k in range(5000))
    seq = Sequence(gates, 20_002 * NS)  # 10 000 edges inside: 10 001 steps
    with pytest.raises(SequenceError) as exc:
        check(seq, RATE, GRAIN, MEMORY)
    assert "sequence of 10001 steps exceeds the memory of 10000 steps" in str(exc.value)
    assert check(Sequence(gates[:-1], 20_002 * NS), RATE, GRAIN, MEMORY) == 9999


def test_times_of_a_ten_second_repetition_computed_in_floats_stay_on_a_1_ns_grid():
    gates = tuple(Pulse("gate", k * 1e-3 + 0.25e-3, 0.5e-3) for k in range(10_000))
    assert check(Sequence(gates, 10.0), 1e9, 1, 2**20) == 20_001
    late = Sequence((Pulse("gate", 8.00025 + 0.5 * NS, 0.5e-3),), 10.0)
    with pytest.raises(SequenceError, match="not a multiple of the granularity 1e-09 s"):
        check(late, 1e9, 1, 2**20)


def test_unknown_channel_is_refused_naming_the_channels():
    message = refusal(Sequence((Pulse("trigger", 0.0, 2 * NS),), 1e-6))
    assert "unknown channel 'trigger'" in message and str(CHANNELS) in message


def test_pulse_outside_the_repetition_and_non_positive_length_are_refused():
    assert "outside the repetition [0, 1e-06] s" in refusal(
        Sequence((Pulse("laser", 900 * NS, 200 * NS),), 1e-6))
    assert "outside the repetition" in refusal(Sequence((Pulse("laser", -2 * NS, 4 * NS),), 1e-6))
    assert "length must be positive" in refusal(Sequence((), 0.0))


def test_times_too_large_for_any_grid_are_refused_not_crashed():
    assert "beyond any sequencer's time grid" in refusal(Sequence((), 1e300))
    assert "beyond" in refusal(Sequence((Pulse("mw", 1e305, 2 * NS),), 1e-6))
    assert "beyond" in refusal(Sequence((), 1e6))  # 5e14 steps of 2 ns: floats lose the grid


@pytest.mark.parametrize("text, words", [
    ("{", "not valid JSON"),
    ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
    ('{"length": 1' + "0" * 5000 + ', "pulses": []}', "not valid JSON"),
    ("[]", 'exactly "length" and "pulses"'),
    ('{"length": 1e-6}', 'exactly "length" and "pulses"'),
    ('{"length": 1e-6, "pulses": {}}', '"pulses" must be a list'),
    ('{"length": NaN, "pulses": []}', "length must be a finite number"),
    ('{"length": true, "pulses": []}', "length must be a finite number"),
    ('{"length": "1e-6", "pulses": []}', "length must be a finite number"),
    ('{"length": ' + "9" * 400 + ', "pulses": []}', "length must be a finite number"),
    ('{"length": 1e-6, "pulses": [{"channel": "mw", "start": 0}]}', "pulse 0 must have"),
    ('{"length": 1e-6, "pulses": [{"channel": "mw", "start": 0, "duration": Infinity}]}',
     "pulse 0 duration must be a finite number"),
])
def test_malformed_json_is_a_sequence_error_naming_the_problem(text, words):
    with pytest.raises(SequenceError, match=words):
        Sequence.from_json(text)


def test_integer_times_in_json_are_seconds():
    seq = Sequence.from_json('{"length": 1, "pulses": [{"channel": "mw", "start": 0, '
                             '"duration": 1}]}')
    assert seq.length == 1.0 and seq.pulses[0].end == 1.0


# Playback: what a sequencer played, from world time `start`.

def test_playback_counts_repetitions_completed_by_a_time():
    run = Playback(odmr_like(), start=10.0, repetitions=4)
    assert run.end == pytest.approx(10.0 + 20e-6)
    assert run.completed(9.0) == 0
    assert run.completed(10.0 + 4.9e-6) == 0
    assert run.completed(10.0 + 5.1e-6) == 1
    assert run.completed(10.0 + 19.9e-6) == 3
    assert run.completed(11.0) == 4


def test_playback_windows_are_the_gates_of_completed_repetitions_in_world_time():
    run = Playback(odmr_like(), start=10.0, repetitions=4)
    w = run.windows("gate", 10.0 + 11e-6)
    assert w.shape == (4, 2)  # two repetitions of two gates
    np.testing.assert_allclose(w[:, 0] - 10.0, [0.2e-6, 2.5e-6, 5.2e-6, 7.5e-6], atol=1e-12)
    np.testing.assert_allclose(w[:, 1] - w[:, 0], 0.3e-6, atol=1e-12)
    assert run.windows("camera", 11.0).shape == (0, 2)


def test_playback_says_which_channel_is_high_when():
    run = Playback(odmr_like(), start=10.0, repetitions=2)
    times = 10.0 + np.array([-1e-6, 1e-6, 3.2e-6, 4e-6, 6e-6, 11e-6])
    np.testing.assert_array_equal(run.high("laser", times), [0, 1, 0, 0, 1, 0])
    np.testing.assert_array_equal(run.high("mw", times), [0, 0, 0, 1, 0, 0])


def test_a_stopped_playback_ends_when_stopped_and_plays_nothing_after():
    run = Playback(odmr_like(), start=10.0, repetitions=1000, stopped=10.0 + 12e-6)
    assert run.end == 10.0 + 12e-6
    assert run.completed(20.0) == 2
    assert run.windows("gate", 20.0).shape == (4, 2)
    assert not run.high("laser", np.array([10.0 + 15.5e-6])).any()


def test_a_playback_stopped_before_its_start_played_nothing():
    run = Playback(odmr_like(), start=10.0, repetitions=5, stopped=9.999)
    assert run.completed(20.0) == 0
    assert run.windows("laser", 20.0).shape == (0, 2)
    assert not run.high("laser", np.array([10.0 + 1e-6])).any()


def test_each_nv_measurement_is_built_from_its_times():
    times = Times(tau=2e-6, mw_pulse=70e-9, pi=40e-9, pi_half=20e-9, rf_pi=150e-9)
    mw = {name: measurement(name, times).windows("mw")[:, 1] - measurement(name, times)
          .windows("mw")[:, 0] for name in MEASUREMENTS}
    assert np.allclose(mw["rabi"], [70e-9]) and np.allclose(mw["odmr"], [40e-9])
    assert np.allclose(mw["ramsey"], [20e-9, 20e-9])
    assert np.allclose(mw["echo"], [20e-9, 40e-9, 20e-9])
    rf = measurement("deer", times).windows("rf")
    assert np.allclose(rf[:, 1] - rf[:, 0], [150e-9])
    assert len(measurement("echo", times).windows("rf")) == 0
    assert all(len(measurement(name, times).windows("gate")) == 2 for name in MEASUREMENTS)
    # the free time is tau: a longer tau, a longer repetition
    longer = measurement("t1", Times(tau=5e-6)).length - measurement("t1", Times()).length
    assert longer == pytest.approx(4e-6)


@pytest.mark.parametrize("name, times, message", [
    ("hahn", Times(), "measurement must be one of"),
    ("ramsey", Times(tau=-1e-9), "finite and >= 0"),
    ("deer", Times(rf_pi=float("nan")), "finite and >= 0"),
])
def test_an_unknown_measurement_or_a_bad_time_is_refused(name, times, message):
    with pytest.raises(ValueError, match=message):
        measurement(name, times)


def test_a_sweep_point_settles_plays_its_repetitions_then_steps_the_generator():
    one = measurement("odmr", Times())
    point = sweep_point(one, 1000, 1e-3, "spare")
    assert check(point, 1e9, 1, 2**20) > 0  # every edge on the 1 ns grid, in memory
    gates = point.windows("gate")
    assert len(gates) == 2 * 1000
    assert np.allclose(gates[::2, 0] - gates[0, 0], one.length * np.arange(1000), atol=1e-12)
    assert gates[0, 0] == pytest.approx(1e-3)  # nothing is read while the generator settles
    (trigger,) = point.windows("spare")
    assert trigger[0] >= point.windows("laser")[-1, 1]  # the step after the last repetition
    assert trigger[1] == pytest.approx(point.length)


def test_a_sweep_point_refuses_a_trigger_on_a_channel_the_measurement_uses():
    with pytest.raises(ValueError, match="'mw' is used by the measurement"):
        sweep_point(measurement("odmr", Times()), 10, 1e-3, "mw")
    with pytest.raises(ValueError, match="at least 1 repetition"):
        sweep_point(measurement("odmr", Times()), 0, 1e-3, "spare")
