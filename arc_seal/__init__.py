"""arc-seal: self-adapting test-time training on ARC-AGI."""

from arc_seal.data import TaskNotFoundError
from arc_seal.grid import Example, Task, TaskFormatError

__all__ = ["Example", "Task", "TaskFormatError", "TaskNotFoundError"]
