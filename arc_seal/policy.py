"""The policy writes a self-edit: the prompt that shows it a task, and the two decodings.

Freely (sampling, as the reference) the reply may not be a valid self-edit; schema-constrained,
at each choice the model's own probabilities are renormalised over the allowed options, so
every sample is valid and has a log-probability.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np
import torch

from arc_seal.config import PROMPTS, RunConfig
from arc_seal.encoding import TaskEncoder
from arc_seal.grid import Task
from arc_seal.self_edit import (
    CHOICE_POINTS,
    InvalidSelfEdit,
    SelfEdit,
    SelfEditSpace,
    canonical_prefix,
    parse_self_edit,
)
from arc_seal.tokenizer import SELF_EDIT_MARKER

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


def _reference_demos(task: Task) -> str:
    blocks = []
    for e in task.train:
        rows = [" ".join(map(str, row)) for row in e.input.tolist()]
        out = [" ".join(map(str, row)) for row in e.output.tolist()]
        blocks.append("Input:\n" + "\n".join(rows) + "\nOutput:\n" + "\n".join(out))
    return "\n---\n".join(blocks)


def shown_task(task: Task, blind: bool) -> Task:
    """The task as the policy's prompt shows it: without its demonstrations in the blind
    control (``blind: true``), so the prompt is the same for every task."""
    return replace(task, train=[]) if blind else task


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
    """One self-edit text of ``space`` and its log-probability under the renormalised
    choices.

    Options are scored as whole continuations of the text so far (each option's tokens given
    the prefix), so any tokenizer works, BPE or character-level.
    """
    ids = prompt_ids(encoder, task, style)
    chosen: tuple[str, ...] = ()
    logprob = 0.0
    while len(chosen) < CHOICE_POINTS:
        options = space.options(chosen)
        if len(options) == 1:  # nothing to choose: no draw
            chosen += (options[0],)
            continue
        probs = _choice_probabilities(model, encoder, ids, chosen, options, temperature)
        choice = int(rng.choice(len(options), p=probs / probs.sum()))
        logprob += float(np.log(probs[choice]))
        chosen += (options[choice],)
    return canonical_prefix(chosen), logprob


def _choice_probabilities(
    model: torch.nn.Module,
    encoder: TaskEncoder,
    prompt: list[int],
    chosen: tuple[str, ...],
    options: list[str],
    temperature: float,
) -> np.ndarray:
    """The model's probabilities of ``options`` at the choice point after ``chosen``,
    renormalised over them (no forward pass where there is only one)."""
    if len(options) == 1:
        return np.ones(1)
    prefix = canonical_prefix(chosen)
    scores = _option_logprobs(model, encoder, prompt, [prefix + o for o in options])
    return torch.softmax(scores / temperature, dim=0).numpy().astype(np.float64)


def configuration_probabilities(
    model: torch.nn.Module,
    encoder: TaskEncoder,
    task: Task,
    space: SelfEditSpace,
    temperature: float = 1.0,
    style: str = "arc-seal",
) -> np.ndarray:
    """p(configuration | task) for every configuration of ``space``, exactly as
    ``sample_schema`` draws them: the product of the renormalised choices along its path.
    One batch of option scores per branching point of the tree, so meant for listed spaces
    (a grid's), not the product of every option."""
    ids = prompt_ids(encoder, task, style)
    reached = {(): 1.0}
    for _ in range(CHOICE_POINTS):
        deeper = {}
        for chosen, p in reached.items():
            options = space.options(chosen)
            probs = _choice_probabilities(model, encoder, ids, chosen, options, temperature)
            deeper |= {(*chosen, o): p * q for o, q in zip(options, probs, strict=True)}
        reached = deeper
    out = np.zeros(len(space.configurations))
    for path, p in reached.items():
        out[space.index(path)] = p
    return out


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


@dataclass(frozen=True)
class Draft:
    """What the policy wrote for a task: the last text, the self-edit it says (None when no
    try was valid, ``invalid`` then says why), how many tries it took, and, with schema
    decoding, its log-probability."""

    text: str
    edit: SelfEdit | None
    invalid: str | None
    tries: int
    logprob: float | None


def write_self_edit(
    model: torch.nn.Module,
    encoder: TaskEncoder,
    task: Task,
    config: RunConfig,
    seed: int,
    space: SelfEditSpace,
) -> Draft:
    """A self-edit for ``task`` (as ``shown_task`` shows it) under the config's decoding
    (schema decoding chooses among ``space``), retried up to ``max_invalid_retries`` times
    while the reply is not a valid self-edit."""
    rng = np.random.default_rng(seed)
    tries, logprob = 0, None
    task = shown_task(task, config.blind)
    while True:
        tries += 1
        if config.decoding == "schema":
            temperature = 1.0 if config.temperature is None else config.temperature
            text, logprob = sample_schema(
                model, encoder, task, space, rng, temperature, config.self_edit_prompt
            )
        else:
            budget = config.max_new_tokens or (128 if encoder.chat else 320)
            temperature = 0.8 if config.temperature is None else config.temperature
            text = sample_free(
                model, encoder, task, seed + tries, temperature, budget, config.self_edit_prompt
            )
        try:
            return Draft(text, parse_self_edit(text), None, tries, logprob)
        except InvalidSelfEdit as e:
            if tries > config.max_invalid_retries:
                return Draft(text, None, str(e), tries, logprob)
