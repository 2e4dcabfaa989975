"""The point measurements of the sensor NV from the Door, on the whole simulated stack: their
files hold the physics of the world, their fits find it, bad lines are refused."""

from pathlib import Path

import h5py
import numpy as np
import pytest

from nanomri import nv_spin
from nanomri.analysis import fits
from nanomri.world import load_world

from .conftest import StackRun
from .tango_context import CONFOCAL
from .test_stock_scans import device

pytestmark = pytest.mark.stack

MODEL = load_world(CONFOCAL)
MW_POWER = 1e-2  # W
RABI = MODEL.sensor.spin.rabi_per_sqrt_watt * np.sqrt(MW_POWER)


@pytest.fixture(scope="module")
def sensor(stack: StackRun) -> StackRun:
    """The focus on the sensor NV, the MW on at D with 10 MHz of Rabi frequency."""
    x, y, z = MODEL.sample.nv_centres[MODEL.sensor.nv]
    stack.run_ok(f"mv x {x} y {y} z {z}")
    mw = device(stack, "nanomri/confocal/mw")
    mw.power, mw.frequency, mw.output = MW_POWER, nv_spin.ZERO_FIELD_SPLITTING, True
    return stack


def last_file(stack: StackRun, out: str) -> Path:
    line = next(s for s in out.splitlines() if "nanomri NeXus file:" in s)
    return Path(line.split("nanomri NeXus file:")[1].strip())


def sweep(stack: StackRun, line: str, quantity: str) -> tuple[np.ndarray, np.ndarray, str]:
    """Run a point measurement; its swept values, ratios, and output."""
    done = stack.run_ok(line)
    with h5py.File(last_file(stack, done.stdout + done.stderr), "r") as h5:
        m = h5["entry/measurement"]
        x, ratio = m[quantity][()], m["ratio"][()]
        assert h5["entry/end_status"][()] == b"Normal"
        assert "sensor" in h5["entry/sample/world"][()].decode()
    return x, ratio, done.stdout


def test_rabi_oscillates_at_the_rabi_frequency_of_the_mw_power(sensor):
    x, ratio, out = sweep(sensor, "rabi 0 300e-9 31 100000", "duration")
    assert len(x) == 31 and np.isfinite(ratio).all()
    fit = fits.rabi(x, ratio)
    assert fit["frequency"] == pytest.approx(RABI, rel=0.1)
    assert "fit: frequency" in out and "pi pulse" in out


def test_pulsed_odmr_dips_at_the_nv_resonance(sensor):
    f0 = nv_spin.ZERO_FIELD_SPLITTING
    x, ratio, out = sweep(sensor, f"odmr {f0 - 30e6} {f0 + 30e6} 31 100000", "mw_frequency")
    fit = fits.odmr(x, ratio)
    assert fit["centre"] == pytest.approx(f0, abs=2e6)  # the retracted tip: < 1 MHz
    assert 0.1 < fit["depth"] < 0.4
    assert "fit: centre" in out


def test_a_sweep_with_one_point_is_refused_and_writes_nothing(sensor):
    done = sensor.cli("run", "rabi 0 1e-7 1 1000")
    assert done.returncode != 0 and "n >= 2" in done.stdout + done.stderr
