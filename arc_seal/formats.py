"""Grids as text, and a model's text back to grids.

Two formats share one shape — demonstrations, then the query input, then the answer ending in
an end marker:

- ``COMPACT`` for the project's ARC tokenizer: one symbol per cell, ``\\n`` after each row,
  ``I``/``O`` before input/output and ``E`` after each output;
- ``CHAT`` for instruction models, as in the reference: numpy-style grids
  (``[[0 1]\\n [2 3]]``), ``input -> output#``, one demonstration per line.

``parse_answer`` never raises: a reply that is not a grid gives ``Unparseable`` with the
reason, so one bad generation costs one candidate, not the run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from arc_seal.grid import MAX_SIDE, Example, Grid, Task


@dataclass(frozen=True)
class Unparseable:
    """A model answer that is not a valid grid; ``reason`` says why."""

    reason: str


@dataclass(frozen=True)
class TextFormat:
    """Markers around grids; subclasses say how a grid itself is written and read."""

    input_marker: str
    output_marker: str
    end_marker: str
    example_separator: str

    def grid_text(self, grid: Grid) -> str:
        raise NotImplementedError

    def _parse_grid(self, body: str) -> list[list[int]] | Unparseable:
        raise NotImplementedError

    def example_text(self, example: Example) -> str:
        return self.query_text(example.input) + self.answer_text(example.output)

    def query_text(self, grid: Grid) -> str:
        return self.input_marker + self.grid_text(grid) + self.output_marker

    def answer_text(self, grid: Grid) -> str:
        """What the model should write after the prompt: the output grid and the end marker."""
        return self.grid_text(grid) + self.end_marker

    def prompt(self, context: list[Example], query: Grid) -> str:
        """Demonstrations followed by the query input, ready for the answer to follow."""
        return self.prompt_with_spans(context, query)[0]

    def prompt_with_spans(
        self, context: list[Example], query: Grid
    ) -> tuple[str, list[tuple[int, int]]]:
        """The prompt and the character span of each demonstration's answer text in it, so
        a loss can be put on demonstration outputs too."""
        text, spans = "", []
        for example in context:
            text += self.query_text(example.input)
            answer = self.answer_text(example.output)
            spans.append((len(text), len(text) + len(answer)))
            text += answer + self.example_separator
        return text + self.query_text(query), spans

    def task_prompt(self, task: Task, test_index: int = 0) -> str:
        return self.prompt(task.train, task.test[test_index].input)

    def parse_answer(self, text: str) -> Grid | Unparseable:
        """The grid a model wrote, up to the first end marker (or the whole text without one)."""
        body = text.split(self.end_marker, 1)[0]
        if not body.strip():
            return Unparseable("empty answer")
        rows = self._parse_grid(body)
        if isinstance(rows, Unparseable):
            return rows
        widths = {len(r) for r in rows}
        if len(widths) > 1:
            return Unparseable(f"ragged rows: widths {sorted(widths)}")
        if len(rows) > MAX_SIDE or max(widths) > MAX_SIDE:
            return Unparseable(f"grid {len(rows)}x{max(widths)} is larger than 30x30")
        return np.array(rows, dtype=np.int8)


@dataclass(frozen=True)
class CompactFormat(TextFormat):
    input_marker: str = "I"
    output_marker: str = "O"
    end_marker: str = "E"
    example_separator: str = ""

    def grid_text(self, grid: Grid) -> str:
        return "".join("".join(map(str, row)) + "\n" for row in grid.tolist())

    def _parse_grid(self, body: str) -> list[list[int]] | Unparseable:
        lines = body.split("\n")
        if lines[-1] == "":
            lines.pop()
        rows = []
        for r, line in enumerate(lines):
            if not line:
                return Unparseable(f"row {r} is empty")
            if not (line.isascii() and line.isdigit()):
                stray = next(ch for ch in line if not ("0" <= ch <= "9"))
                return Unparseable(f"stray symbol {stray!r} in row {r}")
            rows.append([int(ch) for ch in line])
        return rows


_CHAT_GRID = re.compile(r"\[\s*(?:\[[0-9\s,]*\][\s,]*)+\]")
_CHAT_ROW = re.compile(r"\[([0-9\s,]*)\]")


@dataclass(frozen=True)
class ChatFormat(TextFormat):
    input_marker: str = ""
    output_marker: str = " -> "
    end_marker: str = "#"
    example_separator: str = "\n"

    def grid_text(self, grid: Grid) -> str:
        rows = ["[" + " ".join(map(str, row)) + "]" for row in grid.tolist()]
        return "[" + "\n ".join(rows) + "]"

    def _parse_grid(self, body: str) -> list[list[int]] | Unparseable:
        body = body.strip()
        if not _CHAT_GRID.fullmatch(body):
            return Unparseable(f"not a grid of [[...]] rows: {body[:40]!r}")
        rows = []
        for r, cells in enumerate(_CHAT_ROW.findall(body[1:-1])):
            values = cells.replace(",", " ").split()
            if not values:
                return Unparseable(f"row {r} is empty")
            bad = next((v for v in values if len(v) != 1), None)
            if bad is not None:
                return Unparseable(f"row {r} has {bad!r}, expected a colour 0..9")
            rows.append([int(v) for v in values])
        return rows


COMPACT = CompactFormat()
CHAT = ChatFormat()
