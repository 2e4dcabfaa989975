"""The runtime world of one server process: what every simulated instrument has been told.

The scanner's trajectories, the laser's history and the scan head's drift compensation live
here, so the photon counter computes its counts from what the other instruments actually did
during its gate and every instrument sees the sample where the scan head has it; the simulated
instruments themselves are its `Links`, one per section of the world file.
"""

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from nanomri.world import AXES, Instruments, World, load_world

from .motion import Trajectory
from .playback import Playback

if TYPE_CHECKING:  # the drivers import this module
    from .drivers.camera import SimCamera
    from .drivers.laser import SimLaser
    from .drivers.magnet import SimVectorMagnet
    from .drivers.photon_counter import SimPhotonCounter
    from .drivers.scan_head import SimProbe
    from .drivers.scanner import SimScanner
    from .drivers.sequencer import SimSequencer
    from .drivers.signal_generator import SimSignalGenerator
    from .drivers.tunnel_current import SimTunnelCurrent

Clock = Callable[[], float]
Driver = TypeVar("Driver")


class LaserHistory:
    """Power reaching the sample as a step function of time (0 while blanked), and whether the
    beam was gated by the sequencer's laser channel from each step on."""

    def __init__(self, t: float):
        self.times = [t]
        self.powers = [0.0]
        self.gated = [False]

    def record(self, t: float, power: float, gated: bool = False) -> None:
        self.times.append(t)
        self.powers.append(power)
        self.gated.append(gated)

    def _index(self, t: np.ndarray) -> np.ndarray:
        return np.clip(np.searchsorted(np.asarray(self.times), t, side="right") - 1, 0, None)

    def at(self, t: np.ndarray) -> np.ndarray:
        """Power of the unblanked beam at each time, before any gating (W)."""
        return np.asarray(self.powers)[self._index(t)]

    def gated_at(self, t: np.ndarray) -> np.ndarray:
        """True where the beam followed the sequencer's laser channel."""
        return np.asarray(self.gated)[self._index(t)]


class DriftCompensation:
    """Offset (m, per axis) the scan head's drift compensation has added to its piezos: the
    drift estimate integrated over time, piecewise linear, continuous across changes of the
    estimate. The last `HISTORY` changes are kept, for queries of the recent past."""

    HISTORY = 10_000

    def __init__(self, t: float):
        # (times, offsets at them, velocities from them), replaced whole: readers in other
        # instruments' threads see one consistent history
        self._pieces = (np.array([t]), np.zeros((1, 3)), np.zeros((1, 3)))

    def at(self, times: np.ndarray | float) -> np.ndarray:
        """Offset at each of `times`, shape times.shape + (3,); 0 before the first change."""
        starts, offsets, velocities = self._pieces
        times = np.asarray(times, dtype=float)
        k = np.clip(np.searchsorted(starts, times, side="right") - 1, 0, None)
        return offsets[k] + velocities[k] * (times - starts[k])[..., None]

    def velocity(self, t: float) -> np.ndarray:
        """(3,) the estimate applied at time `t` (m/s)."""
        starts, _, velocities = self._pieces
        return velocities[max(int(np.searchsorted(starts, t, side="right")) - 1, 0)]

    def change(self, t: float, velocity: np.ndarray) -> None:
        """Apply `velocity` (3,) from `t` on (not before the last change), starting from the
        offset reached at `t`."""
        starts, offsets, velocities = self._pieces
        self._pieces = (np.append(starts, t)[-self.HISTORY:],
                        np.vstack([offsets, self.at(t)])[-self.HISTORY:],
                        np.vstack([velocities, velocity])[-self.HISTORY:])

def scaled_clock(rate: float, wall: Clock = time.monotonic) -> Clock:
    """World time (s) that runs `rate` times faster than `wall` from now, starting at 0 (a
    small origin keeps nanosecond resolution at any rate)."""
    origin = wall()
    return lambda: rate * (wall() - origin)


@dataclass
class Links:
    """The simulated instruments of one world, one field per section of the world file
    (`nanomri.world.Instruments`), None until that section is opened: how one instrument
    reaches another, e.g. the photon counter the sequencer's gates, the NV the magnet's field,
    the tunnel current the probe's gap."""

    scanner: "SimScanner | None" = None
    laser: "SimLaser | None" = None
    photon_counter: "SimPhotonCounter | None" = None
    probe: "SimProbe | None" = None
    sequencer: "SimSequencer | None" = None
    mw: "SimSignalGenerator | None" = None
    rf: "SimSignalGenerator | None" = None
    camera: "SimCamera | None" = None
    magnet: "SimVectorMagnet | None" = None
    tunnel_current: "SimTunnelCurrent | None" = None


