"""World section of the EMCCD camera of widefield NV imaging (Andor iXon Ultra 897 class)."""

from pydantic import Field, model_validator

from .common import Finite, NonNegative, Positive, Strict


class CameraSpec(Strict):
    """Sensor, readout timing, gain, noise, ADC and cooling (data-sheet values)."""

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
    clock_induced_charge: NonNegative  # electrons/pixel/frame, before EM gain
    dark_current: NonNegative  # electrons/pixel/s at dark_current_temperature
    dark_current_temperature: Positive  # K
    dark_current_doubling: Positive  # K of sensor warming that doubles the dark current
    e_per_count: Positive  # electrons per ADC count (sensitivity)
    baseline: NonNegative  # counts, ADC offset of a pixel with no charge
    photons_per_watt: NonNegative  # photons/pixel/s per W of laser: the NV layer's brightness
    ambient_temperature: Positive  # K
    min_temperature: Positive  # K, lowest the cooler reaches
    cooling_rate: Positive  # K/s
    temperature_offset: Finite = 0.0  # K, settled sensor minus set point
    em_gain_max_temperature: Positive  # K, warmer than this, no acquisition with EM gain > 1

    @model_validator(mode="after")
    def _consistent(self) -> "CameraSpec":
        if self.min_exposure > self.max_exposure:
            raise ValueError("min_exposure exceeds max_exposure")
        if self.min_temperature > self.ambient_temperature:
            raise ValueError("min_temperature exceeds ambient_temperature")
        if self.baseline > 65535:
            raise ValueError("baseline exceeds the 16-bit ADC range (65535 counts)")
        return self
