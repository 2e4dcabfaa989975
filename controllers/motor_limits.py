"""Position limits of Pool motors copied from the Tango attributes they drive.

Not a controller: the motor controllers next to it import it as `nanomri.controllers`.
"""

import threading
import time

import tango

LIMITS_WAIT = 120.0  # s to wait for the Pool to export a motor's device


def copy_limits(source: tango.DeviceProxy, attribute: str, motor: str) -> None:
    """Give the Pool motor `motor` the min/max of `attribute` of `source` as its Position limits
    (Sardana's limits: scans check them before they move anything), unless it has them."""
    wanted = source.get_attribute_config(attribute)
    proxy = tango.DeviceProxy(motor)
    config = proxy.get_attribute_config("Position")
    if (config.min_value, config.max_value) != (wanted.min_value, wanted.max_value):
        config.min_value, config.max_value = wanted.min_value, wanted.max_value
        proxy.set_attribute_config(config)


def copy_limits_later(ctrl, source: tango.DeviceProxy, attribute: str, axis: int) -> None:
    """`copy_limits` for an axis of `ctrl`, in a thread that retries until the motor's device
    answers: a controller adds its axes before the Pool has exported their devices."""
    def run() -> None:
        deadline = time.monotonic() + LIMITS_WAIT
        with tango.EnsureOmniThread():
            while True:
                try:
                    return copy_limits(source, attribute, ctrl.GetAxisName(axis))
                except Exception as exc:  # axis not registered or device not exported yet
                    if time.monotonic() > deadline:
                        return ctrl._log.warning("%s limits not copied: %s", attribute, exc)
                time.sleep(0.5)

    threading.Thread(target=run, name=f"{attribute} limits", daemon=True).start()
