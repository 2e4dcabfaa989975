"""The one error a driver raises when its instrument refuses a request."""


class Refused(ValueError):
    """The instrument cannot do what was asked; devices report it as DevFailed NANOMRI_<reason>.

    `reason` is short and upper-case (OUT_OF_RANGE, BUSY, CRASH, INTERLOCK, ...); the message
    names the limit that was hit.
    """

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
