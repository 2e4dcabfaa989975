"""Tango device of the EMCCD camera: exposure, EM gain, readout, ROI, cooling, frames and sums.

Acquire(n) takes n frames into a server-side buffer: the last image (change event on every
frame), and the sums of on/off pairs (even frames "on", odd frames "off", as in widefield ODMR
with MW on/off frame pairs). Every setting is refused (NANOMRI_BUSY) while acquiring.
EM register protection: with EM gain > 1 the state is ALARM while the sensor is, or is heading,
above em_gain_max_temperature (cooler off or set point too warm), and Acquire is refused
(NANOMRI_WARM); with EM gain 1 the camera acquires at any temperature.
ROI and binning are not memorized (Tango memorizes scalars only; a spectrum ROI and a binning
that must divide it cannot be restored one by one): a restarted camera reads the full sensor.
"""

import threading

import numpy as np
import tango
from tango import AttrWriteType, DevState
from tango.server import attribute, command

from nanomri.interfaces.camera import TriggerMode

from .base import InstrumentDevice
from .validation import fail, refusals, require_finite

PUSH_PERIOD = 5e-3  # s between looks for new frames by the event thread
MAX_SIDE = 4096  # largest image side the attributes declare

SETTING = dict(access=AttrWriteType.READ_WRITE, memorized=True, hw_memorized=True)
IMAGE = dict(max_dim_x=MAX_SIDE, max_dim_y=MAX_SIDE)


