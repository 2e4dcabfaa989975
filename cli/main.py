"""`nanomri`: up, down, status, run, spock and demo on the embedded stack (or an existing Tango
host)."""

import argparse
import os
import signal
import sys
from pathlib import Path

from .stack import ROOT, Paths, StackError, down, offline_controllers, running_stack, up

DEFAULT_WORLD = ROOT / "conf" / "worlds" / "confocal.yaml"


def _tango_env(paths: Paths) -> str:
    """Point this process at the running stack's database; return its Door."""
    stack = running_stack(paths)
    if stack is None:
        raise StackError("nanomri is not running; start it with `nanomri up`")
    os.environ["TANGO_HOST"] = stack.tango_host
    return stack.door


def cmd_up(args: argparse.Namespace, paths: Paths) -> int:
    stack = up(paths, args.world, args.tango_host, args.port)
    print(f"nanomri is up: world {stack.world}, Door {stack.door}, "
          f"{len(stack.processes)} processes (logs in {paths.logs})")
    print(f"TANGO_HOST={stack.tango_host}")
    for problem in offline_controllers(stack.devices):
        print(f"warning: {problem}", file=sys.stderr)
    return 0


def cmd_down(args: argparse.Namespace, paths: Paths) -> int:
    for name in down(paths):
        print(f"stopped {name}")
    return 0


def cmd_status(args: argparse.Namespace, paths: Paths) -> int:
    stack = running_stack(paths)
    if stack is None:
        print("nanomri is not running")
        return 1
    import tango

    os.environ["TANGO_HOST"] = stack.tango_host
    print(f"TANGO_HOST={stack.tango_host}  world {stack.world}")
    for proc in stack.processes:
        print(f"  {proc.name:28s} pid {proc.pid:<8d} {'running' if proc.alive() else 'DEAD'}")
    for name in stack.devices:
        try:
            print(f"  {name:28s} {tango.DeviceProxy(name).state()}")
        except tango.DevFailed as exc:
            print(f"  {name:28s} not answering: {exc.args[0].desc.strip()}")
    return 0


def cmd_run(args: argparse.Namespace, paths: Paths) -> int:
    door = _tango_env(paths)
    import tango

    from .door import DoorClient, DoorStuck, describe_failure

    client = DoorClient(door)
    # Ctrl-C (SIGINT) aborts the macro even when a shell started us in the background, where
    # SIGINT comes ignored and Python would not turn it into KeyboardInterrupt
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        result = client.run(args.line)
    except tango.DevFailed as exc:
        print(f"error: {describe_failure(exc)}", file=sys.stderr)
        return 2
    except DoorStuck as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        client.close()
    if result.succeeded:
        return 0
    if result.ending in ("abort", "stop"):
        print("macro aborted", file=sys.stderr)
        return 130
    print(f"macro failed: {args.line}", file=sys.stderr)
    return 1


def cmd_spock(args: argparse.Namespace, paths: Paths) -> int:
    door = _tango_env(paths)
    from .spock import spock

    spock(paths, door)  # replaces this process
    return 0


def cmd_analyze(args: argparse.Namespace, paths: Paths) -> int:
    from .analyze import analyze

    try:
        results = analyze(args.file)
    except (OSError, KeyError, ValueError) as exc:
        print(f"nanomri analyze: {args.file}: {exc}", file=sys.stderr)
        return 1
    print("\n".join(results))
    return 0


def cmd_locate(args: argparse.Namespace, paths: Paths) -> int:
    from .locate import layer_files, locate_files, report, report_layer

    try:
        lines = (report_layer(layer_files(args.lock, args.spectrum, field_map=args.map))
                 if args.layer else
                 report(locate_files(args.lock, args.spectrum, field_map=args.map)))
    except (OSError, KeyError, ValueError) as exc:
        print(f"nanomri locate: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


def cmd_demo(args: argparse.Namespace, paths: Paths) -> int:
    from .demo import demo

    return demo(paths, args.world)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nanomri", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    world_help = f"world file of the simulated instruments (default {DEFAULT_WORLD})"
    sp = sub.add_parser("up", help="start the database, the device servers and Sardana")
    sp.add_argument("--world", type=Path, default=DEFAULT_WORLD, help=world_help)
    sp.add_argument("--tango-host", help="use this existing Tango database (HOST:PORT)")
    sp.add_argument("--port", type=int, default=0,
                    help="port of the embedded database (default: a free one)")
    sp.set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop what `up` started").set_defaults(func=cmd_down)
    sub.add_parser("status", help="show processes and devices").set_defaults(func=cmd_status)
    sp = sub.add_parser("run", help="run a macro line on the Door, e.g. \"raster x ...\"")
    sp.add_argument("line", help="the macro line, quoted")
    sp.set_defaults(func=cmd_run)
    sub.add_parser("spock", help="Sardana's spock command line on the Door (profile nanomri)"
                   ).set_defaults(func=cmd_spock)
    sp = sub.add_parser("analyze", help="the analysis a nanomri NeXus file calls for")
    sp.add_argument("file", type=Path, help="a scan file (scan_NNNNN.h5)")
    sp.set_defaults(func=cmd_analyze)
    sp = sub.add_parser("locate", help="a dark spin's 3D offset from the NV (seed 001)")
    sp.add_argument("lock", type=Path, help="a `freqlock ... deer` scan over tip_x, tip_y, tip_z")
    sp.add_argument("spectrum", type=Path, help="a `deer` RF spectrum with the tip away")
    sp.add_argument("--map", type=Path, help="a `freqlock` scan around the NV whose locked "
                    "frequencies give the PSF (default: those of the DEER scan)")
    sp.add_argument("--layer", action="store_true", help="the height over the NV of a layer "
                    "of dark spins (seed 001, Fig. 3) instead of one spin's offset")
    sp.set_defaults(func=cmd_locate)
    sp = sub.add_parser("demo", help="up, the demo scans, figures, down")
    sp.add_argument("--world", type=Path, default=DEFAULT_WORLD, help=world_help)
    sp.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args, Paths.from_env())
    except StackError as exc:
        print(f"nanomri: {exc}", file=sys.stderr)
        return 1


def run() -> None:
    """Console entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
