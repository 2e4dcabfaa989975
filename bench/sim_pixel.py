"""Cost of simulating one pixel of 1e5 sequence repetitions, against looping over repetitions.

The simulator takes the state the spin settles in over many repetitions (a fixed point of one
repetition's map) and draws the photon counts of all of them at once. The baseline, in the
same run, plays the same model one repetition at a time, each with its own photon draw, for
`--loop` repetitions, scaled to the same count. Both use the DEER echo of seed 001. A third
figure is the whole sensor of the confocal world as the photon counter asks it per read: the
tip's field and its 1400 dark spins, at the 16 repetitions it samples. A fourth is the sensor
of the ferritin world (seed 000) with the section's face over its cluster of 500 cores, against
the same read with every core averaged over its volume grid at every sampled repetition.

    .venv/bin/python bench/sim_pixel.py [--pixels 200] [--repetitions 100000] [--loop 2000]
"""

import argparse
import time
from pathlib import Path

import numpy as np

from nanomri import nv_sequences as sq
from nanomri import nv_spin as nv

SPIN = nv.SpinProperties(t1=3.3e-3, t2=50e-6, t2_star=2e-6, contrast=0.3, polarisation=0.9,
                         pumping_time=0.2e-6, rabi_per_sqrt_watt=1e8)
RATE = 1e5  # counts/s of the NV at this laser power
SATURATION = 0.5
SEQUENCE = sq.deer(1e-6, 25e-9, 50e-9, 100e-9)


def pixel(detuning: float, repetitions: int, rng: np.random.Generator) -> np.ndarray:
    """Counts of each gate summed over `repetitions`: expectation once, one Poisson draw."""
    readout = nv.steady_state(SEQUENCE, np.array([detuning]), 1e7, SPIN, SATURATION)
    gates = SEQUENCE.windows("gate")
    mean = nv.gate_brightness(readout, gates, SPIN.contrast)[0] * RATE * np.diff(gates)[:, 0]
    return rng.poisson(mean * repetitions)


def looped(detuning: float, repetitions: int, rng: np.random.Generator) -> np.ndarray:
    """The same counts, one repetition at a time from the state the last one left."""
    segs, maps = nv.repetition_maps(SEQUENCE, np.array([detuning]), 1e7, SPIN, SATURATION)
    gates = SEQUENCE.windows("gate")
    state = np.array([[0.0, 0.0, 0.0, nv.MIXED_W, 1.0]])
    counts = np.zeros(len(gates), dtype=np.int64)
    for _ in range(repetitions):
        readout = nv.laser_readout(segs, maps, state, SPIN, SATURATION / SPIN.pumping_time)
        mean = nv.gate_brightness(readout, gates, SPIN.contrast)[0] * RATE * np.diff(gates)[:, 0]
        counts += rng.poisson(mean)
        for m in maps:
            state = np.einsum("nij,nj->ni", m, state)
    return counts


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--pixels", type=int, default=200, help="pixels simulated and timed")
    args.add_argument("--repetitions", type=int, default=100_000, help="per pixel")
    args.add_argument("--loop", type=int, default=2000, help="repetitions the baseline plays")
    opts = args.parse_args()
    rng = np.random.default_rng(1)
    detunings = np.linspace(-5e6, 5e6, opts.pixels)
    start = time.perf_counter()
    for d in detunings:
        pixel(d, opts.repetitions, rng)
    per_pixel = (time.perf_counter() - start) / opts.pixels
    start = time.perf_counter()
    looped(0.0, opts.loop, rng)
    baseline = (time.perf_counter() - start) * opts.repetitions / opts.loop
    print(f"one pixel of {opts.repetitions:g} repetitions: {per_pixel * 1e3:.3f} ms "
          f"(mean of {opts.pixels} pixels)")
    print(f"looping over repetitions: {baseline * 1e3:.0f} ms "
          f"(from {opts.loop} repetitions)")
    print(f"looping / simulator = {baseline / per_pixel:.0f}")
    print(f"whole sensor (tip, dark spins), one read of 16 sampled repetitions: "
          f"{sensor_read() * 1e3:.1f} ms")
    fast, full = ferritin_read()
    print(f"ferritin sensor over its cluster, one read: {fast * 1e3:.2f} ms; every core on its "
          f"grid at every sample: {full * 1e3:.1f} ms; ratio {full / fast:.0f}")


def sensor_read(reads: int = 5) -> float:
    """Seconds the confocal world's sensor takes for the brightness of one counter read."""
    from nanomri.simulators.nv_sensor import SimSensor
    from nanomri.simulators.sim_world import get_world

    world = get_world(Path(__file__).resolve().parents[1] / "conf" / "worlds" / "confocal.yaml")
    sensor = SimSensor(world, world.model.sensor)
    run = 100_000 * SEQUENCE.length  # the 16 repetitions sampled across a run of 1e5
    starts = world.clock() + np.linspace(0.0, run, 16)
    sensor.brightness(SEQUENCE, starts)
    start = time.perf_counter()
    for _ in range(reads):
        sensor.brightness(SEQUENCE, starts)
    return (time.perf_counter() - start) / reads


class _Apex:
    """The scan head's apex held at one place (the section's face over the NV)."""

    def __init__(self, where: np.ndarray):
        self.where = where

    def tip(self, times: np.ndarray) -> np.ndarray:
        return np.tile(self.where, (len(np.atleast_1d(times)), 1))


def ferritin_read(reads: int = 5) -> tuple[float, float]:
    """Seconds of one counter read of the ferritin world's sensor, as simulated and with every
    core averaged over its volume grid at each of the 16 sampled repetitions (the baseline)."""
    from nanomri import ferritin
    from nanomri.simulators import nv_sensor
    from nanomri.simulators.sim_world import SimWorld
    from nanomri.world import load_world

    model = load_world(Path(__file__).resolve().parents[1] / "conf" / "worlds" / "ferritin.yaml")
    world = SimWorld(model, lambda: 0.0)
    world.laser.record(0.0, 1e-3, gated=True)
    nv_at = np.asarray(model.sensor.nv_position)
    world.links.probe = _Apex(nv_at + [0.0, 0.0, 5.2e-9])
    sensor = nv_sensor.SimSensor(world, model.sensor)
    sequence = sq.t1(50e-6)
    starts = np.linspace(0.0, 100_000 * sequence.length, 16)

    def timed() -> float:
        sensor.brightness(sequence, starts)
        start = time.perf_counter()
        for _ in range(reads):
            sensor.brightness(sequence, starts)
        return (time.perf_counter() - start) / reads

    fast = timed()
    expanded, still = ferritin.EXPANDED_BEYOND, nv_sensor.RELAXATION_STILL
    ferritin.EXPANDED_BEYOND, nv_sensor.RELAXATION_STILL = np.inf, 0.0
    try:
        full = timed()
    finally:
        ferritin.EXPANDED_BEYOND, nv_sensor.RELAXATION_STILL = expanded, still
    return fast, full


if __name__ == "__main__":
    main()
