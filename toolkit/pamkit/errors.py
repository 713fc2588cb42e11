"""The one exception family pamkit raises for bad input: each message names the problem and the fix."""


class PamkitError(Exception):
    """Base class: the CLI prints these as one clean line instead of a traceback, and exits ``exit_code``."""

    exit_code = 2  # bad input; a subclass for "ran, but did not reach the goal" uses 1


class DataError(PamkitError):
    """A dataset is missing, corrupt or asked for with impossible options."""


class TaskError(PamkitError):
    """A task or task suite definition is invalid or refers to something unknown."""


class ModelError(PamkitError):
    """An architecture is unknown or cannot be built for the given input."""


class CheckpointError(PamkitError):
    """A checkpoint is missing, unsafe (pickle), corrupt or inconsistent with its sidecar."""
