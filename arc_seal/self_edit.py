"""Self-edits: the policy's choice of augmentations and training settings for one task.

A self-edit is the reference's JSON::

    {"data_generation": {"use_basic_augmentations": bool, "use_size_augmentations": bool,
                         "use_chain_augmentations": bool, "use_repeat_augmentations": bool},
     "training": {"strategy": "train_using_all_tokens" | "train_using_output_tokens",
                  "learning_rate": float, "num_train_epochs": int}}

The policy writes it after a prompt showing the task's demonstrations, either freely
(sampling, as the reference) or schema-constrained: at each choice the model's own
probabilities are renormalised over the allowed options, so every sample is valid and has a
log-probability.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace

import numpy as np
import torch

from arc_seal.augment import FAMILIES
from arc_seal.config import PROMPTS, REFERENCE_EPOCHS, REFERENCE_LEARNING_RATES, TTTConfig
from arc_seal.encoding import TaskEncoder
from arc_seal.grid import Task
from arc_seal.tokenizer import SELF_EDIT_MARKER

STRATEGIES = {
    "train_using_output_tokens": "output_tokens",
    "train_using_all_tokens": "all_tokens",
}
FLAGS = tuple(f"use_{f}_augmentations" for f in FAMILIES)
LR_RANGE = (1e-7, 1e-1)
EPOCH_RANGE = (1, 50)

TOOL_DESCRIPTION = (
    "You will adapt a model to the puzzle above by training it on its examples. Choose the "
    "training data and settings. Data: basic augmentations (rotations, flips, reflections, "
    "shifts, transpose), size augmentations (upscaling), chain augmentations (a basic one "
    "then upscaling), repeat augmentations (tiling). Training: strategy "
    "'train_using_output_tokens' (loss on answers) or 'train_using_all_tokens', a learning "
    "rate and a number of epochs. Answer with JSON only, in this form:\n"
    '{"data_generation": {"use_basic_augmentations": true, "use_size_augmentations": false, '
    '"use_chain_augmentations": false, "use_repeat_augmentations": false}, "training": '
    '{"strategy": "train_using_output_tokens", "learning_rate": 0.0001, "num_train_epochs": 2}}'
)


# The reference's prompt, in this project's words: a short fixed system message, the
# demonstrations as Input/Output blocks of space-separated digits between dashed lines, then
# the keys with their types and a skeleton whose values are left out (no example values).
REFERENCE_SYSTEM = "You choose how a model should be trained to solve a grid puzzle."
REFERENCE_INSTRUCTIONS = (
    "Decide how to train a model on the examples above. Reply with one JSON object with these "
    "keys:\n"
    "- data_generation.use_basic_augmentations (bool): rotations, flips, reflections, shifts, "
    "transpose\n"
    "- data_generation.use_size_augmentations (bool): upscaling\n"
    "- data_generation.use_chain_augmentations (bool): a basic augmentation, then upscaling\n"
    "- data_generation.use_repeat_augmentations (bool): tiling\n"
    '- training.strategy (str): "train_using_all_tokens" or "train_using_output_tokens"\n'
    "- training.learning_rate (float)\n"
    "- training.num_train_epochs (int)\n"
    "Layout:\n"
    '{"data_generation": {"use_basic_augmentations": ..., "use_size_augmentations": ..., '
    '"use_chain_augmentations": ..., "use_repeat_augmentations": ...}, '
    '"training": {"strategy": ..., "learning_rate": ..., "num_train_epochs": ...}}'
)
# Lines some chat templates (Llama 3.x) add to every system message; the reference has none.
_DATE_LINE = re.compile(r"^(Cutting Knowledge Date|Today Date):.*\n", re.MULTILINE)


class InvalidSelfEdit(ValueError):
    """A self-edit text that does not say a valid configuration; the message says why."""


@dataclass(frozen=True)
class SelfEdit:
    use_basic_augmentations: bool
    use_size_augmentations: bool
    use_chain_augmentations: bool
    use_repeat_augmentations: bool
    strategy: str
    learning_rate: float
    num_train_epochs: int

    def to_json(self) -> dict:
        return {
            "data_generation": {f: getattr(self, f) for f in FLAGS},
            "training": {
                "strategy": self.strategy,
                "learning_rate": self.learning_rate,
                "num_train_epochs": self.num_train_epochs,
            },
        }

    def text(self) -> str:
        """The canonical JSON text, as schema decoding writes it."""
        return json.dumps(self.to_json(), separators=(",", ":"))

    def ttt_config(self, base: TTTConfig) -> TTTConfig:
        """``base`` with this self-edit's families, loss, learning rate and epochs."""
        families = tuple(f for f, flag in zip(FAMILIES, FLAGS, strict=True) if getattr(self, flag))
        return replace(
            base,
            families=families,
            strategy=STRATEGIES[self.strategy],
            learning_rate=self.learning_rate,
            epochs=self.num_train_epochs,
        )