class SimWorld:
    """A validated world plus the shared state of its simulated instruments, on the world's
    clock: by default the wall clock sped up by the world's `clock_rate`."""

    def __init__(self, model: World, clock: Clock | None = None):
        self.model = model
        self.clock = clock or scaled_clock(model.clock_rate)
        now = self.clock()
        start = model.instruments.scanner.initial_position.as_dict()
        self.paths = {axis: Trajectory.rest(start[axis], now) for axis in AXES}
        self.laser = LaserHistory(now)
        self.nv_centres = np.asarray(model.sample.nv_centres, dtype=float)
        self.links = Links()
        self.drift_compensation = DriftCompensation(now)  # written by the scan head
        self._drift_origin = now
        self._motion_listeners: list[Callable[[float], None]] = []

    def driver(self, section: str, make: Callable[[], Driver]) -> Driver:
        """The simulated instrument of `section`, made by `make` when the section is first
        opened and linked for the others to reach. One per section: opened again (a device's
        Init) it is the same instrument with its settings and a run in progress, as a real
        instrument keeps them when its server reconnects."""
        driver = getattr(self.links, section)
        if driver is None:
            driver = make()
            setattr(self.links, section, driver)
        return driver

    def playback(self) -> Playback | None:
        """What the sequencer plays or last played; None without a sequencer or a run."""
        sequencer = self.links.sequencer
        return None if sequencer is None else sequencer.playback

    def on_motion_start(self, listener: Callable[[float], None]) -> None:
        """Call `listener(t)` whenever the stage starts a move at world time t: the stage
        controller's motion-start trigger output."""
        self._motion_listeners.append(listener)

    def motion_started(self, t: float) -> None:
        """The stage started a move at `t`."""
        for listener in self._motion_listeners:
            listener(t)

    def rng(self, instrument: str) -> np.random.Generator:
        """A generator of its own for each instrument, from the world's seed."""
        key = zlib.crc32(instrument.encode())
        return np.random.default_rng(np.random.SeedSequence([self.model.seed, key]))

    def laser_power(self, times: np.ndarray) -> np.ndarray:
        """Laser power at the sample at each of `times` (W): the unblanked power, and in gated
        mode only while the sequencer plays its laser channel high."""
        times = np.asarray(times, dtype=float)
        power = self.laser.at(times)
        gated = self.laser.gated_at(times)
        if not gated.any():
            return power
        playback = self.playback()
        high = playback.high("laser", times) if playback is not None else np.zeros(times.shape)
        return np.where(gated, power * high, power)

    def sample_drift(self) -> np.ndarray:
        """(3,) true velocity of the sample relative to the uncompensated scan head (m/s)."""
        surface = self.model.sample.surface
        drift = None if surface is None else surface.drift
        return np.zeros(3) if drift is None else np.array([drift.x, drift.y, drift.z])

    def sample_displacement(self, times: np.ndarray | float) -> np.ndarray:
        """How far the sample has moved relative to the scan head's commanded frame at `times`
        (m, shape times.shape + (3,)): its drift since the world started, less the offset the
        head's drift compensation has added. The one place the sample's motion is computed: the
        surface under the tip and the NV with what rides on the sample all move by this."""
        times = np.asarray(times, dtype=float)
        drifted = (times - self._drift_origin)[..., None] * self.sample_drift()
        return drifted - self.drift_compensation.at(times)

    def sample_velocity(self, t: float) -> np.ndarray:
        """(3,) velocity of the sample relative to the scan head at time `t` (m/s): the drift
        less the estimate the head compensates."""
        return self.sample_drift() - self.drift_compensation.velocity(t)

    def focus(self, times: np.ndarray) -> np.ndarray:
        """Where the scanner put the focus at each of `times`, (N, 3) in m."""
        return np.stack([self.paths[axis].position(times) for axis in AXES], axis=-1)


_WORLDS: dict[Path, SimWorld] = {}


def get_world(path: str | Path) -> SimWorld:
    """The one SimWorld of this process for the world file at `path`."""
    key = Path(path).resolve()
    if key not in _WORLDS:
        _WORLDS[key] = SimWorld(load_world(key))
    return _WORLDS[key]


def open_section(address: str, default: str, spec_type: type) -> tuple[SimWorld, object, str]:
    """World, spec and key of the instrument section a `sim:` address names.

    The address is `<world file>` or `<world file>#<section>` (e.g. `confocal.yaml#rf` for the
    second signal generator); without `#` the section is `default`.
    """
    path, _, key = address.partition("#")
    key = key or default
    if key not in Instruments.model_fields:
        raise ValueError(f"{address!r}: no instrument section {key!r} in world files; "
                         f"sections: {sorted(Instruments.model_fields)}")
    world = get_world(path)
    spec = getattr(world.model.instruments, key)
    if spec is None:
        raise ValueError(f"world file {path} has no instruments.{key} section")
    if not isinstance(spec, spec_type):
        raise ValueError(f"instruments.{key} of {path} is a {type(spec).__name__}, "
                         f"not a {spec_type.__name__}")
    return world, spec, key
