"""The NanoMRI device server: every instrument class of one set-up (or one world) in one process.

Simulated drivers of one world share that world's state in memory, so a world's devices
run in one server instance (`NanoMRI/<world>`).
"""

import sys

from tango.server import run

from .camera import EMCCD
from .laser import NVLaser
from .magnet import VectorMagnet
from .photon_counter import PhotonCounter
from .scan_head import ScanHead
from .scanner import Scanner
from .sequencer import PulseSequencer
from .signal_generator import SignalGenerator
from .tunnel_current import TunnelCurrent

CLASSES = (Scanner, ScanHead, NVLaser, PhotonCounter, PulseSequencer, SignalGenerator, EMCCD,
           VectorMagnet, TunnelCurrent)


def main(args: list[str] | None = None) -> None:
    """Run the server; argv as Tango's: `NanoMRI <instance> [-v4] ...`."""
    run(CLASSES, args=["NanoMRI", *(sys.argv[1:] if args is None else args)])


if __name__ == "__main__":
    main()
