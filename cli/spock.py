"""`nanomri spock`: Sardana's spock (IPython + itango) on the running stack's Door.

The spock profile `nanomri` lives in the state folder (`<state>/ipython/profile_nanomri`, with
its history) and is rewritten for the running stack's Door at every start, so spock never asks
which Door and never points at the database of an earlier run.
"""

import contextlib
import io
import json
import os
import signal
import sys
from pathlib import Path

from .stack import BIN, Paths, StackError

PROFILE = "nanomri"
PLOTS = """
# nanomri: scan plots in Sardana's showscan window (the Door streams each point)
config.InteractiveShellApp.exec_lines = ["senv JsonRecorder True", "showscan"]
"""


def ipython_dir(paths: Paths) -> Path:
    return paths.state / "ipython"


def _quiet_taurus() -> None:
    """Taurus logs its Qt binding and missing schemes on import: spock says it again anyway."""
    import taurus

    taurus.setLogLevel(taurus.Error)


def write_profile(paths: Paths, door: str, plots: bool) -> Path:
    """Create or refresh the `nanomri` spock profile for `door`; its folder. Needs TANGO_HOST."""
    _quiet_taurus()
    from IPython.core.profiledir import ProfileDir
    from sardana.spock.ipython_01_00.genutils import upgrade_spock_profile

    ipython_dir(paths).mkdir(parents=True, exist_ok=True)
    location = ProfileDir.create_profile_dir_by_name(str(ipython_dir(paths)), PROFILE).location
    with contextlib.redirect_stdout(io.StringIO()):  # it reports "Storing ... [DONE]"
        upgrade_spock_profile(location, door)
    if plots:
        with open(Path(location) / "ipython_config.py", "a") as config:
            config.write(PLOTS)
    return Path(location)


def nanomri_macros(paths: Paths, door: str) -> list[str]:
    """The macros the MacroServer of `door` loaded from this checkout's macros/."""
    import tango
    from sardana.spock.ipython_01_00.genutils import get_macroserver_for_door

    elements = json.loads(tango.DeviceProxy(get_macroserver_for_door(door)).Elements[1])["new"]
    here = str(paths.root / "macros")
    return sorted({e["name"] for e in elements
                   if e.get("type") in ("MacroClass", "MacroFunction") and e.get("path") == here})


def spock_env(paths: Paths, plots: bool) -> dict[str, str]:
    """The environment of the spock process: its IPython folder; Qt offscreen without display."""
    env = {**os.environ, "IPYTHONDIR": str(ipython_dir(paths))}
    if not plots:
        env.update(QT_QPA_PLATFORM="offscreen", MPLBACKEND="Agg")
    return env


def spock(paths: Paths, door: str) -> None:
    """Replace this process by spock on `door` (TANGO_HOST already set)."""
    import tango
    from sardana.util.graphics import display_available

    try:  # else Sardana's profile writer would ask for another TANGO_HOST
        tango.DeviceProxy(door).ping()
    except tango.DevFailed as exc:
        why = exc.args[0].desc.strip().splitlines()[0]
        raise StackError(f"the Door {door} does not answer ({why}); see `nanomri status`") from None
    plots = display_available()
    write_profile(paths, door, plots)
    macros = ", ".join(nanomri_macros(paths, door))
    print(f"spock on {door} (TANGO_HOST={os.environ['TANGO_HOST']}); nanomri macros: {macros}")
    print("scan plots: showscan window" if plots else
          f"no display: no scan plots (each scan is a file in {paths.results / 'scans'})")
    print("Ctrl-C stops a macro, a second Ctrl-C aborts it; Ctrl-D leaves spock", flush=True)
    sys.stderr.flush()
    argv = [str(BIN / "spock"), f"--profile={PROFILE}"]
    # Ctrl-C is how spock stops a macro: started where SIGINT comes ignored (a shell's
    # background job, a launcher), spock would keep it ignored while a macro runs
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.execve(argv[0], argv, spock_env(paths, plots))
