"""Errors a user can cause and fix: each message names the file, task, model or field at fault.

Command-line entry points turn these into one line and exit status 2 (``arc_seal.cli``).
"""


class TaskFormatError(ValueError):
    """A task file or task object that is not a valid ARC task; the message says where."""


class TaskNotFoundError(LookupError):
    """A task id, subset, dataset or file that does not exist; the message names it."""


class ModelLoadError(LookupError):
    """A model name or directory that cannot be loaded; the message says which and why."""


class ConfigError(ValueError):
    """A configuration file or value that is not valid; the message says which and why."""


USER_ERRORS = (TaskFormatError, TaskNotFoundError, ModelLoadError, ConfigError)
