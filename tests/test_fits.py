"""Fits of simulated NV point measurements give back the physics the simulation was built on."""

import numpy as np
import pytest

from nanomri import nv_sequences as sq
from nanomri import nv_spin as nv
from nanomri.analysis import fits

SPIN = nv.SpinProperties(t1=3.3e-3, t2=50e-6, t2_star=2e-6, contrast=0.3, polarisation=0.9,
                         pumping_time=0.2e-6, rabi_per_sqrt_watt=1e8)
COUNTS = 20_000  # photons in the reference gate of a point


def measured(sequences, detuning=0.0, rabi=1e7, seed=0, spin=SPIN) -> np.ndarray:
    """Signal/reference of each sequence with Poisson noise of COUNTS reference photons."""
    rng = np.random.default_rng(seed)
    out = []
    for seq in sequences:
        readout = nv.steady_state(seq, np.atleast_1d(detuning), rabi, spin, 0.5)
        b = nv.gate_brightness(readout, seq.windows("gate"), spin.contrast)[:, :2]
        counts = rng.poisson(b * COUNTS)
        out.append(counts[:, 0] / counts[:, 1])
    return np.concatenate(out)


def test_odmr_fit_finds_the_resonance_within_a_tenth_of_its_width():
    detuning = np.linspace(-20e6, 20e6, 61)
    # the MW at f0 + detuning, the NV at f0 + 3 MHz
    y = np.array([measured([sq.pulsed_odmr(100e-9)], d, rabi=5e6)[0] for d in 3e6 - detuning])
    fit = fits.odmr(detuning, y)
    assert fit["centre"] == pytest.approx(3e6, abs=0.1 * fit["fwhm"])
    assert 3e6 < fit["fwhm"] < 15e6


def test_rabi_fit_gives_the_rabi_frequency_of_the_mw_power():
    t = np.arange(0, 300e-9, 4e-9)
    fit = fits.rabi(t, measured([sq.rabi(d) for d in t], rabi=1.3e7))
    assert fit["frequency"] == pytest.approx(1.3e7, rel=0.02)
    assert fit.errors["frequency"] < 0.02 * fit["frequency"]


def test_ramsey_fit_gives_the_detuning_and_t2_star():
    tau = np.arange(0, 4e-6, 25e-9)
    fit = fits.ramsey(tau, measured([sq.ramsey(t, 25e-9) for t in tau], detuning=2e6))
    assert fit["frequency"] == pytest.approx(2e6, rel=0.02)
    assert fit["t2_star"] == pytest.approx(SPIN.t2_star, rel=0.2)


def test_t1_fit_gives_the_spin_t1():
    tau = np.geomspace(1e-6, 15e-3, 30)
    for seed in range(3):
        fit = fits.decay(tau, measured([sq.t1(t) for t in tau], seed=seed))
        assert abs(fit["time"] - SPIN.t1) < 3 * fit.errors["time"] < 0.6 * SPIN.t1


def test_bad_data_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="at least 6"):
        fits.rabi(np.arange(3.0), np.arange(3.0))
    with pytest.raises(ValueError, match="NaN"):
        fits.odmr(np.arange(10.0), np.r_[np.ones(9), np.nan])
    with pytest.raises(ValueError, match="one length"):
        fits.decay(np.arange(10.0), np.arange(9.0))
