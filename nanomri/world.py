"""World files: the schema of a simulated set-up (sample, optics, instrument timing) and its loader.

A world is YAML (`conf/worlds/*.yaml`, documented in `conf/worlds/README.md`). Every key is
checked: an unknown key, a missing one, a non-finite or out-of-range value, or an NV centre
outside the scanner's travel gives one `WorldError` line naming the file and the key. A world
may name a `base` world it changes: the set-up of one lab shared by the samples it measures.
"""

from pathlib import Path

import yaml
from pydantic import Field, ValidationError, model_validator

from .world_sections.camera import CameraSpec
from .world_sections.common import AXES, Finite, NonNegative, Positive, Strict
from .world_sections.laser import LaserSpec
from .world_sections.magnet import MagnetSpec
from .world_sections.photon_counter import PhotonCounterSpec
from .world_sections.probe import ProbeSpec, SurfaceSpec
from .world_sections.scanner import ScannerSpec
from .world_sections.sensor import SensorSpec
from .world_sections.sequencer import SequencerSpec
from .world_sections.signal_generator import SignalGeneratorSpec
from .world_sections.tunnel_current import TunnelCurrentSpec

__all__ = ["AXES", "World", "WorldError", "load_world", "parse_world", "world_document"]


class Sample(Strict):
    """NV centres in the diamond, positions in the scanner frame (m); the surface a tip scans
    (in the probe's frame), where the world has one."""

    nv_centres: list[tuple[Finite, Finite, Finite]] = Field(min_length=1)
    surface: SurfaceSpec | None = None


class Optics(Strict):
    """Confocal detection of NV fluorescence."""

    psf_fwhm_lateral: Positive  # m
    psf_fwhm_axial: Positive  # m
    nv_saturation_rate: Positive  # detected counts/s of one NV at saturation
    nv_saturation_power: Positive  # W at the objective
    background_rate_per_watt: NonNegative  # diamond / optics fluorescence, counts/s per W
    dark_count_rate: NonNegative  # APD dark counts, counts/s
    detector_dead_time: NonNegative  # s, non-paralysable


class Instruments(Strict):
    """Every simulated instrument; the optional ones exist only in worlds that have them."""

    scanner: ScannerSpec
    laser: LaserSpec
    photon_counter: PhotonCounterSpec
    probe: ProbeSpec | None = None  # STM/AFM scan head over the sample surface
    sequencer: SequencerSpec | None = None
    mw: SignalGeneratorSpec | None = None  # drives the NV spin
    rf: SignalGeneratorSpec | None = None  # drives dark spins or the STM tip
    camera: CameraSpec | None = None
    magnet: MagnetSpec | None = None
    tunnel_current: TunnelCurrentSpec | None = None


class World(Strict):
    """A whole simulated set-up."""

    name: str = Field(min_length=1)
    seed: int = Field(ge=0)
    # simulated seconds per second of wall time: >1 plays hours-long experiments as a
    # time-lapse (every instrument's timing scaled alike); benchmarks need 1
    clock_rate: float = Field(default=1.0, ge=1.0, le=1000.0)
    sample: Sample
    optics: Optics
    instruments: Instruments
    sensor: SensorSpec | None = None  # the NV whose spin the instruments drive

    @model_validator(mode="after")
    def _consistent(self) -> "World":
        scanner, laser = self.instruments.scanner, self.instruments.laser
        low, high = scanner.position_min.as_dict(), scanner.position_max.as_dict()
        for i, nv in enumerate(self.sample.nv_centres):
            for axis, value in zip(AXES, nv, strict=True):
                if not low[axis] <= value <= high[axis]:
                    raise ValueError(f"sample.nv_centres[{i}].{axis} = {value:g} m is outside "
                                     f"the scanner range [{low[axis]:g}, {high[axis]:g}] m")
        if laser.initial_power > laser.max_power:
            raise ValueError("instruments.laser.initial_power exceeds max_power")
        counter = self.instruments.photon_counter
        if counter.min_dwell > counter.max_dwell:
            raise ValueError("instruments.photon_counter.min_dwell exceeds max_dwell")
        self._check_sensor()
        return self

    def _check_sensor(self) -> None:
        sensor = self.sensor
        if sensor is None:
            return
        if sensor.nv >= len(self.sample.nv_centres):
            raise ValueError(f"sensor.nv = {sensor.nv}: sample.nv_centres has only "
                             f"{len(self.sample.nv_centres)} entries")


class WorldError(ValueError):
    """A world file that cannot be used, with the reason in one line."""


def _describe(error: dict) -> str:
    where = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        parent, _, key = where.rpartition(".")
        return f"{parent + ': ' if parent else ''}unknown key {key!r}"
    message = error["msg"].removeprefix("Value error, ")
    if isinstance(error.get("input"), int | float) and error["type"] != "value_error":
        message += f", got {error['input']}"
    return f"{where}: {message}" if where else message


def _read_mapping(text: str, source: str) -> dict:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", exc)
        raise WorldError(f"{source}: not valid YAML{line}: {problem}") from None
    if not isinstance(data, dict):
        raise WorldError(f"{source}: a world file is a YAML mapping, got {type(data).__name__}")
    return data


def _merged(base: dict, changes: dict) -> dict:
    """`base` with `changes`: mappings merged key by key, anything else replaced."""
    out = dict(base)
    for key, value in changes.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _merged(out[key], value) if both else value
    return out


def world_document(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict:
    """The mapping of a world file with its `base` worlds (paths relative to it) merged in."""
    path = Path(path)
    if not path.is_file():
        raise WorldError(f"world file not found: {path}")
    if path.resolve() in _seen:
        raise WorldError(f"{path}: base worlds form a cycle")
    data = _read_mapping(path.read_text(), str(path))
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise WorldError(f"{path}: base must be the path of a world file, got {base!r}")
    inherited = world_document(path.parent / base, (*_seen, path.resolve()))
    return _merged(inherited, data)


def _validated(data: dict, source: str) -> World:
    try:
        return World.model_validate(data)
    except ValidationError as exc:
        raise WorldError(f"{source}: " + "; ".join(_describe(e) for e in exc.errors())) from None


def parse_world(text: str, source: str = "<world>") -> World:
    """Validate world YAML text (without a `base`); `source` names it in errors."""
    return _validated(_read_mapping(text, source), source)


def load_world(path: str | Path) -> World:
    """Read and validate a world file, its base worlds merged in."""
    return _validated(world_document(path), str(path))
