"""`nanomri locate`: a dark spin found from the files of a `freqlock ... deer` scan and a `deer`
spectrum, written as the macros write them, with data from the world's physics."""

from pathlib import Path

import numpy as np
import pytest

from cli.locate import layer_files, locate_files
from cli.main import main
from nanomri import dark_spins
from nanomri.cli.demo_layer import MAP_XY as LAYER_MAP_XY
from nanomri.cli.demo_layer import MAP_Z as LAYER_MAP_Z
from nanomri.cli.demo_layer import RF_OFFSET as LAYER_RF_OFFSET
from nanomri.cli.demo_layer import TAU
from nanomri.nexus import COUNTER, MOTOR, Column, Instrument, ScanFile
from nanomri.nv_spin import GAMMA_E, transition_frequency

from .dark_spin_data import BIAS, CONTRAST, RF_OFFSET, SENSOR, flips, layer_image, tip_field

NM = 1e-9
NV = np.array([2.5e-6, 2.5e-6, 0.4955e-6])  # the NV in the scan head's frame: motor positions
LOCK_NOISE, RATIO_NOISE = 0.2e6, 0.01  # Hz, ratio: long averages
AXES = ("tip_x", "tip_y", "tip_z")


def write(path: Path, title: str, data: dict[str, np.ndarray], motors: tuple[str, ...],
          instruments: tuple[Instrument, ...] = ()) -> Path:
    n = len(next(iter(data.values())))
    columns = [Column("point_nb", "point_nb"), *(Column(m, m, "m", MOTOR) for m in motors),
               *(Column(k, k, "", COUNTER) for k in data if k not in motors)]
    file = ScanFile(path, title=title, serialno=1, columns=columns, npoints=n,
                    instruments=instruments)
    for i in range(n):
        file.write_point(i, {"point_nb": i, **{k: v[i] for k, v in data.items()}})
    file.close()
    return path


def spectrum_file(folder: Path, rng) -> Path:
    f = GAMMA_E * BIAS + np.linspace(-20e6, 20e6, 61)
    ratio = 1 - CONTRAST * flips(GAMMA_E * BIAS, f) + rng.normal(0, RATIO_NOISE, f.size)
    return write(folder / "spectrum.h5", "deer 3.34e9 3.38e9 61 9e-6 100000",
                 {"rf_frequency": f, "ratio": ratio}, ("rf_frequency",))


STACK_XY, STACK_Z = np.arange(-8, 8.01) * NM, np.arange(30, 46.01, 2.0) * NM


def lock_file(folder: Path, rng, spin: np.ndarray, xy: np.ndarray = STACK_XY,
              z: np.ndarray = STACK_Z, name: str = "lock.h5") -> Path:
    """A freqlock scan with DEER at every pixel (by default 9 planes of 17 x 17 pixels of the
    apex)."""
    tips = np.stack(np.meshgrid(xy, xy, z, indexing="ij"), axis=-1).reshape(-1, 3)
    nv_field = tip_field(np.zeros(3), tips)[:, 2] + BIAS
    locked = transition_frequency(nv_field) + rng.normal(0, LOCK_NOISE, len(tips))
    field = tip_field(spin, tips) + [0.0, 0.0, BIAS]
    rf = GAMMA_E * BIAS + RF_OFFSET
    ratio = 1 - CONTRAST * flips(dark_spins.resonance(field), rf)
    ratio += rng.normal(0, RATIO_NOISE, len(tips))
    absolute = tips + NV
    rf_settings = Instrument("rf", "nanomri/confocal/rf", "sim", {"frequency": (rf, "Hz")})
    return write(folder / name, "freqlock 2.9e9 4e7 cw 10000 2 deer 9e-6 100000 [...]",
                 {"tip_x": absolute[:, 0], "tip_y": absolute[:, 1], "tip_z": absolute[:, 2],
                  "mw_frequency": locked, "ratio": ratio}, AXES, (rf_settings,))


