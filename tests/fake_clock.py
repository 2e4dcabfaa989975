"""A clock that tests move by hand, so simulated instruments take their real time instantly."""


class FakeClock:
    """Seconds as `now`; tests add to it to let time pass."""

    def __init__(self, now: float = 100.0):
        self.now = now

    def __call__(self) -> float:
        return self.now
