"""The drift tracker against a simulated drift: registrations of a feature with noise, the
compensation integrating the estimates it sets and bringing back the offset it tells after
each."""

import numpy as np
import pytest

from nanomri.drift_tracking import MAX_DRIFT, DriftTracker, Registration

DRIFT = np.array([3e-12, -2e-12, 1e-12])  # m/s: the confocal world's
NOISE = 0.1e-9  # m: a registration's error per axis
EVERY = 60.0  # s between registrations


def tracked(registrations: int, seed: int, start: np.ndarray, drift=DRIFT):
    """The feature's displacements from its reference (true, before each registration) and
    the tracker, with the compensation integrating the estimates the tracker set and the
    offsets it told brought back after each registration."""
    rng = np.random.default_rng(seed)
    tracker, compensation, estimate = DriftTracker(), np.zeros(3), np.zeros(3)
    misplaced = []
    for k in range(registrations):
        t = k * EVERY
        if k:
            compensation = compensation + estimate * EVERY
        true = start + drift * t - compensation
        misplaced.append(true)
        estimate = tracker.register(t, true + rng.normal(0, NOISE, 3), np.full(3, NOISE),
                                    compensation)
        compensation = compensation + tracker.offset(t, compensation)
    return np.array(misplaced), tracker


def test_tracking_brings_the_feature_back_and_holds_it_within_the_registrations_noise():
    misplaced, tracker = tracked(20, seed=1, start=np.array([1e-9, -0.5e-9, 0.3e-9]))
    # untracked, the sample drifts 3.6 nm along x in 20 minutes
    assert np.abs(misplaced[0]).max() == pytest.approx(1e-9)
    assert np.sqrt(np.mean(misplaced[10:] ** 2)) < 2 * NOISE
    assert np.abs(DRIFT * 19 * EVERY).max() > 10 * 2 * NOISE
    assert tracker.velocity() == pytest.approx(DRIFT, abs=1.5 * NOISE / EVERY)
    assert len(tracker.log) == 20


def test_a_drift_that_turns_is_followed_by_the_recent_registrations():
    rng = np.random.default_rng(2)
    tracker, compensation, estimate = DriftTracker(), np.zeros(3), np.zeros(3)
    left = []
    for k in range(30):
        t = k * EVERY
        if k:
            compensation = compensation + estimate * EVERY
        drifted = DRIFT * min(t, 900) - DRIFT * max(t - 900, 0)  # reverses at 15 min
        true = drifted - compensation
        left.append(true)
        estimate = tracker.register(t, true + rng.normal(0, NOISE, 3), np.full(3, NOISE),
                                    compensation)
        compensation = compensation + tracker.offset(t, compensation)
    assert tracker.velocity() == pytest.approx(-DRIFT, abs=1.5 * NOISE / EVERY)
    assert np.sqrt(np.mean(np.array(left[-8:]) ** 2)) < 2 * NOISE


@pytest.mark.parametrize("args, message", [
    ((10.0, [0, 0, np.nan], [1e-10] * 3, [0, 0, 0]), "displacement"),
    ((10.0, [0, 0, 0], [1e-10, 0, 1e-10], [0, 0, 0]), "errors must be positive"),
    ((10.0, [0, 0, 0], [1e-10] * 3, [0, 0]), "compensation"),
    ((5.0, [0, 0, 0], [1e-10] * 3, [0, 0, 0]), "not after the last one"),
])
def test_a_bad_registration_is_refused_by_name_and_the_log_is_kept(args, message):
    tracker = DriftTracker()
    tracker.register(5.0, np.zeros(3), np.full(3, 1e-10), np.zeros(3))
    with pytest.raises(ValueError, match=message):
        tracker.register(*args)
    assert len(tracker.log) == 1


def test_a_tracker_rebuilt_from_its_kept_log_sets_the_same_estimate():
    _, tracker = tracked(6, seed=5, start=np.zeros(3))
    kept = [r.as_dict() for r in tracker.log]
    again = DriftTracker(log=[Registration.from_dict(r) for r in kept])
    args = (6 * EVERY, np.full(3, 1e-10), np.full(3, NOISE), np.zeros(3))
    assert np.array_equal(again.register(*args), tracker.register(*args))
    with pytest.raises(ValueError, match="lacks error"):
        Registration.from_dict({k: v for k, v in kept[0].items() if k != "error"})


def test_the_estimate_is_bounded_by_what_thermal_drift_does():
    tracker = DriftTracker()
    tracker.register(0.0, np.zeros(3), np.full(3, NOISE), np.zeros(3))
    estimate = tracker.register(EVERY, [100e-9, -1e-9, 0.0], np.full(3, NOISE), np.zeros(3))
    assert estimate[0] == MAX_DRIFT and -MAX_DRIFT < estimate[1] < 0


def test_the_offset_told_is_where_the_drift_has_taken_the_feature_less_the_compensation():
    _, tracker = tracked(12, seed=3, start=np.zeros(3))
    later, compensation = 12 * EVERY + 30.0, np.array([1e-9, 2e-9, -1e-9])
    # the feature's place in the piezos' frame is the drift since the start
    assert tracker.offset(later, compensation) == pytest.approx(
        DRIFT * later - compensation, abs=2 * NOISE)
    assert np.array_equal(DriftTracker().offset(later, compensation), np.zeros(3))
    with pytest.raises(ValueError, match="compensation"):
        tracker.offset(later, [0.0, 0.0])
