"""How far another thread of a fresh process gets while a Tango database write waits for its
stopped server: `python -m tests.gil_probe upstream|device HOST PORT PID` prints the fraction.

Run in a process of its own, so that nothing an earlier test left in the test process (its
threads, its Tango state) decides what the write does with the GIL.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import tango

from nanomri.clients import sardana_compat as compat

FROZEN = 0.5  # s the database server is stopped for
SET_POINT = {"DialPosition": {"__value": "2870000000.0", "__value_ts": 1765140000.25}}
DEVICE = "motor/mw_ctrl/1"


def steps_of_another_thread(call: Callable[[], None], server: int) -> float:
    """How far a spinning thread gets while `call` waits for the `server`, stopped for
    FROZEN s (a process of ours resumes it: this process may not run meanwhile), as a
    fraction of how far it gets while this thread sleeps as long."""
    steps, done = [0], threading.Event()

    def spin():
        while not done.is_set():
            steps[0] += 1

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    os.kill(server, signal.SIGSTOP)
    resume = subprocess.Popen(["sh", "-c", f"sleep {FROZEN}; exec kill -CONT {server}"])
    try:
        before, start = steps[0], time.monotonic()
        call()
        during, waited = steps[0] - before, time.monotonic() - start
    finally:
        resume.wait(10)
        os.kill(server, signal.SIGCONT)
    if waited < FROZEN / 2:
        raise RuntimeError(f"the write took {waited:.3f} s: it did not wait for the server")
    before = steps[0]
    time.sleep(waited)
    asleep = steps[0] - before
    done.set()
    spinner.join(5)
    return during / asleep


def main() -> None:
    how, host, port, server = sys.argv[1:]
    db = tango.Database(host, int(port))
    writes = {"upstream": lambda: db.put_device_attribute_property(DEVICE, SET_POINT),
              "device": lambda: compat.put_attribute_properties(db, DEVICE, SET_POINT)}
    print(steps_of_another_thread(writes[how], int(server)))


if __name__ == "__main__":
    main()
