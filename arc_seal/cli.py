"""What every command-line entry point shares: user mistakes end in one line, not a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable

from arc_seal.errors import USER_ERRORS

USAGE_ERROR = 2


def run_cli(main: Callable[[], None]) -> None:
    """Run ``main``; a bad task file or config, or an unknown task, subset or model, exits with
    status 2 and one line."""
    try:
        main()
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(USAGE_ERROR)
