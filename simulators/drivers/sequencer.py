"""Simulated pulse sequencer: uploads and runs take their real time; what it plays is a Playback.

Other simulated instruments read it as `world.playback()` (gates, laser, camera and trigger
edges): the last run, cut where it was stopped, and None before any run.
"""

import dataclasses
import math

from nanomri.interfaces.errors import Refused
from nanomri.interfaces.scanner import AXES
from nanomri.interfaces.sequencer import (
    MAX_DELAY,
    PositionGates,
    SequencerConstraints,
    StartTrigger,
)
from nanomri.sequence import CHANNELS, Pulse, Sequence, SequenceError, check
from nanomri.world_sections.sequencer import SequencerSpec

from ..playback import Playback
from ..sim_world import SimWorld, open_section


class SimSequencer:
    """SequencerDriver over a SimWorld, on the world's clock."""

    def __init__(self, world: SimWorld, spec: SequencerSpec):
        self.world = world
        self.constraints = SequencerConstraints(
            sample_rate=spec.sample_rate, granularity=spec.granularity,
            max_steps=spec.max_steps, max_repetitions=spec.max_repetitions,
            channels=CHANNELS)
        self.upload_rate = spec.upload_rate
        self.upload_latency = spec.upload_latency
        self.start_latency = spec.start_latency
        self.playback: Playback | None = None  # the current or last run, as played
        self._sequence: Sequence | None = None
        self._position_gates: PositionGates | None = None
        self._ready = -float("inf")  # world time the upload of `_sequence` completes
        self._repetitions = 1
        self._trigger, self._delay = StartTrigger.IMMEDIATE, 0.0
        self._armed = False  # Run waits for the stage's next motion start
        self._trigger_lag: float | None = None  # as timed on the last triggered run
        world.on_motion_start(self._motion_started)

    def upload_time(self, steps: int) -> float:
        """Seconds an upload of `steps` run-length-encoded steps takes: latency plus transfer."""
        return self.upload_latency + steps / self.upload_rate

    def load(self, sequence: Sequence) -> None:
        self._refuse_if_busy("load a sequence")
        c = self.constraints
        try:
            steps = check(sequence, c.sample_rate, c.granularity, c.max_steps, c.channels)
        except SequenceError as exc:
            raise Refused("SEQUENCE", str(exc)) from None
        self._sequence, self._position_gates = sequence, None
        self._ready = self.world.clock() + self.upload_time(steps)

    def load_position_gates(self, gates: PositionGates) -> None:
        self._refuse_if_busy("load position gates")
        if gates.axis not in AXES:
            raise Refused("SEQUENCE", f"position gates follow a stage axis {AXES}, "
                                      f"not {gates.axis!r}")
        limit = self.constraints.max_steps // 2
        if not 1 <= len(gates.windows) <= limit:
            raise Refused("SEQUENCE", f"1 to {limit} position gates fit, got "
                                      f"{len(gates.windows)}")
        for k, (opens, closes) in enumerate(gates.windows):
            if not (math.isfinite(opens) and math.isfinite(closes) and opens != closes):
                raise Refused("SEQUENCE", f"position gate {k} [{opens!r}, {closes!r}] m must "
                                          "open and close at two different finite positions")
        self._sequence, self._position_gates = None, gates

    def position_gates(self) -> PositionGates | None:
        return self._position_gates

    def sequence(self) -> Sequence | None:
        return self._sequence

    def is_uploading(self) -> bool:
        return self.world.clock() < self._ready

    def upload_remaining(self) -> float:
        """Seconds until the upload in progress completes (0 when none is)."""
        return max(0.0, self._ready - self.world.clock())

    def set_repetitions(self, repetitions: int) -> None:
        limit = self.constraints.max_repetitions
        if self.is_running():
            raise Refused("BUSY", "repetitions cannot change while a run plays; Stop it first")
        if not 1 <= repetitions <= limit:
            raise Refused("OUT_OF_RANGE", f"repetitions {repetitions} outside [1, {limit}]")
        self._repetitions = int(repetitions)

    def repetitions(self) -> int:
        return self._repetitions

    def run(self) -> None:
        self._refuse_if_busy("start a run")
        if self._sequence is None and self._position_gates is None:
            raise Refused("NO_SEQUENCE", "no sequence loaded; Load one before Run")
        if self._trigger == StartTrigger.STAGE_MOTION or self._position_gates is not None:
            self._armed = True
            return
        self._play(self.world.clock())

    def _play(self, t: float) -> None:
        start = t + self.start_latency + self._delay
        self.playback = Playback(self._sequence, start, self._repetitions)

    def _motion_started(self, t: float) -> None:
        """The stage's motion-start output: an armed run starts on it."""
        if self._armed:
            self._armed = False
            if self._position_gates is None:
                self._play(t)
                self._trigger_lag = self.playback.start - t - self._delay
            else:
                self.playback = Playback(self._compared(self._position_gates, t), t, 1)

    def _compared(self, gates: PositionGates, t: float) -> Sequence:
        """The gates the stage's comparator gives along the path the stage now follows from
        `t`, on the sample grid: each opens where the stage passes its first edge heading for
        its second (a flyback passing it the other way opens nothing); it stops at the first
        window the stage never reaches. A gate
        that would touch the next closes one sample early, so each stays a gate of its own."""
        path, step = self.world.paths[gates.axis], self.constraints.step
        edges, after = [], t
        for opens, closes in gates.windows:
            way = 1 if closes > opens else -1
            t_open = path.crossing(opens, after, way)
            t_close = None if t_open is None else path.crossing(closes, t_open, way)
            if t_close is None:
                break
            edges.append((round((t_open - t) / step), round((t_close - t) / step)))
            after = t_close
        pulses = []
        for k, (start, end) in enumerate(edges):
            if k + 1 < len(edges):
                end = min(end, edges[k + 1][0] - 1)
            pulses.append(Pulse("gate", start * step, max(end - start, 1) * step))
        return Sequence(tuple(pulses), pulses[-1].end + step if pulses else step)

    def is_running(self) -> bool:
        if self._armed:
            return True
        return self.playback is not None and self.world.clock() < self.playback.end

    def set_start(self, trigger: StartTrigger, delay: float) -> None:
        if self.is_running():
            raise Refused("BUSY", "the start cannot change while a run plays or is armed")
        if not 0.0 <= delay <= MAX_DELAY:
            raise Refused("OUT_OF_RANGE", f"delay {delay:g} s outside [0, {MAX_DELAY:g}] s")
        self._trigger, self._delay = StartTrigger(trigger), float(delay)

    def start(self) -> tuple[StartTrigger, float]:
        return self._trigger, self._delay

    def trigger_lag(self) -> float | None:
        return self._trigger_lag

    def progress(self) -> tuple[int, int]:
        if self._armed:
            return 0, self._repetitions
        if self.playback is None:
            return 0, 0
        return self.playback.completed(self.world.clock()), self.playback.repetitions

    def stop(self) -> None:
        self._armed = False
        if self.is_running():
            self.playback = dataclasses.replace(self.playback, stopped=self.world.clock())

    def _refuse_if_busy(self, what: str) -> None:
        if self._armed:
            raise Refused("BUSY", f"cannot {what} while a run waits for its start trigger; "
                                  "Stop it first")
        if self.is_running():
            done, asked = self.progress()
            raise Refused("BUSY", f"cannot {what} while running ({done} of {asked} "
                                  "repetitions played); Stop it first")
        if self.is_uploading():
            raise Refused("BUSY", f"cannot {what} while a sequence uploads (ready in "
                                  f"{self.upload_remaining():.3g} s)")


def open_driver(address: str) -> SimSequencer:
    """The simulated sequencer of `<world file>[#section]` (section `sequencer` by default)."""
    world, spec, key = open_section(address, "sequencer", SequencerSpec)
    return world.driver(key, lambda: SimSequencer(world, spec))
