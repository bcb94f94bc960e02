"""Loading a learner, and turning tasks into the token ids it trains on and answers.

One code path serves both kinds of model: a tokenizer with a chat template (an instruction
model such as Llama-3.2-1B-Instruct) gets the reference chat format inside its own template;
any other tokenizer (the compact ARC tokenizer, a base model) gets the compact format as plain
text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from arc_seal.errors import ModelLoadError
from arc_seal.formats import CHAT, COMPACT, TextFormat
from arc_seal.grid import MAX_SIDE, Example, Grid, Task
from arc_seal.grid_model import GridLlamaConfig, GridLlamaForCausalLM
from arc_seal.tokenizer import SELF_EDIT_MARKER

try:  # a config field of the wrong type, in recent transformers
    from huggingface_hub.errors import StrictDataclassError

    _CONFIG_ERRORS: tuple[type[Exception], ...] = (StrictDataclassError,)
except ImportError:  # older versions raise ValueError or TypeError
    _CONFIG_ERRORS = ()

IGNORE = -100  # label of a token that carries no loss

SYSTEM_PROMPT = (
    "You solve abstract reasoning puzzles on grids of colours 0-9. Each example line shows an "
    "input grid, '->', then its output grid and '#'. Find the rule and write the output grid "
    "for the last input, ending with '#'."
)


# The project's own small ARC model, shipped inside the package; used when no model is named.
DEFAULT_MODEL = Path(__file__).resolve().parent / "default_model"


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def default_dtype(device: str | torch.device) -> torch.dtype:
    """bf16 on GPUs; fp32 on CPUs, where bf16 matmuls are many times slower."""
    return torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32


def load_model(
    name_or_path: str | Path,
    device: str | None = None,
    dtype: torch.dtype | None = None,
    trust_remote_code: bool = False,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A causal LM and its tokenizer from a Hugging Face id or a local directory, in eval mode."""
    device = device or default_device()
    if Path(name_or_path) == DEFAULT_MODEL and not DEFAULT_MODEL.is_dir():
        raise ModelLoadError(f"the embedded default model is not installed at {DEFAULT_MODEL}")
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(
            name_or_path, dtype=dtype or default_dtype(device), trust_remote_code=trust_remote_code
        )
    except (OSError, ValueError, TypeError, AttributeError, SafetensorError, *_CONFIG_ERRORS) as e:
        # a missing or corrupt file, a config with a field of the wrong type, an unknown
        # architecture: all the user's to fix, so one line naming the model
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelLoadError(f"cannot load model {str(name_or_path)!r}: {first_line}") from None
    return model.to(device).eval(), tokenizer


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
        query = task.test[0]
        body, spans = self.format.prompt_with_spans(task.train, query.input)
        text, offset = self._wrap(body)
        enc = self.tokenizer(text, add_special_tokens=not self.chat, return_offsets_mapping=True)
        prompt = enc["input_ids"]
        answer = self._tokens(self.format.answer_text(query.output))
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

    def decode_answer(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)


def new_llama(
    tokenizer: PreTrainedTokenizerBase,
    hidden_size: int = 128,
    layers: int = 4,
    heads: int = 4,
    kv_heads: int | None = None,
    intermediate_size: int | None = None,
    max_positions: int = 8192,
    vocab_size: int | None = None,
    seed: int = 0,
    grid_positions: bool = False,
) -> PreTrainedModel:
    """A randomly initialised Llama-architecture model for ``tokenizer`` (``vocab_size``
    overrides the vocabulary size, e.g. to time a model shaped like a released one).

    ``grid_positions`` adds (row, column, plane) embeddings (``GridLlamaForCausalLM``); it
    needs the compact tokenizer, whose structure tokens it reads positions from.
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    shape = dict(
        vocab_size=vocab_size or len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size or 4 * hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads or heads,
        max_position_embeddings=max_positions,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        # 1/sqrt(width) rather than Llama's 0.02: at small widths 0.02 bounds the logits of
        # the tied output layer so tightly that no confident prediction is reachable.
        initializer_range=hidden_size**-0.5,
    )
    torch.manual_seed(seed)
    if not grid_positions:
        return LlamaForCausalLM(LlamaConfig(**shape)).eval()
    ids = tokenizer.convert_tokens_to_ids
    config = GridLlamaConfig(
        newline_id=ids("\n"),
        input_id=ids(COMPACT.input_marker),
        output_id=ids(COMPACT.output_marker),
        end_id=ids(COMPACT.end_marker),
        self_edit_id=ids(SELF_EDIT_MARKER),
        digit_ids=ids([str(d) for d in range(10)]),
        **shape,
    )
    return GridLlamaForCausalLM(config).eval()
