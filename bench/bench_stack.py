"""What the benchmarks share: a stack of their own (state and results in a temporary folder)
and macro lines timed on its Door."""

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nanomri.cli.door import DoorClient
from nanomri.cli.stack import ROOT, Paths, down, up

CONFOCAL = ROOT / "conf" / "worlds" / "confocal.yaml"


@contextmanager
def door_session(world: Path = CONFOCAL) -> Iterator[DoorClient]:
    """A Door client of a stack brought up on `world` for the block, stopped after it."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = Paths(ROOT, Path(tmp) / "var", Path(tmp) / "results")
        stack = up(paths, world)
        os.environ["TANGO_HOST"] = stack.tango_host
        client = DoorClient(stack.door, echo=lambda stream, line: None)
        try:
            yield client
        finally:
            client.close()
            down(paths)


def timed(client: DoorClient, line: str) -> float:
    """Wall time of one macro line, which must succeed."""
    start = time.perf_counter()
    result = client.run(line)
    elapsed = time.perf_counter() - start
    if not result.succeeded:
        raise SystemExit(f"{line!r} did not succeed: {result.ending} {result.errors}")
    return elapsed
