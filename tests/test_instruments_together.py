"""The instruments of one world in one server, through Tango: what the sequencer plays gates the
laser, bins the counter, steps the MW list and triggers the camera, as it would in the lab."""

import numpy as np
import pytest
import tango

from nanomri.confocal import detected_rate
from nanomri.devices.camera import EMCCD
from nanomri.devices.laser import NVLaser
from nanomri.devices.photon_counter import PhotonCounter
from nanomri.devices.scanner import Scanner
from nanomri.devices.sequencer import PulseSequencer
from nanomri.devices.signal_generator import SignalGenerator
from nanomri.interfaces.camera import TriggerMode
from nanomri.interfaces.laser import LaserMode
from nanomri.interfaces.photon_counter import CountingMode
from nanomri.interfaces.signal_generator import Mode, TriggerSource
from nanomri.sequence import Pulse, Sequence
from nanomri.world import load_world

from .tango_context import CONFOCAL, WORLD, Events, devices, wait_while

MODEL = load_world(CONFOCAL)
NV = MODEL.sample.nv_centres[0]
REPETITIONS = 2000
# one repetition: laser 3 µs with gate A in the light and gate B in the dark after it, a
# trigger for the MW list and a 10 µs camera exposure
SEQUENCE = Sequence((Pulse("laser", 0.0, 3e-6), Pulse("gate", 1e-6, 1e-6),
                     Pulse("gate", 5e-6, 1e-6), Pulse("spare", 0.0, 1e-6),
                     Pulse("camera", 10e-6, 10e-6)), 100e-6)


@pytest.fixture(scope="module")
def lab():
    names = {"scanner": Scanner, "laser": NVLaser, "counter": PhotonCounter,
             "sequencer": PulseSequencer, "camera": EMCCD}
    entries = [(cls, f"test/lab/{name}", WORLD) for name, cls in names.items()]
    entries.append((SignalGenerator, "test/lab/mw", f"{WORLD}#mw"))
    with devices(*entries) as context:
        proxies = {name: context.get_device(f"test/lab/{name}") for name in [*names, "mw"]}
        for proxy in proxies.values():
            proxy.set_source(tango.DevSource.DEV)  # live values, not the polling cache
        yield proxies


def focus_on_nv(lab) -> None:
    scanner = lab["scanner"]
    for axis, value in zip("xyz", NV, strict=True):
        scanner.write_attribute(axis, value)
    wait_while(scanner, tango.DevState.MOVING)


def run_sequence(lab) -> None:
    sequencer = lab["sequencer"]
    sequencer.Load(SEQUENCE.to_json())
    sequencer.repetitions = REPETITIONS
    wait_while(sequencer, tango.DevState.MOVING)
    sequencer.Run()
    wait_while(sequencer, tango.DevState.RUNNING)


def count_gates(lab, mode: LaserMode) -> np.ndarray:
    """Counts in gates A and B of a run with the laser in `mode`, as the counter's events
    report them."""
    laser, counter = lab["laser"], lab["counter"]
    laser.power, laser.mode, laser.emission = 1e-3, mode, True
    counter.counting_mode = CountingMode.SEQUENCE
    counter.Start()
    events = Events(counter, "gate_counts")
    run_sequence(lab)
    wait_while(counter, tango.DevState.RUNNING)
    final = counter.gate_counts
    assert counter.repetitions_counted == REPETITIONS
    events.wait_until(lambda values: any(np.array_equal(v, final) for v in values))
    laser.emission = False
    return final


def expected_in_light() -> float:
    rate = detected_rate(np.array([NV]), np.array(MODEL.sample.nv_centres), np.array([1e-3]),
                         MODEL.optics)[0]
    return rate * 1e-6 * REPETITIONS


def test_gated_laser_lights_only_the_gate_inside_its_pulse(lab):
    focus_on_nv(lab)
    a, b = count_gates(lab, LaserMode.GATED)
    mean = expected_in_light()
    assert a == pytest.approx(mean, abs=5 * np.sqrt(mean))
    assert b < 5  # dark counts only: 200 counts/s over 2 ms of gate B in all


def test_cw_laser_lights_both_gates_alike(lab):
    focus_on_nv(lab)
    a, b = count_gates(lab, LaserMode.CW)
    mean = expected_in_light()
    assert a == pytest.approx(mean, abs=5 * np.sqrt(mean))
    assert b == pytest.approx(mean, abs=5 * np.sqrt(mean))


def test_sequencer_steps_the_mw_list_and_triggers_one_camera_frame_per_repetition(lab):
    mw, camera = lab["mw"], lab["camera"]
    mw.list_frequencies = [2.80e9, 2.85e9, 2.90e9, 2.95e9, 3.00e9]
    mw.mode, mw.trigger_source, mw.output = Mode.LIST, TriggerSource.EXTERNAL, True
    camera.roi, camera.binning = [0, 0, 16, 16], 1
    camera.trigger_mode = TriggerMode.EXTERNAL
    camera.Acquire(REPETITIONS)
    before = mw.step
    run_sequence(lab)
    wait_while(camera, tango.DevState.RUNNING)
    assert camera.frame_count == REPETITIONS and camera.pairs == REPETITIONS // 2
    step = mw.step
    assert step == (before + REPETITIONS) % 5
    mw.SafeState()
    assert mw.state() == tango.DevState.OFF


def test_counter_bins_are_refused_while_counting_below_one_and_where_a_run_does_not_fit(lab):
    counter = lab["counter"]
    limit = MODEL.instruments.photon_counter.max_gates
    with pytest.raises(tango.DevFailed) as exc:
        counter.bins = 0
    assert exc.value.args[0].reason == "API_WAttrOutsideLimit"
    counter.counting_mode = CountingMode.SEQUENCE
    counter.Start()
    with pytest.raises(tango.DevFailed) as exc:
        counter.bins = 2
    assert exc.value.args[0].reason == "NANOMRI_BUSY" and counter.bins == 1
    counter.Stop()
    bins = limit // 2 + 1  # one gate a repetition would fit, the sequence's two do not
    counter.bins = bins
    try:
        counter.Start()
        run_sequence(lab)
        with pytest.raises(tango.DevFailed) as exc:
            counter.read_attribute("gate_counts")
        error = exc.value.args[0]
        assert error.reason == "NANOMRI_OUT_OF_RANGE"
        assert f"{bins} bins x 2 gates" in error.desc and f"max_gates {limit}" in error.desc
    finally:
        counter.Stop()
        counter.bins = 1


def test_counter_bins_hold_alternate_repetitions_apart(lab):
    focus_on_nv(lab)
    lab["counter"].bins = 2
    try:
        counts = count_gates(lab, LaserMode.GATED).reshape(2, 2)
    finally:
        lab["counter"].bins = 1
    half = expected_in_light() / 2
    assert counts[:, 0] == pytest.approx(np.full(2, half), abs=5 * np.sqrt(half))
    assert (counts[:, 1] < 5).all()
