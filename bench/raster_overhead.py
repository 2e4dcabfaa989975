"""Per-pixel cost of `raster` at zero dwell next to stock Sardana `mesh`, in one run.

Brings up its own stack (state and results in a temporary folder), runs both scans over the
same motors, counter and recorder, prints ms per pixel and the ratio, and stops the stack.

    .venv/bin/python bench/raster_overhead.py [--pixels 15] [--repeat 2]
"""

import argparse

from bench_stack import door_session, timed

FIELD = (10e-6, 11e-6)  # metres: a 1 µm square, so moves are short but take their real time


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--pixels", type=int, default=15, help="pixels per side of the image")
    args.add_argument("--repeat", type=int, default=2, help="runs of each scan (best is kept)")
    opts = args.parse_args()
    n, (a, b) = opts.pixels, FIELD
    lines = {
        "raster": f"raster x {a} {b} {n} y {a} {b} {n} 0",
        "mesh": f"mesh x {a} {b} {n - 1} y {a} {b} {n - 1} 0",
    }
    with door_session() as client:
        best = {name: min(timed(client, line) for _ in range(opts.repeat))
                for name, line in lines.items()}
    per_pixel = {name: 1e3 * t / n**2 for name, t in best.items()}
    print(f"{n} x {n} pixels at zero dwell, best of {opts.repeat}:")
    for name, ms in per_pixel.items():
        print(f"  {name:7s} {ms:8.2f} ms/pixel   ({lines[name]})")
    print(f"  mesh / raster = {per_pixel['mesh'] / per_pixel['raster']:.2f}")


if __name__ == "__main__":
    main()
