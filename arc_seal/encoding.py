"""Tasks as token ids: the sequences a model trains on, the prompts it answers, and exact loss
masks.

One code path serves both kinds of model: a tokenizer with a chat template (an instruction
model such as Llama-3.2-1B-Instruct) gets the reference chat format inside its own template;
any other tokenizer (the compact ARC tokenizer, a base model) gets the compact format as plain
text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from transformers import PreTrainedTokenizerBase

from arc_seal.formats import CHAT, COMPACT, TextFormat
from arc_seal.grid import MAX_SIDE, Example, Grid, Task

IGNORE = -100  # label of a token that carries no loss

SYSTEM_PROMPT = (
    "You solve abstract reasoning puzzles on grids of colours 0-9. Each example line shows an "
    "input grid, '->', then its output grid and '#'. Find the rule and write the output grid "
    "for the last input, ending with '#'."
)


@dataclass(frozen=True)
class Encoded:
    """One training sequence: token ids and their labels (``IGNORE`` where no loss)."""

    ids: list[int]
    labels: list[int]


class TaskEncoder:
    """Token ids for prompts and training sequences, and a model's answer back to text."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, system_prompt: str = SYSTEM_PROMPT):
        self.tokenizer = tokenizer
        # what pads a batch: the tokenizer's pad token, else its end-of-sequence token
        self.pad_id: int = (
            tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        )
        self.chat = getattr(tokenizer, "chat_template", None) is not None
        self.format: TextFormat = CHAT if self.chat else COMPACT
        self.system_prompt = system_prompt
        end = tokenizer(self.format.end_marker, add_special_tokens=False)["input_ids"]
        # The compact tokenizer's end marker is one token, so generation stops on its id. A
        # BPE may merge "#" with what precedes it ("]]#"), so chat models stop on the string.
        self.end_token_id: int | None = end[0] if len(end) == 1 and not self.chat else None
        widest = np.arange(MAX_SIDE * MAX_SIDE).reshape(MAX_SIDE, MAX_SIDE) % 10
        self.max_answer_tokens = len(self._tokens(self.format.answer_text(widest))) + 8
        self._symbols = self._one_token_per_symbol()

    def _one_token_per_symbol(self) -> dict[str, int] | None:
        """For a tokenizer that writes the compact format one token per character (the
        project's own), each symbol's id, so training sequences are built by table lookup
        (several times faster than tokenizing text: what pretraining's data path needs).
        None for any other tokenizer, checked on a probe that a merging tokenizer would merge.
        """
        if self.chat:
            return None
        fmt = self.format
        symbols = [*"0123456789\n", fmt.input_marker, fmt.output_marker, fmt.end_marker]
        ids = [self._tokens(ch) for ch in symbols]
        if any(len(i) != 1 for i in ids):
            return None
        table = {ch: i[0] for ch, i in zip(symbols, ids, strict=True)}
        probe = "I0123456789\n9876543210\n00\nO11\n22\nE"
        bos = self.tokenizer("", add_special_tokens=True)["input_ids"]
        if self.tokenizer(probe)["input_ids"] != bos + [table[ch] for ch in probe]:
            return None
        self._bos = bos
        self._digits = np.array([table[str(d)] for d in range(10)])
        return table

    def _grid_ids(self, grid: Grid) -> list[int]:
        """A compact-format grid's ids: each row's cells, then the newline."""
        ids = self._digits[np.asarray(grid, dtype=np.int64)]
        newline = np.full((ids.shape[0], 1), self._symbols["\n"])
        return np.concatenate([ids, newline], axis=1).ravel().tolist()

    def _tokens(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _wrap(self, body: str) -> tuple[str, int]:
        """The full prompt text and where ``body`` starts in it."""
        if not self.chat:
            return body, 0
        messages = [
            {"role": "system", "content": self.system_prompt},
            {"role": "user", "content": body},
        ]
        text = self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        start = text.find(body.strip())
        if start < 0:
            raise ValueError("the tokenizer's chat template alters the prompt text")
        return text, start - (len(body) - len(body.lstrip()))

    def prompt_ids(self, context: list[Example], query: Grid) -> list[int]:
        text, _ = self._wrap(self.format.prompt(context, query))
        return self.tokenizer(text, add_special_tokens=not self.chat)["input_ids"]

    def training_sequence(self, task: Task, strategy: str, demo_outputs: bool = False) -> Encoded:
        """Prompt (context + query input) and answer (query output + end marker) as one sequence.

        ``strategy="output_tokens"`` puts loss on the answer only — and, with
        ``demo_outputs``, on each demonstration's output grid and end marker in the prompt;
        ``"all_tokens"`` on every token. Prompt and answer are tokenized apart, exactly as the
        model sees them when it answers.
        """
        if strategy not in ("output_tokens", "all_tokens"):
            raise ValueError(f"unknown strategy {strategy!r}")
        if self._symbols is not None:
            return self._compact_sequence(task, strategy, demo_outputs)
        query = task.test[0]
        body, spans = self.format.prompt_with_spans(task.train, query.input)
        text, offset = self._wrap(body)
        enc = self.tokenizer(text, add_special_tokens=not self.chat, return_offsets_mapping=True)
        prompt = enc["input_ids"]
        answer = self.answer_ids(query.output)
        if strategy == "all_tokens":
            prompt_labels = list(prompt)
        elif demo_outputs:
            spans = [(a + offset, b + offset) for a, b in spans]
            prompt_labels = [
                tok if any(s < b and e > a for a, b in spans) else IGNORE
                for tok, (s, e) in zip(prompt, enc["offset_mapping"], strict=True)
            ]
        else:
            prompt_labels = [IGNORE] * len(prompt)
        return Encoded(prompt + answer, prompt_labels + answer)

    def _compact_sequence(self, task: Task, strategy: str, demo_outputs: bool) -> Encoded:
        """``training_sequence`` by table lookup: the same ids and labels."""
        fmt = self.format
        i, o, e = (self._symbols[m] for m in (fmt.input_marker, fmt.output_marker, fmt.end_marker))
        ids, labels = list(self._bos), [IGNORE] * len(self._bos)
        for example in task.train:
            prompt = [i, *self._grid_ids(example.input), o]
            answer = [*self._grid_ids(example.output), e]
            ids += prompt + answer
            labels += [IGNORE] * len(prompt) + (answer if demo_outputs else [IGNORE] * len(answer))
        query = task.test[0]
        prompt = [i, *self._grid_ids(query.input), o]
        answer = [*self._grid_ids(query.output), e]
        ids += prompt
        if strategy == "all_tokens":
            labels = list(ids)
        else:
            labels += [IGNORE] * len(prompt)
        return Encoded(ids + answer, labels + answer)

    def answer_ids(self, grid: Grid) -> list[int]:
        """An answer's tokens (the grid and the end marker), tokenized apart from its prompt."""
        return self._tokens(self.format.answer_text(grid))

    def decode_answer(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)
