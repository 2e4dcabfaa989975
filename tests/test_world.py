"""World files: the shipped one loads; every kind of mistake is named in one line."""

import pytest
import yaml

from nanomri.world import WorldError, load_world, parse_world

from .conftest import ROOT

SHIPPED = ROOT / "conf" / "worlds" / "confocal.yaml"


def edited(change) -> str:
    data = yaml.safe_load(SHIPPED.read_text())
    change(data)
    return yaml.safe_dump(data)


def error_of(text: str) -> str:
    with pytest.raises(WorldError) as exc:
        parse_world(text, "w.yaml")
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_shipped_confocal_world_loads():
    world = load_world(SHIPPED)
    assert world.name == "confocal" and len(world.sample.nv_centres) >= 3


def test_unknown_key_is_named_in_error():
    text = edited(lambda d: d["optics"].update(opticz=1))
    assert error_of(text) == "w.yaml: optics: unknown key 'opticz'"


def test_negative_psf_is_refused_with_its_value():
    text = edited(lambda d: d["optics"].update(psf_fwhm_lateral=-3e-7))
    assert "optics.psf_fwhm_lateral" in error_of(text) and "-3e-07" in error_of(text)


def test_nan_rate_is_refused():
    text = edited(lambda d: d["optics"].update(dark_count_rate=float("nan")))
    assert "optics.dark_count_rate" in error_of(text)


def test_nv_outside_scanner_range_is_rejected():
    text = edited(lambda d: d["sample"]["nv_centres"][0].__setitem__(2, 20e-6))
    assert "sample.nv_centres[0].z" in error_of(text) and "scanner range" in error_of(text)


def test_missing_key_is_named():
    text = edited(lambda d: d["instruments"].pop("laser"))
    assert "instruments.laser" in error_of(text)


def test_yaml_syntax_error_gives_its_line():
    assert "line 3" in error_of("name: x\nseed: 1\n  bad: 2\nsample: {}\n")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(WorldError, match="world file not found"):
        load_world(tmp_path / "none.yaml")


def write(path, data) -> None:
    path.write_text(yaml.safe_dump(data))


def test_a_world_on_a_base_changes_only_what_it_names(tmp_path):
    write(tmp_path / "lab.yaml", yaml.safe_load(SHIPPED.read_text()))
    (tmp_path / "samples").mkdir()
    write(tmp_path / "samples" / "cell.yaml",
          {"base": "../lab.yaml", "name": "cell", "optics": {"psf_fwhm_lateral": 2.5e-7},
           "sample": {"nv_centres": [[1e-6, 2e-6, 3e-6]]}})
    lab, cell = load_world(SHIPPED), load_world(tmp_path / "samples" / "cell.yaml")
    assert cell.name == "cell" and cell.optics.psf_fwhm_lateral == 2.5e-7
    assert cell.optics.psf_fwhm_axial == lab.optics.psf_fwhm_axial  # merged, not replaced
    assert cell.sample.nv_centres == [(1e-6, 2e-6, 3e-6)]  # a list is replaced
    assert cell.sample.surface == lab.sample.surface
    assert cell.instruments == lab.instruments


def test_a_bad_base_is_named(tmp_path):
    write(tmp_path / "a.yaml", {"base": "b.yaml", "name": "a"})
    write(tmp_path / "b.yaml", {"base": "a.yaml", "name": "b"})
    with pytest.raises(WorldError, match="cycle"):
        load_world(tmp_path / "a.yaml")
    write(tmp_path / "c.yaml", {"base": "missing.yaml"})
    with pytest.raises(WorldError, match="missing.yaml"):
        load_world(tmp_path / "c.yaml")
    write(tmp_path / "d.yaml", {"base": 3})
    with pytest.raises(WorldError, match="base must be the path"):
        load_world(tmp_path / "d.yaml")


def test_clock_rate_is_one_unless_set_and_never_below():
    assert load_world(SHIPPED).clock_rate == 1.0
    assert "clock_rate" in error_of(edited(lambda d: d.update(clock_rate=0.5)))
