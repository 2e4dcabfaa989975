"""Tango device of the pulse sequencer (AWG): load a sequence as JSON, run it N times, stop.

The instrument stores one repetition run-length encoded, as (duration, levels) steps, one per
segment between edges of any channel; `max_steps` is its memory, whatever the length.

Position gates (`LoadPositionGates`) take the place of a sequence: the stage's position
comparator opens and closes each gate where the stage is, and Run arms them for its next move.

States: OFF with no sequence (or position gates) loaded; MOVING while a loaded sequence uploads
to the instrument's memory (it takes upload_latency + steps / upload_rate; Load and Run are
refused with NANOMRI_BUSY until it is done, Status says when); ON when idle with a sequence
ready; RUNNING from Run until the last repetition has played or Stop. State, `completed` and
`progress` push change events from a watcher thread (every 50 ms and at once on Load/Run/Stop;
a run or upload shorter than that still shows as RUNNING or MOVING then ON). Reads are never
served from a polling cache, so `completed` read after State is ON is final. A refused Load
leaves the loaded sequence as it was.
"""

import json
import threading
from typing import NamedTuple

import tango
from tango import AttrWriteType, DevState
from tango.server import attribute, command

from nanomri.interfaces.sequencer import MAX_DELAY, PositionGates, StartTrigger
from nanomri.sequence import CHANNELS, Sequence, SequenceError, check

from .base import InstrumentDevice
from .validation import fail, refusals, require_finite

WATCH_PERIOD = 0.05  # s between looks of the watcher thread for changes on their own
PROGRESS_STEP = 0.001  # smallest change of `progress` pushed as an event


class Seen(NamedTuple):
    """What the watcher last saw: state and progress, and how many Loads and Runs so far."""

    state: DevState
    completed: int
    progress: float
    loads: int
    runs: int


def position_gates_from_json(text: str) -> PositionGates:
    """PositionGates from `{"axis", "windows"}`; a DevFailed NANOMRI_SEQUENCE names a bad one."""
    try:
        data = json.loads(text)
        axis, windows = data["axis"], data["windows"]
        gates = tuple((float(a), float(b)) for a, b in windows)
    except (ValueError, TypeError, KeyError) as exc:
        fail("SEQUENCE", 'position gates are JSON {"axis": "x", "windows": [[opens, closes], '
                         f"...]}} in metres: {exc}")
    return PositionGates(str(axis), gates)