@pytest.mark.parametrize("seed", [0, 1])
def test_locate_finds_the_dark_spin_of_a_lock_scan_within_half_a_nanometre(tmp_path, seed):
    rng = np.random.default_rng(seed)
    spin = (np.array(SENSOR.dark_spins.coherent[0]) if seed == 0
            else np.r_[rng.uniform(-4, 4, 2), rng.uniform(-3, 3)] * NM)
    found = locate_files(lock_file(tmp_path, rng, spin), spectrum_file(tmp_path, rng))
    assert np.all(np.abs(found.offset - spin) < 0.5 * NM), (found.offset / NM, spin / NM)


def test_a_map_of_a_larger_volume_locates_the_spin_of_a_two_plane_image(tmp_path):
    """Two DEER planes of 17 x 17 pixels over the spin: their own locked frequencies cover too
    little of the volume the spin's PSF needs; a lock map around the NV does."""
    rng = np.random.default_rng(4)
    spin = np.array(SENSOR.dark_spins.coherent[0])
    image = lock_file(tmp_path, rng, spin, xy=np.arange(-4, 12.01) * NM,
                      z=np.array([36.0, 40.0]) * NM)
    field = lock_file(tmp_path, rng, spin, xy=np.arange(-12, 12.01, 2.0) * NM,
                      z=np.arange(34, 50.01, 2.0) * NM, name="map.h5")
    spectrum = spectrum_file(tmp_path, rng)
    with pytest.raises(ValueError):
        locate_files(image, spectrum)
    found = locate_files(image, spectrum, field_map=field)
    assert np.all(np.abs(found.offset - spin) < 0.5 * NM), (found.offset / NM, spin / NM)


def test_locate_refuses_files_of_the_wrong_scans(tmp_path, capsys):
    rng = np.random.default_rng(3)
    lock = lock_file(tmp_path, rng, np.zeros(3))
    assert main(["locate", str(lock), str(lock)]) == 1
    assert "not a deer RF spectrum" in capsys.readouterr().err


def layer_plane_file(folder: Path, rng, height: float) -> Path:
    """A `freqlock ... deer` plane (tip_z not scanned: the probe's z recorded with the scan)
    over a random layer of dark spins `height` over the NV."""
    image = layer_image(rng, height)
    x, y = np.meshgrid(image.axes[0], image.axes[1], indexing="ij")
    apex = NV[2] + image.axes[2][0]
    settings = (Instrument("rf", "nanomri/confocal/rf", "sim",
                           {"frequency": (GAMMA_E * BIAS + LAYER_RF_OFFSET, "Hz")}),
                Instrument("probe", "nanomri/confocal/probe", "sim", {"z": (apex, "m")}))
    return write(folder / "plane.h5", f"freqlock 2.9e9 4e7 cw 10000 2 deer {TAU} 100000 [...]",
                 {"tip_x": NV[0] + x.ravel(), "tip_y": NV[1] + y.ravel(),
                  "mw_frequency": np.full(x.size, 2.0e9), "ratio": image.values.ravel()},
                 AXES[:2], settings)


def test_locate_layer_finds_a_random_layer_at_its_height_from_a_plane(tmp_path, capsys):
    rng = np.random.default_rng(8)
    height = rng.uniform(8, 12) * NM
    plane = layer_plane_file(tmp_path, rng, height)
    spectrum = spectrum_file(tmp_path, rng)
    field = lock_file(tmp_path, rng, np.zeros(3), xy=LAYER_MAP_XY, z=LAYER_MAP_Z, name="map.h5")
    assert main(["locate", str(plane), str(spectrum), "--map", str(field), "--layer"]) == 0
    found = float(capsys.readouterr().out.split("layer ")[1].split()[0]) * NM
    assert found == pytest.approx(height, abs=0.5 * NM)


def test_locate_layer_refuses_a_map_that_does_not_reach_under_the_image(tmp_path):
    rng = np.random.default_rng(9)
    plane = layer_plane_file(tmp_path, rng, 10 * NM)
    field = lock_file(tmp_path, rng, np.zeros(3), xy=LAYER_MAP_XY, z=LAYER_MAP_Z + 30 * NM,
                      name="map.h5")
    with pytest.raises(ValueError, match="must reach at least 2 nm further under"):
        layer_files(plane, spectrum_file(tmp_path, rng), field_map=field)
