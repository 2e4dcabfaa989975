"""The NV spin under the standard sequences behaves as the textbook and the seeds say."""

import numpy as np
import pytest

from nanomri import nv_sequences as sq
from nanomri import nv_spin as nv

SPIN = nv.SpinProperties(t1=3.3e-3, t2=50e-6, t2_star=2e-6, contrast=0.3, polarisation=0.9,
                         pumping_time=0.2e-6, rabi_per_sqrt_watt=1e8)
POWER = 1e-2  # W: 10 MHz Rabi frequency
SATURATION = 0.5
RABI = float(nv.rabi_frequency(POWER, SPIN))


def ratio(seq, detuning=0.0, spin=SPIN, rabi=RABI, dephasing=None) -> np.ndarray:
    """Signal gate over reference gate, per detuning."""
    readout = nv.steady_state(seq, np.atleast_1d(detuning), rabi, spin, SATURATION, dephasing)
    b = nv.gate_brightness(readout, seq.windows("gate"), spin.contrast)
    return b[:, 0] / b[:, 1]


def dominant_frequency(t: np.ndarray, y: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(y - y.mean(), n=16 * len(y)))
    return float(np.fft.rfftfreq(16 * len(y), t[1] - t[0])[np.argmax(spectrum)])


def test_transition_frequency_falls_by_28_ghz_per_tesla_from_2_87_ghz():
    assert nv.transition_frequency(0.0) == pytest.approx(2.87e9)
    assert nv.transition_frequency(0.1) == pytest.approx(2.87e9 - 2.8e9)
    assert nv.transition_frequency(0.12) == pytest.approx(0.49e9)  # past the level crossing


def test_rabi_oscillation_runs_at_the_rabi_frequency_of_the_mw_power():
    t = np.arange(0, 1e-6, 2e-9)
    y = np.array([ratio(sq.rabi(d))[0] for d in t])
    assert dominant_frequency(t, y) == pytest.approx(10e6, rel=0.03)
    assert y[np.argmin(np.abs(t - 50e-9))] == pytest.approx(y.min(), abs=0.005)  # pi at 50 ns
    quarter_power = np.array([ratio(sq.rabi(d), rabi=RABI / 2)[0] for d in t])
    assert dominant_frequency(t, quarter_power) == pytest.approx(5e6, rel=0.03)


def test_a_pi_pulse_darkens_the_readout_by_about_the_contrast():
    assert 0.6 < ratio(sq.rabi(50e-9))[0] < 0.85
    assert ratio(sq.rabi(100e-9))[0] == pytest.approx(1.0, abs=0.01)


def test_ramsey_fringes_run_at_the_detuning_and_decay_with_t2_star():
    tau = np.arange(0, 1.5e-6, 10e-9)
    y = np.array([ratio(sq.ramsey(t, 25e-9), 3e6)[0] for t in tau])
    assert dominant_frequency(tau, y) == pytest.approx(3e6, rel=0.05)
    late = np.array([ratio(sq.ramsey(t, 25e-9), 3e6)[0] for t in np.arange(6e-6, 7e-6, 20e-9)])
    assert np.ptp(late) < 0.1 * np.ptp(y)  # exp(-(6.5/2)^2) of the early swing


def test_the_echo_refocuses_static_detuning_and_decays_with_t2():
    seq = sq.echo(5e-6, 25e-9, 50e-9)
    values = ratio(seq, [0.0, 0.3e6, 1e6])
    assert np.ptp(values) < 0.003
    ramsey = ratio(sq.ramsey(10e-6, 25e-9), [0.0])[0]
    reference = ratio(sq.rabi(0.0))[0]
    assert abs(values[0] - reference) < abs(ramsey - reference) / 4  # Ramsey has dephased

    def coherence(tau):  # of the echo, from its readout between kept and lost coherence
        seq = sq.echo(tau, 25e-9, 50e-9)
        lost = ratio(seq, dephasing=lambda block: np.zeros(1))[0]
        return (ratio(seq)[0] - lost) / (reference - lost)

    assert coherence(50e-6) / coherence(1e-6) == pytest.approx(np.exp(-98e-6 / SPIN.t2), rel=0.05)


def test_t1_polarisation_decays_with_t1_toward_the_mixed_state():
    short, at_t1, long = (ratio(sq.t1(t))[0] for t in (1e-6, SPIN.t1, 20e-3))
    fast = nv.SpinProperties(**{**SPIN.__dict__, "t1": 0.1e-3})  # ferritin close (seed 000)
    assert short > at_t1 > long
    assert ratio(sq.t1(0.3e-3), spin=fast)[0] < ratio(sq.t1(0.3e-3))[0] - 0.05
    drop = (short - at_t1) / (short - long)
    assert drop == pytest.approx(1 - np.exp(-1), abs=0.05)


def test_pulsed_odmr_dips_at_resonance_with_the_width_of_the_pi_pulse():
    detuning = np.linspace(-20e6, 20e6, 81)
    y = ratio(sq.pulsed_odmr(50e-9), detuning)
    assert detuning[np.argmin(y)] == pytest.approx(0.0, abs=0.5e6)
    half = y.min() + (1 - y.min()) / 2
    width = np.ptp(detuning[y < half])
    assert 10e6 < width < 25e6  # ~0.8 / t_pi


def test_cw_odmr_dips_only_near_resonance():
    seq = sq.cw_odmr(1e-3)
    detuning = np.array([-20e6, -5e6, 0.0, 5e6, 20e6])
    readout = nv.steady_state(seq, detuning, 1e6, SPIN, SATURATION)
    y = nv.gate_brightness(readout, seq.windows("gate"), SPIN.contrast)[:, 0]
    assert y[2] < y[1] - 0.02 and y[2] < y[3] - 0.02
    assert y[0] == pytest.approx(y[4], abs=1e-3)


def test_a_dephasing_of_the_caller_replaces_the_bath_between_the_first_and_last_pulse():
    seq = sq.echo(5e-6, 25e-9, 50e-9)
    full = ratio(seq, dephasing=lambda block: np.ones(1))[0]
    lost = ratio(seq, dephasing=lambda block: np.zeros(1))[0]
    half = ratio(seq, dephasing=lambda block: np.full(1, 0.5))[0]
    assert full > half > lost  # coherence kept: back to ms=0; lost: half way to ms=-1
    assert half == pytest.approx((full + lost) / 2, abs=0.005)


def test_the_toggled_free_time_is_tau_for_ramsey_and_zero_for_an_echo():
    ramsey = nv.blocks(nv.segments(sq.ramsey(1e-6, 25e-9)), RABI)
    echo = nv.blocks(nv.segments(sq.echo(1e-6, 25e-9, 50e-9)), RABI)
    assert [b.toggled for b in ramsey] == [pytest.approx(1e-6)]
    assert [b.toggled for b in echo] == [pytest.approx(0.0, abs=1e-15)]
