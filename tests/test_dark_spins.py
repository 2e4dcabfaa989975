"""A magnetic tip's field and dark spins seen through DEER, as seed 001 describes them."""

import numpy as np
import pytest

from nanomri import dark_spins as ds
from nanomri import magnetic_tip as tip
from nanomri import nv_sequences as sq
from nanomri import nv_spin as nv

Z = np.array([0.0, 0.0, 1.0])
MOMENT = np.array([[0.0, 0.0, 1e-17]])  # A m^2
RABI = 1e7


def test_the_dipole_field_on_its_axis_is_mu0_2m_over_4pi_r3_and_falls_as_r4_in_gradient():
    point = np.array([0.0, 0.0, 30e-9])
    b = tip.dipole_field(point, np.zeros((1, 3)), MOMENT)
    assert b == pytest.approx([0.0, 0.0, 1e-7 * 2e-17 / (30e-9) ** 3])
    g = tip.gradient(point, np.zeros((1, 3)), MOMENT, Z)
    assert g[2] == pytest.approx(-3 * 1e-7 * 2e-17 / (30e-9) ** 4, rel=1e-4)
    assert abs(g[2]) / 1e5 > 12  # G/nm: seed 001's strongest gradient, 30 nm from this tip


def test_fields_of_several_dipoles_add():
    points = np.array([[1e-8, 2e-8, 3e-8], [-2e-8, 0.0, 4e-8]])
    positions = np.array([[0.0, 0.0, 0.0], [5e-9, 0.0, 1e-9]])
    moments = np.array([[1e-17, 0.0, 2e-17], [0.0, -3e-17, 1e-17]])
    together = tip.dipole_field(points, positions, moments)
    apart = sum(tip.dipole_field(points, positions[i:i + 1], moments[i:i + 1]) for i in (0, 1))
    assert together == pytest.approx(apart)


def test_a_dark_spin_10_nm_above_the_nv_couples_at_about_100_khz():
    a = ds.coupling(np.array([0.0, 0.0, 10e-9]), Z, Z)
    assert abs(a) == pytest.approx(104e3, rel=0.01)  # seed 001: 100 kHz for its surface layer
    magic = np.arccos(1 / np.sqrt(3))
    assert ds.coupling(np.array([np.sin(magic), 0, np.cos(magic)]) * 1e-8, Z, Z) == \
        pytest.approx(0.0, abs=1e-6)


def test_an_rf_pi_pulse_flips_only_spins_near_resonance():
    rabi, pi = 5e6, 100e-9
    p = ds.flip_probability(np.array([0.0, 2e6, 50e6]), rabi, pi, t2_star=150e-9)
    assert p[0] > 0.85 and p[0] > p[1] > p[2]
    assert p[2] < 0.01


def deer_signal(tau: float, couplings: np.ndarray, p: np.ndarray, rf: bool = True) -> float:
    """NV readout of a DEER echo (rf_pi 100 ns) with the dark spins' coherence factor."""
    seq = sq.deer(tau, 25e-9, 50e-9, 100e-9 if rf else 0.0)
    rf_centres = seq.windows("rf").mean(axis=1)

    def dephasing(block):
        flips = [(t, p) for t in rf_centres]
        return ds.coherence_left(block, flips, couplings)

    spin = nv.SpinProperties(t1=3e-3, t2=1e-3, t2_star=2e-6, contrast=0.3, polarisation=0.9,
                             pumping_time=0.2e-6, rabi_per_sqrt_watt=1e8)
    readout = nv.steady_state(seq, np.zeros(1), RABI, spin, 0.5, dephasing)
    b = nv.gate_brightness(readout, seq.windows("gate"), spin.contrast)[0]
    return b[0] / b[1]


def test_deer_on_one_coherent_dark_spin_oscillates_at_its_coupling_with_full_depth():
    a = np.array([[500e3]])  # Hz
    taus = np.arange(0.1e-6, 4e-6, 0.05e-6)
    y = np.array([deer_signal(t, a, np.ones((1, 1))) for t in taus])
    spectrum = np.abs(np.fft.rfft(y - y.mean(), n=4096))
    frequency = np.fft.rfftfreq(4096, 0.05e-6)[np.argmax(spectrum)]
    assert frequency == pytest.approx(500e3, rel=0.05)  # cos(pi a 2 tau): a per unit tau
    whole = deer_signal(1e-6, a, np.zeros((1, 1)), rf=False)  # no flip: the echo is whole
    assert y.min() < whole - 0.1  # down to the NV flipped, not the mixed state


def test_deer_without_the_rf_pi_pulse_shows_no_dark_spin_signal():
    a = np.array([[500e3, 80e3, 120e3]])
    with_rf = [deer_signal(t, a, np.ones((1, 3))) for t in (1e-6, 1.5e-6, 2e-6)]
    without = [deer_signal(t, a, np.ones((1, 3)), rf=False) for t in (1e-6, 1.5e-6, 2e-6)]
    echo = deer_signal(1e-6, np.zeros((1, 1)), np.zeros((1, 1)), rf=False)
    assert without == pytest.approx([echo] * 3, abs=2e-3)
    assert min(with_rf) < echo - 0.05


def test_a_surface_layer_has_its_density_and_height():
    rng = np.random.default_rng(3)
    layer = ds.surface_layer(0.5e18, 10e-9, 30e-9, rng)  # 0.5 spins/nm^2 (seed 001)
    assert len(layer) == pytest.approx(0.5 * np.pi * 900, rel=0.1)
    assert np.all(layer[:, 2] == 10e-9) and np.hypot(layer[:, 0], layer[:, 1]).max() <= 30e-9
