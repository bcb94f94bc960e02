"""What every command shares: a recipe launched on its run directory, and one line however it
stops.

``launch`` claims the run directory (``records.claim_run_dir``), makes the recipe (which loads
the model) and runs it. ``run_cli`` turns the ways a command can stop into one line and an exit
status: a user mistake 2, Ctrl-C or SIGTERM (a scheduler's preemption) 130 or 143 with how to
resume, a full disk 1 — never a traceback.
"""

from __future__ import annotations

import errno
import logging
import signal
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arc_seal.errors import USER_ERRORS

if TYPE_CHECKING:
    from arc_seal.config import RunConfig
    from arc_seal.distributed import Ranks

USAGE_ERROR, FAILED_RUN = 2, 1
INTERRUPTED = 128 + signal.SIGINT  # the shell's status for a process ended by Ctrl-C


class Stopped(KeyboardInterrupt):
    """Ctrl-C or a termination signal: the command stops as Ctrl-C stops it."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.status = 128 + signum  # the shell's status for a process ended by the signal


def _stop(signum: int, frame: object) -> None:
    raise Stopped(signum)


def run_cli(main: Callable[[], int | None]) -> None:
    """Run ``main``; a bad task file or config, or an unknown task, subset or model, exits with
    status 2 and one line; Ctrl-C and SIGTERM with 130 and 143. ``main``'s own return value is
    the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    signal.signal(signal.SIGTERM, _stop)
    try:
        status = main()
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(USAGE_ERROR)
    except KeyboardInterrupt as e:
        print("interrupted", file=sys.stderr)
        sys.exit(getattr(e, "status", INTERRUPTED))
    sys.exit(status or 0)


def launch(
    config: RunConfig,
    run_dir: Path | None,
    resume: bool,
    name: str,
    make: Callable[[Ranks], Any],
    again: str,
) -> tuple[Any, Path]:
    """``make(ranks)`` (a recipe: it loads the model) and its ``run(run_dir)``'s result, on
    ``run_dir`` (made empty, or with ``resume`` the one to finish) or a new
    ``runs/<timestamp>-<name>``. A directory to resume is claimed before the load, so one in use
    is refused at once; a new one after it, so a model that fails to load leaves none behind.
    Stopped by Ctrl-C, SIGTERM or a full disk, rank 0 says how to finish: ``again`` with the
    run directory for ``{}``."""
    from arc_seal.distributed import from_environment
    from arc_seal.records import claim_run_dir, prepare_run_dir
    from arc_seal.report import check_wandb_login

    check_wandb_login(config.wandb)
    ranks = from_environment(config.device)
    with ExitStack() as held:  # rank 0 holds the run directory's lock until the run ends
        if resume:
            run_dir = claim_run_dir(run_dir, resume, config, name, ranks, held)
            recipe = make(ranks)
        else:
            if run_dir is not None and ranks.main:
                prepare_run_dir(run_dir, check_only=True)  # before the model loads
            recipe = make(ranks)
            run_dir = claim_run_dir(run_dir, resume, config, name, ranks, held)
        if ranks.main:
            world = f" ({ranks.world} ranks)" if ranks.world > 1 else ""
            print(f"run directory: {run_dir}{world}", flush=True)
        finish = f"finish the run with `{again.format(run_dir)}`"
        try:
            return recipe.run(run_dir), run_dir
        except KeyboardInterrupt as e:
            if ranks.main:
                print(f"interrupted: every finished job is recorded; {finish}", file=sys.stderr)
            sys.exit(getattr(e, "status", INTERRUPTED))
        except OSError as e:
            if e.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            print(
                f"error: {e.filename or run_dir}: {e.strerror}; every finished job is recorded; "
                f"free some space, then {finish}",
                file=sys.stderr,
            )
            sys.exit(FAILED_RUN)