class PulseSequencer(InstrumentDevice):
    """AWG / pulse streamer; one sequence in memory, played `repetitions` times per Run."""

    INSTRUMENT = "sequencer"

    def init_device(self) -> None:
        self._lock = threading.Lock()  # the watcher never sees a Load or Run half-done
        self._loads = self._runs = 0
        self._wake, self._quit = threading.Event(), threading.Event()
        self._watcher: threading.Thread | None = None
        super().init_device()

    def init_instrument(self) -> None:
        c = self.driver.constraints
        self.set_write_limits("repetitions", 1, c.max_repetitions)
        for name in ("State", "completed", "progress"):
            self.set_change_event(name, True, False)
        self._watcher = threading.Thread(target=self._watch, daemon=True,
                                         name=f"watch {self.get_name()}")
        self._watcher.start()

    def delete_device(self) -> None:
        if self._watcher is not None:
            self._quit.set()
            self._wake.set()
            self._watcher.join(timeout=2.0)
        super().delete_device()

    @attribute(dtype=float, unit="Hz", format="%.6e", doc="sample clock of the outputs")
    def sample_rate(self) -> float:
        return self.driver.constraints.sample_rate

    @attribute(dtype=int, unit="samples", format="%d", doc="every edge lies on a multiple of it")
    def granularity(self) -> int:
        return self.driver.constraints.granularity

    @attribute(dtype=float, unit="s", format="%.3e", doc="time grid of every edge (granularity "
               "/ sample_rate)")
    def granularity_time(self) -> float:
        return self.driver.constraints.step

    @attribute(dtype=(str,), max_dim_x=len(CHANNELS), doc="names of the output channels")
    def channels(self) -> tuple[str, ...]:
        return self.driver.constraints.channels

    @attribute(dtype=int, unit="steps", format="%d", doc="memory: run-length-encoded steps "
               "(segments between edges of any channel) of one repetition")
    def max_steps(self) -> int:
        return self.driver.constraints.max_steps

    @attribute(dtype=str, doc='loaded sequence as JSON {"length", "pulses"}; empty if none')
    def sequence(self) -> str:
        seq = self.driver.sequence()
        return "" if seq is None else seq.to_json()

    @attribute(dtype=float, unit="s", format="%.6e", doc="length of one repetition; 0 if none")
    def length(self) -> float:
        seq = self.driver.sequence()
        return 0.0 if seq is None else seq.length

    @attribute(dtype=int, access=AttrWriteType.READ_WRITE, format="%d",
               memorized=True, hw_memorized=True, doc="times the next Run plays the sequence")
    def repetitions(self) -> int:
        return self.driver.repetitions()

    @repetitions.write
    def repetitions(self, value: int) -> None:
        if self.driver.is_running():
            fail("BUSY", "repetitions cannot change while a run plays; Stop it first")
        with refusals():
            self.driver.set_repetitions(int(value))

    @attribute(dtype=StartTrigger, access=AttrWriteType.READ_WRITE, memorized=True,
               hw_memorized=True,
               doc="IMMEDIATE: Run starts the run; STAGE_MOTION: Run arms it and the stage's "
                   "next move starts it (hardware-synchronised scans)")
    def start_trigger(self) -> StartTrigger:
        return self.driver.start()[0]

    @start_trigger.write
    def start_trigger(self, value: int) -> None:
        with refusals():
            self.driver.set_start(StartTrigger(value), self.driver.start()[1])

    @attribute(dtype=float, access=AttrWriteType.READ_WRITE, unit="s", format="%.6e",
               min_value=0.0, max_value=MAX_DELAY, memorized=True, hw_memorized=True,
               doc="hold between the start (Run or trigger) and the first sample")
    def delay(self) -> float:
        return self.driver.start()[1]

    @delay.write
    def delay(self, value: float) -> None:
        with refusals():
            self.driver.set_start(self.driver.start()[0], require_finite("delay", value))

    @attribute(dtype=float, unit="s", format="%.6e",
               doc="from the start trigger of the last triggered run to its first sample, less "
                   "the delay, as timed on the sample clock; NaN before such a run")
    def trigger_lag(self) -> float:
        lag = self.driver.trigger_lag()
        return float("nan") if lag is None else lag

    @attribute(dtype=int, format="%d", doc="repetitions completed in the current or last run")
    def completed(self) -> int:
        return self.driver.progress()[0]

    @attribute(dtype=float, format="%.4f", min_value=0.0, max_value=1.0,
               doc="fraction of the current or last run's repetitions completed")
    def progress(self) -> float:
        return self._fraction()

    def _fraction(self) -> float:
        done, asked = self.driver.progress()
        return done / asked if asked else 0.0

    @command(dtype_in=str, doc_in='sequence as JSON {"length": s, "pulses": [{"channel", '
             '"start", "duration"}, ...]}; refused while running or uploading')
    def Load(self, text: str) -> None:
        self._refuse_if_busy("load a sequence")
        c = self.driver.constraints
        try:
            seq = Sequence.from_json(text)
            check(seq, c.sample_rate, c.granularity, c.max_steps, c.channels)
        except SequenceError as exc:
            fail("SEQUENCE", str(exc))
        with refusals(), self._lock:
            self.driver.load(seq)
            self._loads += 1
        self._wake.set()

    @command(dtype_in=str, doc_in='gates in the position domain as JSON {"axis": "x", "windows": '
             '[[opens, closes], ...]} (m): the stage\'s position comparator opens each gate as the '
             'axis passes `opens` and closes it at `closes`; replaces the sequence, Run arms it '
             'for the stage\'s next move')
    def LoadPositionGates(self, text: str) -> None:
        self._refuse_if_busy("load position gates")
        gates = position_gates_from_json(text)
        with refusals(), self._lock:
            self.driver.load_position_gates(gates)
            self._loads += 1
        self._wake.set()

    @command(doc_in="Play the loaded sequence `repetitions` times")
    def Run(self) -> None:
        self._refuse_if_busy("start a run")
        if self.driver.sequence() is None and self.driver.position_gates() is None:
            fail("NO_SEQUENCE", "no sequence loaded; Load one before Run")
        with refusals(), self._lock:
            self.driver.run()
            self._runs += 1
        self._wake.set()

    @command(doc_in="End the run now, every channel low (safe state)")
    def Stop(self) -> None:
        self.safe_state()

    def safe_state(self) -> None:
        with self._lock:
            self.driver.stop()
        self._wake.set()

    def _refuse_if_busy(self, what: str) -> None:
        if self.driver.is_running():
            done, asked = self.driver.progress()
            fail("BUSY", f"cannot {what} while running ({done} of {asked} repetitions "
                         "played); Stop it first")
        if self.driver.is_uploading():
            fail("BUSY", f"cannot {what} while a sequence uploads (ready in "
                         f"{self.driver.upload_remaining():.3g} s)")

    def _watch(self) -> None:
        """Push State, completed and progress as they change, until the device is deleted."""
        with tango.EnsureOmniThread():
            last = Seen(DevState.UNKNOWN, -1, -1.0, 0, 0)
            while not self._quit.is_set():
                try:
                    last = self._publish(last)
                except Exception as exc:  # a failing driver read must not end the events
                    self.error_stream(f"sequencer watcher: {exc!r}")
                self._wake.wait(WATCH_PERIOD)
                self._wake.clear()

    def _look(self) -> Seen:
        with self._lock:
            done, _ = self._driver.progress()
            return Seen(self.dev_state(), done, self._fraction(), self._loads, self._runs)

    def _publish(self, last: Seen) -> Seen:
        """Push what changed since `last`, including an upload or run over between two looks."""
        now = self._look()
        if now.loads != last.loads and last.state != DevState.MOVING:
            last = self._push_state(last, DevState.MOVING)
        if now.runs != last.runs:
            last = self._push_state(last, DevState.RUNNING)
            self.push_change_event("completed", 0)
            self.push_change_event("progress", 0.0)
            last = last._replace(completed=0, progress=0.0)
        last = self._push_state(last, now.state)
        if now.completed != last.completed:
            self.push_change_event("completed", now.completed)
        moved = abs(now.progress - last.progress)
        if moved >= PROGRESS_STEP or (moved > 0 and now.progress in (0.0, 1.0)):
            self.push_change_event("progress", now.progress)
        else:
            now = now._replace(progress=last.progress)
        return now

    def _push_state(self, last: Seen, state: DevState) -> Seen:
        if state != last.state:
            self.set_state(state)
            self.push_change_event("State")
        return last._replace(state=state)

    def dev_state(self) -> DevState:
        if self._driver is None:
            return DevState.FAULT
        if self._driver.is_running():
            return DevState.RUNNING
        if self._driver.is_uploading():
            return DevState.MOVING
        loaded = self._driver.sequence() or self._driver.position_gates()
        return DevState.ON if loaded else DevState.OFF

    def dev_status(self) -> str:
        state = self.dev_state()
        if state == DevState.FAULT:
            return self.get_status()
        if state == DevState.OFF:
            return "no sequence loaded"
        gates = self._driver.position_gates()
        if gates is not None:
            what = f"{len(gates.windows)} position gates on the stage's {gates.axis}"
            return (f"{what}: armed for the stage's next move, or playing"
                    if state == DevState.RUNNING else f"ready: {what}")
        length = self._driver.sequence().length
        done, asked = self._driver.progress()
        if state == DevState.RUNNING:
            return f"playing a {length:g} s sequence: {done} of {asked} repetitions done"
        if state == DevState.MOVING:
            return (f"uploading a {length:g} s sequence, ready in "
                    f"{self._driver.upload_remaining():.3g} s; Load and Run refused until then")
        last = f"; last run {done} of {asked} repetitions" if asked else ""
        return f"ready: {length:g} s sequence loaded{last}"
