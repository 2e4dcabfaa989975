"""CPU time of one read of the simulated photon counter's binned gate counts after a
hardware-stepped ODMR sweep, next to the time the sequencer took to play it (world time).

The MW generator sweeps `--points` points on the sequencer's spare edge; the sequencer plays
`sweep_point(pulsed ODMR, --repetitions, 1 ms, spare)` points x `--sweeps` times; the counter
keeps a bin per point. Prints the read's CPU seconds and its ratio to the run's play time.

    .venv/bin/python bench/binned_counts.py [--points 50] [--sweeps 20] [--repetitions 4000]
"""

import argparse
import time

import numpy as np

from nanomri import nv_sequences as sq
from nanomri import nv_spin
from nanomri.interfaces.laser import LaserMode
from nanomri.interfaces.photon_counter import CountingMode
from nanomri.interfaces.signal_generator import Mode, Sweep, TriggerSource
from nanomri.simulators.drivers.laser import SimLaser
from nanomri.simulators.drivers.photon_counter import SimPhotonCounter
from nanomri.simulators.drivers.scanner import SimScanner
from nanomri.simulators.drivers.sequencer import SimSequencer
from nanomri.simulators.drivers.signal_generator import SimSignalGenerator
from nanomri.simulators.sim_world import SimWorld
from nanomri.world import load_world

WORLD = "conf/worlds/confocal.yaml"


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def read_cost(points: int, sweeps: int, repetitions: int) -> tuple[float, float]:
    """(CPU s of the read, world s the run played)."""
    model, clock = load_world(WORLD), Clock()
    world = SimWorld(model, clock)
    scanner, laser = SimScanner(world), SimLaser(world)
    for axis, value in zip("xyz", model.sample.nv_centres[0], strict=True):
        scanner.move_to(axis, value)
    laser.set_power(1e-3)
    laser.set_mode(LaserMode.GATED)
    laser.set_emission(True)
    mw = world.links.mw = SimSignalGenerator(world, model.instruments.mw)
    sequencer = world.links.sequencer = SimSequencer(world, model.instruments.sequencer)
    counter = world.links.photon_counter = SimPhotonCounter(world)
    f0 = float(nv_spin.ZERO_FIELD_SPLITTING)
    mw.set_sweep(Sweep(f0 - 20e6, f0 + 20e6, points))
    mw.set_power(1e-2)
    mw.set_mode(Mode.SWEEP)
    mw.set_trigger(TriggerSource.EXTERNAL)
    mw.set_output(True)
    point = sq.sweep_point(sq.pulsed_odmr(50e-9), repetitions, 1e-3, "spare")
    sequencer.load(point)
    sequencer.set_repetitions(points * sweeps)
    clock.now += 1.0
    counter.set_bins(points)
    counter.arm(CountingMode.SEQUENCE)
    sequencer.run()
    played = points * sweeps * point.length
    clock.now += 0.1 + played
    start = time.process_time()
    counts = counter.gate_counts()
    cost = time.process_time() - start
    assert counts.shape == (points * repetitions * 2,) and np.all(counts >= 0)
    return cost, played


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=50)
    parser.add_argument("--sweeps", type=int, default=20)
    parser.add_argument("--repetitions", type=int, default=4000)
    args = parser.parse_args()
    cost, played = read_cost(args.points, args.sweeps, args.repetitions)
    print(f"{args.points} bins x {args.sweeps} sweeps x {args.repetitions} repetitions a point: "
          f"read {cost:.3f} s CPU, run played {played:.2f} s: ratio {cost / played:.4f}")


if __name__ == "__main__":
    main()
