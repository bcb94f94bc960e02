"""Pictures of tasks and predictions, in the standard ARC palette.

Drawn with matplotlib's object API (no pyplot state, no fonts fetched), so it works offline
and from worker threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from arc_seal.errors import ConfigError
from arc_seal.grid import Grid, Task, grids_equal

PALETTE = [
    "#000000",  # 0 black
    "#0074D9",  # 1 blue
    "#FF4136",  # 2 red
    "#2ECC40",  # 3 green
    "#FFDC00",  # 4 yellow
    "#AAAAAA",  # 5 grey
    "#F012BE",  # 6 magenta
    "#FF851B",  # 7 orange
    "#7FDBFF",  # 8 sky
    "#870C25",  # 9 maroon
]
_CMAP = ListedColormap(PALETTE)
_CELL_INCHES = 2.4


def _draw(ax, grid: Grid | None, title: str, colour: str = "black") -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    if grid is None:
        ax.set_axis_off()
        ax.text(0.5, 0.5, title, ha="center", va="center", fontsize=9, color=colour)
        return
    h, w = grid.shape
    ax.imshow(grid, cmap=_CMAP, vmin=0, vmax=9, interpolation="nearest")
    ax.set_xticks(np.arange(-0.5, w), minor=True)
    ax.set_yticks(np.arange(-0.5, h), minor=True)
    ax.grid(which="minor", color="#555555", linewidth=0.5)
    ax.tick_params(which="minor", length=0)
    ax.set_title(f"{title} {h}x{w}", fontsize=9, color=colour)


def render_tasks(tasks: list[Task], out: Path | None) -> list[Path]:
    """Each task to ``out`` (default ``<task id>.png``), or, for several, to ``<task id>.png``
    in the folder ``out``; a picture that cannot be written is named in one line."""
    paths = []
    for task in tasks:
        if len(tasks) == 1:
            path = out or Path(f"{task.id}.png")
        else:
            path = (out or Path(".")) / f"{task.id}.png"
        try:
            paths.append(render_task(task, path, title=f"{task.id} ({task.source})"))
        except OSError as e:
            raise ConfigError(f"{path}: cannot write the picture ({e.strerror})") from None
    return paths


def render_task(
    task: Task,
    path: str | Path,
    attempts: Sequence[Sequence[Grid | None]] | None = None,
    title: str | None = None,
) -> Path:
    """Save a PNG: one column per demonstration and per test input; test columns show the
    input, the true output when known, and ``attempts[i]`` (predictions for test ``i``),
    each marked right or wrong against the truth."""
    n_attempts = max((len(a) for a in attempts), default=0) if attempts else 0
    columns = len(task.train) + len(task.test)
    rows = 2 + n_attempts
    fig = Figure(
        figsize=(_CELL_INCHES * columns, (_CELL_INCHES + 0.3) * rows + 0.4), layout="constrained"
    )
    axes = fig.subplots(rows, columns, squeeze=False)
    for c, ex in enumerate(task.train):
        _draw(axes[0, c], ex.input, f"demo {c} in")
        _draw(axes[1, c], ex.output, f"demo {c} out")
        for r in range(2, rows):
            axes[r, c].set_axis_off()
    for i, ex in enumerate(task.test):
        c = len(task.train) + i
        _draw(axes[0, c], ex.input, f"test {i} in")
        _draw(
            axes[1, c], ex.output, f"test {i} truth" if ex.output is not None else "truth unknown"
        )
        tries = list(attempts[i]) if attempts and i < len(attempts) else []
        for a in range(n_attempts):
            guess = tries[a] if a < len(tries) else None
            if guess is None:
                _draw(axes[2 + a, c], None, f"attempt {a + 1}: none", "grey")
            elif ex.output is None:
                _draw(axes[2 + a, c], guess, f"attempt {a + 1}")
            else:
                right = grids_equal(guess, ex.output)
                mark, colour = ("right", "green") if right else ("wrong", "red")
                _draw(axes[2 + a, c], guess, f"attempt {a + 1} {mark}", colour)
    fig.suptitle(title or task.id, fontsize=11)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    return path


def render_choices(panels: dict[str, dict[str, list[float]]], out: Path) -> Path:
    """The policy's choice probabilities as pictures, one panel per title: families (rows) x
    configurations (columns), each cell the mean probability over the family's eval tasks, so
    a policy that reads the task shows a different bright cell in different rows."""
    figure = Figure(figsize=(3.2 * len(panels) + 1, 0.35 * max(map(len, panels.values())) + 1.6))
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, by_family) in zip(axes, panels.items(), strict=True):
        families = sorted(by_family)
        image = ax.imshow(
            np.array([by_family[g] for g in families]), vmin=0, vmax=1, cmap="viridis"
        )
        ax.set_yticks(range(len(families)), families if ax is axes[0] else [""] * len(families))
        ax.set_xticks(range(len(by_family[families[0]])))
        ax.set_xticklabels([f"c{i}" for i in range(len(by_family[families[0]]))], fontsize=7)
        ax.set_title(title, fontsize=8)
    figure.colorbar(image, ax=list(axes), shrink=0.8, label="p(configuration)")
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110, bbox_inches="tight")
    return out
