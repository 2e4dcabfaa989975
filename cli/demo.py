"""`nanomri demo`: image the confocal world through the whole stack, find its NV centres; then
seed 001's scanning-gradient measurements on the sensor NV (`demo_tip`); then, each on a stack
of its own, seed 000's ferritin image (`demo_ferritin`) and seed 001's 3D localisation of a
dark spin (`demo_locate`)."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import tango

from nanomri.analysis.spots import Spot, find_spots, match_spots
from nanomri.lab import lab_of
from nanomri.nexus import read_image
from nanomri.world import load_world

from .demo_ferritin import WORLD as FERRITIN_WORLD
from .demo_ferritin import ferritin_demo
from .demo_layer import WORLD as SURFACE_SPINS_WORLD
from .demo_layer import layer_demo
from .demo_locate import WORLD as DARK_SPINS_WORLD
from .demo_locate import locate_demo
from .demo_tip import tip_demo
from .nv_finder import FIELD, QUICK, RASTER, Found, field_on, find_sensor, track_settings
from .stack import Paths, Stack, StackError, down, running_stack, up

LASER_POWER = 1e-3  # W: the NVs' saturation power in the confocal world
TRACK_EVERY = 60.0  # s between the tip's registrations on the NV in a tracked scan


def save_figure(path: Path, image: np.ndarray, x: np.ndarray, y: np.ndarray,
                truth: np.ndarray, found: list[Spot]) -> None:
    """The image in µm with the world's NV positions and the recovered ones."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    um = 1e6
    fig, ax = plt.subplots(figsize=(6, 5))
    half = (x[1] - x[0]) / 2 * um, (y[1] - y[0]) / 2 * um
    extent = (x[0] * um - half[0], x[-1] * um + half[0], y[0] * um - half[1], y[-1] * um + half[1])
    shown = ax.imshow(image, origin="lower", extent=extent, cmap="magma")
    fig.colorbar(shown, ax=ax, label="counts per pixel")
    ax.scatter(truth[:, 0] * um, truth[:, 1] * um, marker="+", s=120, c="cyan", label="world")
    ax.scatter([s.x * um for s in found], [s.y * um for s in found], marker="o", s=80,
               facecolors="none", edgecolors="lime", label="recovered")
    ax.set(xlabel="x (µm)", ylabel="y (µm)", title="confocal raster of the NV centres")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(image: np.ndarray, x: np.ndarray, y: np.ndarray, truth: np.ndarray) -> list[Spot]:
    """Print the recovered NV centres next to the world's; return what was found."""
    found = find_spots(image, x, y)
    pixel = x[1] - x[0]
    print(f"\nNV centres: world position vs recovered (pixel {pixel * 1e9:.0f} nm)")
    print(f"  {'world x, y (µm)':>20s}   {'recovered x, y (µm)':>22s}   {'error (nm)':>10s}")
    for i, spot, dist in match_spots(found, truth, max_distance=pixel):
        world = f"{truth[i, 0] * 1e6:8.3f} {truth[i, 1] * 1e6:8.3f}"
        if spot is None:
            print(f"  {world:>20s}   {'not found':>22s}")
        else:
            found_at = f"{spot.x * 1e6:10.3f} {spot.y * 1e6:10.3f}"
            print(f"  {world:>20s}   {found_at}   {dist * 1e9:10.1f}")
    print(f"  {len(found)} spots found, {len(truth)} NV centres in the world")
    return found


def report_sensor(sensor: Found, focus: np.ndarray, place: np.ndarray,
                  drifted: np.ndarray) -> None:
    """The sensor NV as measured next to the world's: confocal focus, place under the tip
    (the world's moved by the sample's drift over `drifted` m)."""
    nm = 1e9
    print("\nThe sensor NV, found by measurement vs the world")
    print(f"  (the world's NV under the tip as the sample's drift had moved it when measured: "
          f"{', '.join(f'{d * nm:+.2f}' for d in drifted)} nm)")
    place = place + drifted
    print(f"  confocal focus: ({', '.join(f'{v * 1e6:.3f}' for v in sensor.focus)}) µm   "
          f"(world ({', '.join(f'{v * 1e6:.3f}' for v in focus)}) µm)")
    for axis, found, error, world in zip("xyz", sensor.place.position, sensor.place.error,
                                         place, strict=True):
        print(f"  under the tip, {axis}: {found * 1e6:.5f} µm ± {error * nm:.2f} nm   (world "
              f"{world * 1e6:.5f} µm: off by {(found - world) * nm:+.2f} nm)")
    print(f"  depth under the surface: {(sensor.surface_z - sensor.place.position[2]) * nm:.1f}"
          " nm")


def tracked_drift(tango_host: str) -> np.ndarray:
    """The scan head's drift estimate (m/s), as the tip's registrations on the NV set it."""
    head = tango.DeviceProxy(f"tango://{tango_host}/nanomri/confocal/probe")
    return np.array([head.read_attribute(f"drift_estimate_{a}").value for a in "xyz"])


def quiet_echo(stream: str, line: str) -> None:
    """Messages, and progress every 10 %, without the scan's table of points."""
    if stream == "Progress" and int(line.split()[0]) % 10 == 0:
        print(f"  {line}", flush=True)
    elif stream not in ("Output", "Progress"):
        print(f"  [{stream.lower()}] {line}", flush=True)


