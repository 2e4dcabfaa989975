"""The confocal world with its magnet section changed, for the magnet's tests and the magnet
controller's: as YAML text, or as a `sim:` driver whose magnet ramps fast."""

import yaml

from .tango_context import CONFOCAL


def world_text(**magnet) -> str:
    """The confocal world with its magnet section changed by `magnet`; the other optional
    instruments are left out (the magnet needs none of them)."""
    world = yaml.safe_load(CONFOCAL.read_text())
    instruments = world["instruments"]
    for name in set(instruments) - {"scanner", "laser", "photon_counter", "magnet"}:
        del instruments[name]
    instruments["magnet"].update(magnet)
    return yaml.safe_dump(world)


def fast_world(tmp_path, **magnet) -> str:
    """A `sim:` driver on a world whose magnet ramps 0.25 T/s and switches in about a second."""
    fast = dict(max_ramp_rate=1.0, initial_ramp_rate=0.25, switch_heat_time=0.8,
                switch_cool_time=1.0)
    path = tmp_path / "fast_magnet.yaml"
    path.write_text(world_text(**{**fast, **magnet}))
    return f"sim:{path}"