def _check(obj: object) -> SelfEdit:
    if not isinstance(obj, dict):
        raise InvalidSelfEdit("not a JSON object")
    data, training = obj.get("data_generation"), obj.get("training")
    if not isinstance(data, dict) or not isinstance(training, dict):
        raise InvalidSelfEdit("needs 'data_generation' and 'training' objects")
    for key in (*FLAGS, "strategy", "learning_rate", "num_train_epochs"):
        if key not in (data if key in FLAGS else training):
            raise InvalidSelfEdit(f"missing key {key!r}")
    flags = {f: data[f] for f in FLAGS}
    for f, v in flags.items():
        if not isinstance(v, bool):
            raise InvalidSelfEdit(f"{f} is {v!r}, expected true or false")
    strategy, lr, epochs = (
        training["strategy"],
        training["learning_rate"],
        training["num_train_epochs"],
    )
    if strategy not in STRATEGIES:
        raise InvalidSelfEdit(f"unknown strategy {strategy!r}; expected one of {list(STRATEGIES)}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr):
        raise InvalidSelfEdit(f"learning_rate is {lr!r}, expected a number")
    if not LR_RANGE[0] <= lr <= LR_RANGE[1]:
        raise InvalidSelfEdit(f"learning_rate {lr} is outside {LR_RANGE[0]}..{LR_RANGE[1]}")
    if isinstance(epochs, float) and epochs.is_integer():
        epochs = int(epochs)
    if isinstance(epochs, bool) or not isinstance(epochs, int):
        raise InvalidSelfEdit(f"num_train_epochs is {epochs!r}, expected a whole number")
    if not EPOCH_RANGE[0] <= epochs <= EPOCH_RANGE[1]:
        raise InvalidSelfEdit(
            f"num_train_epochs {epochs} is outside {EPOCH_RANGE[0]}..{EPOCH_RANGE[1]}"
        )
    return SelfEdit(**flags, strategy=strategy, learning_rate=float(lr), num_train_epochs=epochs)


_FENCE = re.compile(r"```(?:json)?", re.IGNORECASE)
# A self-edit is about 300 characters and a reply at most a few hundred tokens; the cap keeps
# the parser's work bounded whatever text it is handed.
MAX_REPLY_CHARS = 10_000


def parse_self_edit(text: str) -> SelfEdit:
    """The self-edit in a model's reply: lenient on form (code fences, words around the JSON,
    key order), strict on meaning. Raises ``InvalidSelfEdit`` with the reason."""
    if not isinstance(text, str):
        raise InvalidSelfEdit(f"expected text, got {type(text).__name__}")
    if len(text) > MAX_REPLY_CHARS:
        raise InvalidSelfEdit(
            f"reply has {len(text)} characters; a self-edit takes at most {MAX_REPLY_CHARS}"
        )
    text = _FENCE.sub(" ", text)
    decoder = json.JSONDecoder()
    first_error = None
    for start in (i for i, ch in enumerate(text) if ch == "{"):
        try:
            obj, _ = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):  # bad JSON, or a number too long to convert
            continue
        try:
            return _check(obj)
        except InvalidSelfEdit as e:
            first_error = first_error or e
        except OverflowError:  # an integer too large to compare as a float
            first_error = first_error or InvalidSelfEdit("a number is too large")
    if first_error is not None:
        raise first_error
    raise InvalidSelfEdit("no JSON object found")


@dataclass(frozen=True)
class SelfEditSpace:
    """The options schema decoding chooses from."""

    learning_rates: tuple[float, ...] = REFERENCE_LEARNING_RATES
    epochs: tuple[int, ...] = REFERENCE_EPOCHS

    def pieces(self) -> list[str | list[str]]:
        """The canonical JSON as fixed text and choice points (lists of option texts)."""
        bools = ["true", "false"]
        out: list[str | list[str]] = ['{"data_generation":{']
        for i, flag in enumerate(FLAGS):
            out += [("," if i else "") + f'"{flag}":', bools]
        out += ['},"training":{"strategy":"', list(STRATEGIES), '","learning_rate":']
        out += [[json.dumps(float(lr)) for lr in self.learning_rates], ',"num_train_epochs":']
        out += [[str(e) for e in self.epochs], "}}"]
        return out


