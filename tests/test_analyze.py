"""`nanomri analyze` finds in a scan file what the macro that wrote it measured."""

import re

import numpy as np
import pytest

from nanomri.analysis.lines import tip_gradient
from nanomri.cli.analyze import analyze
from nanomri.nexus import COUNTER, MOTOR, Column, Raster, ScanFile


def write(path, title: str, motor: str, x: np.ndarray, ratio: np.ndarray,
          snapshot: dict[str, float] | None = None) -> None:
    columns = [Column("point_nb", "point_nb"), Column(motor, motor, "", MOTOR),
               Column("ratio", "ratio", "", COUNTER)]
    file = ScanFile(path, title=title, serialno=1, columns=columns, npoints=len(x),
                    snapshot=snapshot)
    for i, (a, b) in enumerate(zip(x, ratio, strict=True)):
        file.write_point(i, {"point_nb": i, motor: a, "ratio": b})
    file.close()


def number_after(text: str, name: str) -> float:
    return float(re.search(rf"{name} = ?([-+0-9.e]+)", text).group(1))


def test_a_rabi_file_gives_its_rabi_frequency(tmp_path):
    rng = np.random.default_rng(2)
    t = np.linspace(0, 300e-9, 61)
    ratio = 0.9 + 0.1 * np.cos(2 * np.pi * 12e6 * t) + rng.normal(0, 0.01, t.size)
    write(tmp_path / "s.h5", "rabi 0 3e-7 61 100000", "duration", t, ratio)
    (line,) = analyze(tmp_path / "s.h5")
    assert number_after(line, "frequency") == pytest.approx(12e6, rel=0.02)


def ramsey_line(path, snapshot: dict[str, float] | None) -> None:
    rng = np.random.default_rng(3)
    y = np.linspace(2.5205e-6, 2.5255e-6, 101)
    ratio = 0.92 + 0.06 * np.cos(2 * np.pi * (y - y[0]) / 3.3e-10) + rng.normal(0, 0.01, y.size)
    write(path, "nvline tip_y 2.5205e-6 2.5255e-6 101 ramsey 4.5e-07 100000", "tip_y", y,
          ratio, snapshot)


def test_a_ramsey_line_file_gives_its_fringe_period_and_the_gradient_its_pulses_mean(tmp_path):
    ramsey_line(tmp_path / "s.h5", {"mw_pi_half": 10e-9})
    period, gradient = analyze(tmp_path / "s.h5")
    found = float(period.split()[2])
    assert found == pytest.approx(3.3e-10, rel=0.05)
    # the phase time tau + 4 t_pi2 / pi: 2.8 % longer than tau for 10 ns pulses
    assert "G/nm" in gradient and float(gradient.split()[2]) == pytest.approx(
        tip_gradient(found, 450e-9, pi_half=10e-9), rel=1e-3)


def test_a_ramsey_line_file_without_its_pulse_length_is_refused(tmp_path):
    ramsey_line(tmp_path / "s.h5", None)
    with pytest.raises(ValueError, match="pi/2 pulse"):
        analyze(tmp_path / "s.h5")


def test_a_file_of_a_macro_without_analysis_is_refused_by_name(tmp_path):
    write(tmp_path / "s.h5", "ascan x 0 1 9 0.1", "x", np.arange(10.0), np.ones(10))
    with pytest.raises(ValueError, match="'ascan'"):
        analyze(tmp_path / "s.h5")


def test_a_t1_image_file_gives_the_clusters_edges_on_its_rows(tmp_path):
    """A cluster darker by 5 % between x = 150 and 250 nm on 6 of 8 rows, 1 % noise."""
    rng = np.random.default_rng(5)
    x, y = np.arange(50) * 8.3e-9, np.arange(8) * 8.3e-9
    raster = Raster("tip_x", "tip_y", x, y)
    columns = [Column("point_nb", "point_nb"), Column("tip_y", "tip_y", "m", MOTOR),
               Column("tip_x", "tip_x", "m", MOTOR), Column("ratio", "ratio", "", COUNTER)]
    title = f"nvraster tip_x 0 {x[-1]} 50 tip_y 0 {y[-1]} 8 t1 5e-05 100000"
    file = ScanFile(tmp_path / "s.h5", title=title, serialno=1, columns=columns, npoints=400,
                    raster=raster)
    for i, (row, column) in enumerate(np.ndindex(8, 50)):
        inside = 1 <= row <= 6 and 150e-9 <= x[column] <= 250e-9
        ratio = 1 - 0.05 * inside + rng.normal(0, 0.01)
        file.write_point(i, {"point_nb": i, "tip_y": y[row], "tip_x": x[column], "ratio": ratio})
    file.close()
    found = "\n".join(analyze(tmp_path / "s.h5"))
    assert "cluster on 6 of 8 rows" in found, found
    left = float(re.search(r"left edge at median ([-+0-9.e]+)", found).group(1))
    right = float(re.search(r"right edge at median ([-+0-9.e]+)", found).group(1))
    # the edges lie between the last pixel out and the first in: 153.5 and 253.2 nm
    assert left == pytest.approx(153.5e-9, abs=4e-9) and right == pytest.approx(253.2e-9, abs=4e-9)
