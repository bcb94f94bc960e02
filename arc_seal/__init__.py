"""arc-seal: self-adapting test-time training on ARC-AGI."""

from arc_seal.errors import ConfigError, ModelLoadError, TaskFormatError, TaskNotFoundError
from arc_seal.grid import Example, Task

__all__ = [
    "ConfigError",
    "Example",
    "ModelLoadError",
    "Task",
    "TaskFormatError",
    "TaskNotFoundError",
]
