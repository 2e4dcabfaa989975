"""Tip-surface junction signals against the gap d (m), and the gap a feedback setpoint holds.

Each signal has its inverse, so the simulated feedback and the simulated readout use the same
physics: a loop holding the setpoint sits exactly where the readout shows the setpoint.
A gap <= 0 is contact: signals take their contact values there.
"""

import numpy as np


def tunnel_current(gap: np.ndarray | float, bias: float, contact_conductance: float,
                   decay: float) -> np.ndarray:
    """I = G0 V exp(-2 kappa d) (A): low-bias Simmons / Tersoff-Hamann barrier, kappa in 1/m."""
    d = np.maximum(np.asarray(gap, dtype=float), 0.0)
    return contact_conductance * bias * np.exp(-2.0 * decay * d)


def gap_for_current(current: float, bias: float, contact_conductance: float,
                    decay: float) -> float:
    """d (m) where |I| = |current| at `bias`: ln(G0 |V| / |I|) / (2 kappa); -inf at zero bias."""
    if bias == 0.0:
        return -np.inf
    return float(np.log(contact_conductance * abs(bias) / abs(current)) / (2.0 * decay))


def frequency_shift(gap: np.ndarray | float, shift_contact: float,
                    decay_length: float) -> np.ndarray:
    """Tuning-fork frequency shift (Hz): -|df_c| exp(-d / lambda).

    Small-amplitude FM-AFM, df = -f0 k_ts / (2 k), with an exponential force gradient k_ts
    (Giessibl, Rev. Mod. Phys. 75, 949 (2003)).
    """
    d = np.maximum(np.asarray(gap, dtype=float), 0.0)
    return -shift_contact * np.exp(-d / decay_length)


def gap_for_frequency_shift(shift: float, shift_contact: float, decay_length: float) -> float:
    """d (m) where the frequency shift is `shift` (< 0 Hz): -lambda ln(-shift / |df_c|)."""
    if shift >= 0.0:
        return np.inf
    return float(-decay_length * np.log(-shift / shift_contact))


def oscillation_amplitude(gap: np.ndarray | float, free_amplitude: float) -> np.ndarray:
    """Tapping amplitude (m): the surface bounds the swing, A = min(A_free, d).

    Intermittent-contact AM-AFM: the set-point amplitude is about the tip-surface distance
    (Garcia and Perez, Surf. Sci. Rep. 47, 197 (2002)).
    """
    d = np.maximum(np.asarray(gap, dtype=float), 0.0)
    return np.minimum(d, free_amplitude)


def gap_for_amplitude(amplitude: float, free_amplitude: float) -> float:
    """d (m) where the amplitude is `amplitude`; inf at or above the free amplitude."""
    return float(amplitude) if amplitude < free_amplitude else np.inf
