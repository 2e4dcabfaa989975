"""What nanomri's continuous acquisitions (a hardware raster, a hardware-stepped sweep) do
before their measurement group starts, as Sardana's time scan does it."""

from sardana.macroserver.scan.gscan import ScanException


def begin_acquisition(scan) -> None:
    """Refuse a measurement group with channels that cannot count in hardware, run the macro's
    pre-acq hooks and make the group start once for the whole acquisition."""
    mg = scan.measurement_group
    compatible, channels = scan.is_measurement_group_compatible(mg)
    if not compatible:
        raise ScanException(f"measurement group {mg.getName()} cannot count in hardware "
                            f"(channels {channels})")
    for hook in scan.macro.getHooks("pre-acq"):
        hook()
    mg.setNbStarts(1)
