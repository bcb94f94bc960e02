"""Tiny models and tokenizers built in-process, so no test downloads anything."""

import json
import sys
from functools import cache
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from arc_seal.encoding import SYSTEM_PROMPT
from arc_seal.formats import CHAT
from arc_seal.models import new_llama
from arc_seal.synthetic import generate_tasks
from arc_seal.tokenizer import build_compact_tokenizer

# The shape of Llama 3's template, trimming message contents as it does.
LLAMA3_LIKE_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n{{ m['content'] | trim }}<|eot_id|>"
    "{% endfor %}{% if add_generation_prompt %}"
    "<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
ROOT = Path(__file__).resolve().parent.parent
CHAT_SPECIALS = ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]


@cache
def chat_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE trained on ARC chat-format text, with a Llama-3-like chat template."""
    texts = [SYSTEM_PROMPT, "system user assistant"]
    texts += [CHAT.task_prompt(t) + CHAT.answer_text(t.test[0].output) for t in generate_tasks(60)]
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<pad>", *CHAT_SPECIALS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    core.train_from_iterator(texts, trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
        pad_token="<pad>",
        additional_special_tokens=CHAT_SPECIALS[1:3],
    )
    tok.chat_template = LLAMA3_LIKE_TEMPLATE
    return tok


def learnable_run_inputs(root: Path) -> dict[str, Path]:
    """A subset of synthetic colour-map tasks a tiny model learns by TTT, a tiny checkpoint,
    and a config small enough for the whole SEAL loop to run in seconds."""
    (root / "tasks").mkdir(parents=True, exist_ok=True)
    tasks = generate_tasks(3, seed=0, rules=["colour_map"], n_train=8, min_side=1, max_side=1)
    for t in tasks:
        (root / "tasks" / f"{t.id}.json").write_text(json.dumps(t.to_json()))
    subset = root / "subset.json"
    ids = [t.id for t in tasks]
    subset.write_text(json.dumps({"dataset": "tasks", "train": ids[:2], "eval": ids[2:]}))
    tok = build_compact_tokenizer()
    model_dir = root / "model"
    new_llama(tok, hidden_size=64, layers=2, heads=4).save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    config = root / "config.yaml"
    config.write_text(TINY_RUN_CONFIG)
    return {"subset": subset, "model": model_dir, "config": config}


# A small whole SEAL loop on ``learnable_run_inputs``: one iteration, two self-edits per train
# task, one per eval task.
SMALL = ["--iterations", "1", "--samples-per-task", "2", "--eval-samples", "1"]
EXPECTED_JOBS = 1 + 1 + 1 + 2 * 2 + 1 + 1  # icl, oracle, no_rl, rest_em, sft, seal
# What the session's whole run adds: a learning rate at which the oracle solves a task.
WHOLE_RUN = ["--oracle-learning-rate", "0.005"]


def run_command(inputs: dict[str, Path], out: Path, *extra: str) -> list[str]:
    """``scripts/run_arc.py`` on ``learnable_run_inputs``, the small loop, into ``out``."""
    return [
        sys.executable,
        str(ROOT / "scripts" / "run_arc.py"),
        "--config",
        str(inputs["config"]),
        "--subset",
        str(inputs["subset"]),
        "--model",
        str(inputs["model"]),
        "--output-dir",
        str(out),
        *SMALL,
        *extra,
    ]


def challenges_subset(root: Path) -> Path:
    """The tasks of ``learnable_run_inputs`` as a Kaggle challenges file without solutions,
    and a subset file that scores them all: answers without known outputs."""
    challenges = {}
    for f in sorted((root / "tasks").glob("*.json")):
        task = json.loads(f.read_text())
        for e in task["test"]:
            del e["output"]
        challenges[f.stem] = task
    (root / "kaggle").mkdir()
    (root / "kaggle" / "test_challenges.json").write_text(json.dumps(challenges))
    subset = root / "predict.json"
    spec = {"dataset": "kaggle/test_challenges.json", "train": [], "eval": sorted(challenges)}
    subset.write_text(json.dumps(spec))
    return subset


TINY_RUN_CONFIG = """
learning_rates: [0.01]
epoch_options: [10]
ttt:
  lora_r: 32
  lora_alpha: 32
  lora_targets: [q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj]
  demo_outputs: true
  max_sequences: 24
  max_steps: null
predict:
  views: [identity]
  orders: 1
  leave_one_out: false
  max_new_tokens: 8
sft:
  epochs: 2
  learning_rate: 0.001
"""
