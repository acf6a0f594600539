"""One exception family for everything a user can get wrong.

The CLI prints an `OcrbenchError` as one line and exits non-zero; anything else is a bug and keeps
its traceback.
"""


class OcrbenchError(Exception):
    """A problem with the user's input or set-up, explained in the message."""


class DatasetError(OcrbenchError):
    """A dataset that cannot be read: bad JSON, a missing image, a duplicate id, ..."""


class ConfigError(OcrbenchError):
    """An unknown engine or corrector, a bad parameter, a malformed spec."""


class SetupError(OcrbenchError):
    """Something the machine lacks: a binary, a language pack, a model file, an extra."""


class SampleError(DatasetError):
    """A sample that could not be processed (its OCR failed): `--skip-bad` leaves it out."""

    def __init__(self, sample_id: str, message: str):
        super().__init__(message)
        self.sample_id = sample_id