def _reference_demos(task: Task) -> str:
    blocks = []
    for e in task.train:
        rows = [" ".join(map(str, row)) for row in e.input.tolist()]
        out = [" ".join(map(str, row)) for row in e.output.tolist()]
        blocks.append("Input:\n" + "\n".join(rows) + "\nOutput:\n" + "\n".join(out))
    return "\n---\n".join(blocks)


def prompt_ids(encoder: TaskEncoder, task: Task, style: str = "arc-seal") -> list[int]:
    """The self-edit prompt: the task's demonstrations, then the request for a self-edit.

    Chat models get it in their chat template: the task in the project's chat format and the
    tool description (``style="arc-seal"``), or the reference's layout (``"reference"``: its
    system message, Input/Output blocks, the keys and an elided skeleton, no date lines). The
    compact tokenizer gets the demonstrations and the self-edit marker.
    """
    if style not in PROMPTS:
        raise ValueError(f"prompt style must be one of {PROMPTS}, got {style!r}")
    fmt, tok = encoder.format, encoder.tokenizer
    if not encoder.chat:
        demos = fmt.example_separator.join(fmt.example_text(e) for e in task.train)
        return tok(demos + SELF_EDIT_MARKER)["input_ids"]
    if style == "reference":
        messages = [
            {"role": "system", "content": REFERENCE_SYSTEM},
            {"role": "user", "content": _reference_demos(task) + "\n\n" + REFERENCE_INSTRUCTIONS},
        ]
    else:
        demos = fmt.example_separator.join(fmt.example_text(e) for e in task.train)
        messages = [{"role": "user", "content": demos + "\n\n" + TOOL_DESCRIPTION}]
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    if style == "reference":
        text = _DATE_LINE.sub("", text)
    return tok(text, add_special_tokens=False)["input_ids"]


@torch.no_grad()
def _option_logprobs(
    model: torch.nn.Module, encoder: TaskEncoder, prompt: list[int], texts: list[str]
) -> torch.Tensor:
    """log p(text | prompt) for each continuation text, in one right-padded batch."""
    tok = encoder.tokenizer
    conts = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    width = len(prompt) + max(len(c) for c in conts)
    ids = torch.full((len(texts), width), encoder.pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, c in enumerate(conts):
        ids[row, : len(prompt) + len(c)] = torch.tensor(prompt + c)
        mask[row, : len(prompt) + len(c)] = 1
    device = next(model.parameters()).device
    logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
    logp = torch.log_softmax(logits[:, :-1], dim=-1)
    out = torch.zeros(len(texts))
    for row, c in enumerate(conts):
        positions = torch.arange(len(prompt) - 1, len(prompt) - 1 + len(c), device=device)
        out[row] = logp[row, positions, torch.tensor(c, device=device)].sum().cpu()
    return out


def sample_schema(
    model: torch.nn.Module,
    encoder: TaskEncoder,
    task: Task,
    space: SelfEditSpace,
    rng: np.random.Generator,
    temperature: float = 1.0,
    style: str = "arc-seal",
) -> tuple[str, float]:
    """One valid self-edit text and its log-probability under the renormalised choices.

    Options are scored as whole continuations of the text so far (each option's tokens given
    the prefix), so any tokenizer works, BPE or character-level.
    """
    ids = prompt_ids(encoder, task, style)
    text, logprob = "", 0.0
    for piece in space.pieces():
        if isinstance(piece, str):
            text += piece
            continue
        scores = _option_logprobs(model, encoder, ids, [text + o for o in piece])
        probs = torch.softmax(scores / temperature, dim=0).numpy().astype(np.float64)
        choice = int(rng.choice(len(piece), p=probs / probs.sum()))
        logprob += float(np.log(probs[choice]))
        text += piece[choice]
    return text, logprob


@torch.no_grad()
def sample_free(
    model: torch.nn.Module,
    encoder: TaskEncoder,
    task: Task,
    seed: int,
    temperature: float = 0.8,
    max_new_tokens: int = 128,
    style: str = "arc-seal",
) -> str:
    """A freely sampled reply (the reference's decoding); it may not be a valid self-edit."""
    tok = encoder.tokenizer
    prompt = prompt_ids(encoder, task, style)
    device = next(model.parameters()).device
    torch.manual_seed(seed)
    stop = {} if encoder.chat else {"stop_strings": ["}}"], "tokenizer": tok}
    out = model.generate(
        input_ids=torch.tensor([prompt], device=device),
        attention_mask=torch.ones((1, len(prompt)), dtype=torch.long, device=device),
        do_sample=True,
        temperature=temperature,
        top_k=0,
        max_new_tokens=max_new_tokens,
        pad_token_id=encoder.pad_id,
        **stop,
    )
    return tok.decode(out[0, len(prompt) :].tolist(), skip_special_tokens=True)
