"""The errors trtdsl raises for user mistakes. Anything else escaping is a bug."""

from __future__ import annotations


class TrtdslError(Exception):
    """Base of every error caused by user input; the CLI prints it on one line and exits 2."""


class ModelError(TrtdslError):
    """A model definition is wrong: bad op arguments, shapes, wiring or YAML."""


class ShapeError(ModelError):
    """An op cannot accept the types of its inputs."""


class OpArgumentError(ModelError):
    """An op attribute is unknown, missing or of the wrong type or value."""


class WeightError(TrtdslError):
    """A weights file is unreadable, or its tensors do not match the model."""


class BackendError(TrtdslError):
    """A backend (TensorRT, the emulator, the runtime) rejected the network or failed to run it."""


class UsageError(TrtdslError):
    """A command-line argument is malformed."""


class EngineNotRunnableError(BackendError):
    """A real engine was built (or read) but this machine cannot run it: no GPU, no
    cuda-python, or a GPU that is not one of the engine's targets. The message names both."""


class CalibrationError(TrtdslError):
    """Calibration data or a scales file is unusable: wrong shape or dtype, an empty folder, a
    file that is not an image, NaN or inf values, or scales made for another model or weights.
    The message names the file."""


class FileError(UsageError):
    """A file or directory named by the user cannot be used as given: missing, not a regular
    file (a directory, device, FIFO), unreadable, too large for its kind, or an output that
    would overwrite one of the command's inputs. The message names the path."""


class FileFormatError(FileError):
    """A file is not what it should be: another kind of file, damaged, or forged (a field
    missing, of the wrong type or out of range). The message names the file and the field."""


class ResourceLimitError(TrtdslError):
    """The work would need more memory than this machine has available; the message says how
    much it would need, for what, and how much there is."""
