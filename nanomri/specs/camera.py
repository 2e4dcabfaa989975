"""World section of the EMCCD camera of widefield NV imaging (Andor iXon Ultra 897 class)."""

from pydantic import Field

from .common import Finite, NonNegative, Positive, Strict


class CameraSpec(Strict):
    """Sensor, readout timing, gain, noise and cooling (data-sheet values)."""

    width: int = Field(ge=1)  # pixels
    height: int = Field(ge=1)
    pixel_size: Positive  # m
    readout_rates: list[Positive] = Field(min_length=1)  # Hz, horizontal pixel rates offered
    vertical_shift_time: NonNegative  # s per row
    min_exposure: Positive  # s
    max_exposure: Positive  # s
    max_em_gain: int = Field(ge=1)
    quantum_efficiency: float = Field(gt=0, le=1)
    read_noise: NonNegative  # electrons rms per pixel before EM gain
    dark_current: NonNegative  # electrons/pixel/s at the set temperature
    photons_per_watt: NonNegative  # photons/pixel/s per W of laser: the NV layer's brightness
    ambient_temperature: Positive  # K
    min_temperature: Positive  # K, lowest the cooler reaches
    cooling_rate: Positive  # K/s
    temperature_offset: Finite = 0.0  # K, settled sensor minus set point