class EMCCD(InstrumentDevice):
    """EMCCD camera (Andor iXon class); RUNNING while acquiring, ALARM if EM gain on a warm sensor.
    """

    INSTRUMENT = "camera"

    def init_device(self) -> None:
        self._pusher: threading.Thread | None = None
        super().init_device()

    def init_instrument(self) -> None:
        c = self.driver.constraints
        self.set_write_limits("exposure", c.min_exposure, c.max_exposure)
        self.set_write_limits("em_gain", 1, c.max_em_gain)
        self.set_write_limits("readout_rate", min(c.readout_rates), max(c.readout_rates))
        self.set_write_limits("roi", 0, max(c.width, c.height))
        self.set_write_limits("binning", 1, min(c.width, c.height))
        self.set_write_limits("temperature_setpoint", c.min_temperature, c.max_temperature)
        for name in ("image", "frame_count", "pairs"):
            self.set_change_event(name, True, False)
        self._halt = threading.Event()
        self._pusher = threading.Thread(target=self._push_loop, args=(self._driver, self._halt),
                                        name="EMCCD events", daemon=True)
        self._pusher.start()

    def delete_device(self) -> None:
        if self._pusher is not None:
            self._halt.set()
            self._pusher.join(timeout=2.0)
            self._pusher = None
        super().delete_device()

    # settings ---------------------------------------------------------------------------

    @attribute(dtype=float, unit="s", format="%.3e", **SETTING,
               doc="exposure of a frame in internal trigger mode")
    def exposure(self) -> float:
        return self.driver.exposure()

    @exposure.write
    def exposure(self, value: float) -> None:
        with refusals():
            self.driver.set_exposure(require_finite("exposure", value))

    @attribute(dtype=int, format="%d", **SETTING,
               doc="electron-multiplying gain, 1 = no multiplication")
    def em_gain(self) -> int:
        return self.driver.em_gain()

    @em_gain.write
    def em_gain(self, value: int) -> None:
        with refusals():
            self.driver.set_em_gain(int(value))

    @attribute(dtype=float, unit="Hz", format="%.3e", **SETTING,
               doc="horizontal pixel readout rate, one of readout_rates")
    def readout_rate(self) -> float:
        return self.driver.readout_rate()

    @readout_rate.write
    def readout_rate(self, value: float) -> None:
        with refusals():
            self.driver.set_readout_rate(require_finite("readout_rate", value))

    @attribute(dtype=(float,), max_dim_x=64, unit="Hz", format="%.3e",
               doc="readout rates the camera offers")
    def readout_rates(self) -> list[float]:
        return list(self.driver.constraints.readout_rates)

    @attribute(dtype=(int,), max_dim_x=4, access=AttrWriteType.READ_WRITE, format="%d",
               doc="region read out: [x, y, width, height] in sensor pixels (not memorized)")
    def roi(self) -> list[int]:
        return list(self.driver.roi())

    @roi.write
    def roi(self, value: np.ndarray) -> None:
        value = np.asarray(value).ravel()
        if value.size != 4:
            fail("SHAPE", f"roi is [x, y, width, height]: 4 values, got {value.size}")
        with refusals():
            self.driver.set_roi(tuple(int(v) for v in value), self.driver.binning())

    @attribute(dtype=int, access=AttrWriteType.READ_WRITE, format="%d",
               doc="square binning of the ROI (divides its width and height; not memorized)")
    def binning(self) -> int:
        return self.driver.binning()

    @binning.write
    def binning(self, value: int) -> None:
        with refusals():
            self.driver.set_roi(self.driver.roi(), int(value))

    @attribute(dtype=TriggerMode, **SETTING,
               doc="INTERNAL: frames every frame_period; EXTERNAL: one per sequencer camera pulse")
    def trigger_mode(self) -> TriggerMode:
        return self.driver.trigger_mode()

    @trigger_mode.write
    def trigger_mode(self, value: int) -> None:
        with refusals():  # Tango refuses values beyond the enum's labels first
            self.driver.set_trigger_mode(value)

    @attribute(dtype=float, unit="s", format="%.4e",
               doc="time to read one frame: ROI rows x vertical shift + pixels / readout rate")
    def readout_time(self) -> float:
        return self.driver.readout_time()

    @attribute(dtype=float, unit="s", format="%.4e",
               doc="time between frames (and exposure actually integrated) in internal mode")
    def frame_period(self) -> float:
        return self.driver.frame_period()

    # cooling ----------------------------------------------------------------------------

    @attribute(dtype=float, unit="K", format="%.2f", polling_period=1000, abs_change="0.1",
               doc="sensor temperature")
    def temperature(self) -> float:
        return self.driver.temperature()

    @attribute(dtype=float, unit="K", format="%.2f", **SETTING,
               doc="temperature the cooler holds the sensor at")
    def temperature_setpoint(self) -> float:
        return self.driver.setpoint()

    @temperature_setpoint.write
    def temperature_setpoint(self, value: float) -> None:
        with refusals():
            self.driver.set_setpoint(require_finite("temperature_setpoint", value))

    @attribute(dtype=bool, **SETTING, doc="True cools the sensor to the set point")
    def cooler(self) -> bool:
        return self.driver.cooler()

    @cooler.write
    def cooler(self, on: bool) -> None:
        with refusals():
            self.driver.set_cooler(bool(on))

    # frames -----------------------------------------------------------------------------

    @attribute(dtype=int, format="%d", doc="frames read in the present (or last) acquisition")
    def frame_count(self) -> int:
        return self.driver.frame_count()

    @attribute(dtype=int, format="%d", doc="frames the present (or last) Acquire asked for")
    def frames_requested(self) -> int:
        return self.driver.frames_requested()

    @attribute(dtype=((np.uint16,),), unit="counts", **IMAGE,
               doc="last frame read (rows x columns after binning); event on every frame")
    def image(self) -> np.ndarray:
        return self.driver.last_image()

    @attribute(dtype=((float,),), unit="counts", format="%.6e", **IMAGE,
               doc="sum of the even (on) frames of the complete on/off pairs")
    def on_sum(self) -> np.ndarray:
        return self.driver.sums()[0]

    @attribute(dtype=((float,),), unit="counts", format="%.6e", **IMAGE,
               doc="sum of the odd (off) frames of the complete on/off pairs")
    def off_sum(self) -> np.ndarray:
        return self.driver.sums()[1]

    @attribute(dtype=int, format="%d", doc="complete on/off frame pairs in the sums")
    def pairs(self) -> int:
        return self.driver.pairs()

    @attribute(dtype=int, format="%d",
               doc="external triggers ignored because the previous frame was still read out")
    def missed_triggers(self) -> int:
        return self.driver.missed_triggers()

    @command(dtype_in=int, doc_in="Acquire this many frames (1 to 2**31 - 1); the sums restart "
                                  "from zero")
    def Acquire(self, frames: int) -> None:
        with refusals():
            self.driver.acquire(int(frames))
        self.push_change_event("frame_count", 0)
        self.push_change_event("pairs", 0)

    @command(doc_in="End the acquisition now; frames and sums so far are kept (safe state)")
    def Stop(self) -> None:
        self.safe_state()

    def safe_state(self) -> None:
        """Stop acquiring; the cooler stays as it is, so the sensor stays cold."""
        self.driver.stop()

    def _push_loop(self, driver, halt: threading.Event) -> None:
        """Event thread of one driver, until `halt`: its own cursor, so an Init that opens a
        new driver and thread cannot mix the two."""
        next_serial = 0  # serial of the next frame to push an event for
        with tango.EnsureOmniThread():
            while not halt.wait(PUSH_PERIOD):
                try:
                    next_serial = self._push_new_frames(driver, halt, next_serial)
                except Exception as exc:  # a client gone or a push refused: keep serving
                    self.warn_stream(f"frame events: {exc}")

    def _push_new_frames(self, driver, halt: threading.Event, next_serial: int) -> int:
        """One change event per new frame, in order, with the frame counter; then the pairs.

        No lock of ours is held while pushing: PyTango takes the device's monitor to push.
        """
        frames = driver.frames_since(next_serial)
        for serial, index, image in frames:
            if halt.is_set():
                break
            self.push_change_event("image", image)
            self.push_change_event("frame_count", index + 1)
            next_serial = serial + 1
        if frames and not halt.is_set():
            self.push_change_event("pairs", driver.pairs())
        return next_serial

    # state ------------------------------------------------------------------------------

    def _warm(self) -> bool:
        """EM gain on while the sensor is, or is heading, above em_gain_max_temperature."""
        d = self._driver
        limit = d.constraints.em_gain_max_temperature
        heading_warm = not d.cooler() or d.setpoint() > limit
        return d.em_gain() > 1 and (d.temperature() > limit or heading_warm)

    def dev_state(self) -> DevState:
        if self._driver is None:
            return DevState.FAULT
        if self._driver.is_acquiring():
            return DevState.RUNNING
        return DevState.ALARM if self._warm() else DevState.ON

    def dev_status(self) -> str:
        state = self.dev_state()
        if state == DevState.FAULT:
            return self.get_status()
        d = self._driver
        cooling = f"cooling to {d.setpoint():.1f} K" if d.cooler() else "cooler off"
        sensor = f"sensor at {d.temperature():.1f} K, {cooling}"
        if state == DevState.RUNNING:
            return (f"acquiring frame {d.frame_count() + 1} of {d.frames_requested()} "
                    f"({d.trigger_mode().name.lower()} trigger); {sensor}")
        if state == DevState.ALARM:
            limit = d.constraints.em_gain_max_temperature
            return (f"{sensor}: Acquire with EM gain {d.em_gain()} is refused above "
                    f"{limit:.1f} K; cool the sensor below it or set em_gain 1")
        return f"idle; {sensor}"
