"""What a point costs in stock `mesh`, step `raster` and continuous `raster`, in one run.

Brings up its own stack (state and results in a temporary folder), images the same field of the
confocal world with the same motors, counter and recorder, and prints: stock `mesh` ms per point
(on a patch of the image's own pixel grid, since its cost per point does not depend on the
image's size but on the pixel pitch, and a whole 100 x 100 mesh takes ten minutes), step
`raster` ms per point on the whole image, and the continuous rasters' wall time divided by the
sum of their dwell times. Targets (issue 5): step raster at least 5x cheaper per point than
mesh; continuous within 1.25x of its dwell.

    .venv/bin/python bench/scan_overhead.py [--pixels 100] [--mesh-pixels 15] [--dwell 0.001]
"""

import argparse

from bench_stack import door_session, timed

FIELD = (10e-6, 15e-6)  # metres: the NV centres of the confocal world


def lines(n_mesh: int, n: int, dwell: float) -> dict[str, tuple[str, int]]:
    """Each scan's macro line and its number of points."""
    a, b = FIELD
    grid = f"x {a} {b} {n} y {a} {b} {n} {dwell}"
    patch = a + (n_mesh - 1) * (b - a) / (n - 1)  # same pitch as the image
    return {
        "mesh": (f"mesh x {a} {patch} {n_mesh - 1} y {a} {patch} {n_mesh - 1} {dwell}",
                 n_mesh**2),
        "raster": (f"raster {grid}", n**2),
        "raster --continuous": (f"raster {grid} --continuous", n**2),
        "raster --bidirectional": (f"raster {grid} --bidirectional", n**2),
    }


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--pixels", type=int, default=100, help="side of the raster images")
    args.add_argument("--mesh-pixels", type=int, default=15, help="side of the mesh patch")
    args.add_argument("--dwell", type=float, default=1e-3, help="dwell per pixel (s)")
    opts = args.parse_args()
    scans = lines(opts.mesh_pixels, opts.pixels, opts.dwell)
    with door_session() as client:
        timed(client, "laser_on 1e-3")
        # the same recorder for every scan: nanomri's alone (a hardware raster skips
        # Sardana's NXscanH5, which stock scans would also write)
        timed(client, "senv ScanFile scan_{serialno:05d}.h5")
        wall = {name: timed(client, line) for name, (line, _) in scans.items()}
    per_point = {name: 1e3 * wall[name] / points for name, (_, points) in scans.items()}
    print(f"dwell {opts.dwell:g} s per point")
    for name, (line, points) in scans.items():
        print(f"  {name:24s} {per_point[name]:8.2f} ms/point  {wall[name]:8.1f} s  "
              f"({points} points: {line})")
    print(f"  mesh / step raster         = {per_point['mesh'] / per_point['raster']:.2f}")
    for name in ("raster --continuous", "raster --bidirectional"):
        dwell_sum = scans[name][1] * opts.dwell
        print(f"  {name:24s} wall / dwell = {wall[name] / dwell_sum:.2f},"
              f"  mesh / it per point = {per_point['mesh'] / per_point[name]:.1f}")


if __name__ == "__main__":
    main()
