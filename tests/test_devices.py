"""The three skeleton devices through PyTango's test context, on the shipped confocal world."""

import math
import time

import pytest
import tango

from nanomri.devices.laser import NVLaser
from nanomri.devices.photon_counter import PhotonCounter
from nanomri.devices.scanner import Scanner

from .tango_context import device, reason, wait_while


def test_scanner_moves_in_real_time_and_arrives():
    with device(Scanner) as scanner:
        start = scanner.x
        scanner.x = start + 2e-6
        assert scanner.state() == tango.DevState.MOVING
        wait_while(scanner, tango.DevState.MOVING)
        assert scanner.state() == tango.DevState.ON
        assert scanner.x == pytest.approx(start + 2e-6, abs=1e-10)


def test_scanner_refuses_out_of_range_and_nan_and_stays_put():
    with device(Scanner) as scanner:
        before = scanner.x
        high = scanner.get_attribute_config("x").max_value
        with pytest.raises(tango.DevFailed) as exc:
            scanner.x = float(high) * 2
        assert reason(exc) == "API_WAttrOutsideLimit"
        for bad in (math.nan, math.inf):
            with pytest.raises(tango.DevFailed) as exc:
                scanner.x = bad
            assert reason(exc) == "API_WAttrOutsideLimit"
        assert scanner.state() == tango.DevState.ON
        assert scanner.x == before


def test_scanner_limits_come_from_the_world_file():
    with device(Scanner) as scanner:
        config = scanner.get_attribute_config("z")
        assert float(config.min_value) < float(config.max_value)
        assert config.unit == "m"


def test_stop_halts_a_move_short_of_its_target():
    with device(Scanner) as scanner:
        start = scanner.y
        scanner.y = start + 50e-6
        time.sleep(0.02)
        scanner.Stop()
        wait_while(scanner, tango.DevState.MOVING)
        assert start < scanner.y < start + 50e-6


def test_laser_starts_blanked_and_refuses_power_above_max():
    with device(NVLaser) as laser:
        assert laser.state() == tango.DevState.OFF
        assert laser.emission is False
        max_power = float(laser.get_attribute_config("power").max_value)
        with pytest.raises(tango.DevFailed) as exc:
            laser.power = max_power * 1.5
        assert reason(exc) == "API_WAttrOutsideLimit"
        laser.power = max_power / 2
        laser.emission = True
        assert laser.state() == tango.DevState.ON
        laser.Stop()
        assert laser.state() == tango.DevState.OFF and laser.power == max_power / 2


def test_counter_gate_runs_for_its_dwell_and_counts_dark_counts_only():
    with device(PhotonCounter) as counter:
        counter.dwell = 0.05
        start = time.monotonic()
        counter.Start()
        assert counter.state() == tango.DevState.RUNNING
        with pytest.raises(tango.DevFailed) as exc:
            counter.dwell = 0.1
        assert reason(exc) == "NANOMRI_BUSY"
        wait_while(counter, tango.DevState.RUNNING)
        assert time.monotonic() - start >= 0.05
        # no laser device in this process: the world's laser is blanked, only dark counts
        assert 0 <= counter.counts < 0.05 * 1e4
        assert counter.dwell == 0.05


def test_counter_refuses_negative_dwell():
    with device(PhotonCounter) as counter:
        before = counter.dwell
        with pytest.raises(tango.DevFailed) as exc:
            counter.dwell = -1.0
        assert reason(exc) == "API_WAttrOutsideLimit"
        assert counter.dwell == before


def test_unknown_driver_puts_device_in_fault_with_a_status_naming_it():
    with device(Scanner, driver="nosuch:whatever") as scanner:
        assert scanner.state() == tango.DevState.FAULT
        assert "scanner.nosuch" in scanner.status()
        with pytest.raises(tango.DevFailed) as exc:
            scanner.read_attribute("x")
        assert "NANOMRI_NO_DRIVER" in str(exc.value)