def run_lines(door: str, lines: list[str]) -> list[str]:
    """Run macro lines on the Door, stopping at the first that does not succeed; the macros'
    Info, Warning and Error messages."""
    from .door import DoorClient

    messages: list[str] = []

    def echo(stream: str, line: str) -> None:
        if stream not in ("Output", "Progress"):
            messages.append(line)
        quiet_echo(stream, line)

    client = DoorClient(door, echo=echo)
    try:
        for line in lines:
            print(f"\n>>> {line}")
            result = client.run(line)
            if not result.succeeded:
                raise StackError(f"{line!r} did not succeed: {' '.join(result.errors)}")
    finally:
        client.close()
    return messages


def image_raster(door: str, folder: Path, name: str) -> None:
    """The demo's raster, laser on, into `folder`/`name`: set for the raster alone (`raster.`
    environment), so the user's ScanDir and ScanFile stay as they were."""
    try:
        run_lines(door, [f"senv raster.ScanDir {folder}", f"senv raster.ScanFile {name}",
                         f"laser_on {LASER_POWER}", RASTER])
    finally:
        run_lines(door, ["laser_off", "usenv raster.ScanDir raster.ScanFile"])


@contextmanager
def stack_of(paths: Paths, world: Path) -> Iterator[Stack]:
    """The stack of `paths` (started on `world` unless it runs), stopped at the end if started
    here."""
    stack = running_stack(paths)
    started = stack is None
    if started:
        print(f"starting nanomri with world {world} ...")
        stack = up(paths, world)
    print(f"TANGO_HOST={stack.tango_host}")
    try:
        yield stack
    finally:
        if started:
            down(paths)
            print("\nnanomri stopped (everything the demo started)")


def on_door(stack: Stack, scans: Path, part) -> None:
    """`part(run)` on the Door of `stack` (named with its database), its files into `scans`,
    the laser off and the instruments safe at the end."""
    door = f"tango://{stack.tango_host}/{stack.door}"

    def run(lines: list[str]) -> list[str]:
        return run_lines(door, lines)

    run([f"senv ScanDir {scans}", f"laser_on {LASER_POWER}"])
    try:
        part(run)
    finally:
        run(["laser_off", "safe_state"])


def demo(paths: Paths, world: Path) -> int:
    """Up (unless running), laser on, raster, file and figure, NV table, the tip's gradient,
    laser off, down; then the ferritin image, the dark spin's localisation and the surface
    layer of dark spins, each on its own stack."""
    out = paths.results / "demo"
    out.mkdir(parents=True, exist_ok=True)
    h5, png = out / "confocal.h5", out / "confocal.png"
    for old in (h5, png):
        old.unlink(missing_ok=True)
    with stack_of(paths, world) as stack:
        world, host = Path(stack.world), stack.tango_host
        os.environ["TANGO_HOST"] = host
        image_raster(stack.door, out, h5.name)
        image, x, y = read_image(h5)
        spots = find_spots(image, x, y)
        lab = lab_of(world)  # what the experimenter knows: the world waits for the report

        def run(lines: list[str]) -> list[str]:
            return run_lines(stack.door, lines)

        run([f"laser_on {LASER_POWER}"])
        try:
            bare = field_on(run, host)
            sensor = find_sensor(run, lab, spots, bare, FIELD, host, (QUICK,))
            tracking = track_settings(sensor, lab, bare, FIELD, TRACK_EVERY)
            run([f"senv NanomriTrack \"{tracking}\""])
            tip_demo(run, sensor.place.position, sensor.surface_z, bare, host, out, tracked=True)
            estimated = tracked_drift(host)
            run(["usenv NanomriTrack"])
        finally:
            run(["laser_off", "safe_state"])
    model = load_world(world)
    truth = np.asarray(model.sample.nv_centres)
    found = report(image, x, y, truth)
    drift = model.sample.surface.drift
    # the world's clock is the head's, from 0 when the world started
    drifted = np.array([drift.x, drift.y, drift.z]) * sensor.when.clock - sensor.when.compensation
    report_sensor(sensor, truth[model.sensor.nv], np.asarray(model.sensor.nv_position), drifted)
    print(f"  drift tracked on the NV: {', '.join(f'{v * 1e12:+.2f}' for v in estimated)} pm/s "
          f"(world {', '.join(f'{v * 1e12:+.2f}' for v in (drift.x, drift.y, drift.z))} pm/s)")
    save_figure(png, image, x, y, truth, found)
    print(f"\ndata:   {h5}\nfigure: {png}")
    ferritin = Paths(paths.root, paths.state / "demo-ferritin", paths.results)
    with stack_of(ferritin, FERRITIN_WORLD) as stack:
        on_door(stack, out / "ferritin", lambda run: ferritin_demo(run, stack.tango_host, out))
    dark = Paths(paths.root, paths.state / "demo-dark-spins", paths.results)
    with stack_of(dark, DARK_SPINS_WORLD) as stack:
        on_door(stack, out / "dark_spins",
                lambda run: locate_demo(run, stack.tango_host, out))
    surface = Paths(paths.root, paths.state / "demo-surface-spins", paths.results)
    with stack_of(surface, SURFACE_SPINS_WORLD) as stack:
        on_door(stack, out / "surface_spins",
                lambda run: layer_demo(run, stack.tango_host, out))
    return 0
