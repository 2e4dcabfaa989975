"""Simulated instruments opened as a device opens them: one per world section, linked to the
others, and the same instrument with its settings when a device's Init opens it again."""

import dataclasses
import shutil
from collections.abc import Callable
from typing import Any

import pytest

from nanomri.devices.registry import open_driver
from nanomri.simulators.sim_world import Links
from nanomri.world import Instruments

from .tango_context import CONFOCAL

Change = Callable[[Any], None]
Read = Callable[[Any], object]

SETTINGS: dict[str, tuple[str, Change, Read]] = {  # section: (entry point, change, read back)
    "scanner": ("scanner", lambda d: d.set_velocity("x", 1.0e-5), lambda d: d.velocity("x")),
    "laser": ("laser", lambda d: d.set_power(2.5e-3), lambda d: d.power()),
    "photon_counter": ("photon_counter", lambda d: d.start(100.0), lambda d: d.is_counting()),
    "probe": ("scan_head", lambda d: d.set_leapfrog_height(1.0e-9),
              lambda d: d.leapfrog_height()),
    "sequencer": ("sequencer", lambda d: d.set_repetitions(7), lambda d: d.repetitions()),
    "mw": ("signal_generator", lambda d: d.set_frequency(2.5e9), lambda d: d.frequency()),
    "rf": ("signal_generator", lambda d: d.set_frequency(7.5e6), lambda d: d.frequency()),
    "camera": ("camera", lambda d: d.set_exposure(0.125), lambda d: d.exposure()),
    "magnet": ("magnet", lambda d: d.set_ramp_rate(1.0e-3), lambda d: d.ramp_rate()),
    "tunnel_current": ("tunnel_current", lambda d: d.set_bias(0.25), lambda d: d.bias()),
}


def test_every_world_section_has_a_typed_link_and_a_setting_tested_here():
    sections = set(Instruments.model_fields)
    assert {field.name for field in dataclasses.fields(Links)} == sections
    assert set(SETTINGS) == sections


@pytest.mark.parametrize("section", sorted(SETTINGS))
def test_a_setting_made_before_a_devices_init_is_there_after_it(tmp_path, section):
    instrument, change, read = SETTINGS[section]
    world = tmp_path / "world.yaml"  # a world of this test's own in the process
    shutil.copy(CONFOCAL, world)
    address = f"sim:{world}#{section}"
    driver = open_driver(instrument, address)
    before = read(driver)
    change(driver)
    after = read(driver)
    assert after != before
    again = open_driver(instrument, address)  # what the device's Init does
    assert again is driver and read(again) == after
    assert getattr(driver.world.links, section) is driver
