"""Models: load a learner (a Hugging Face id, a local directory, or the embedded default) and
build new small ones for the compact tokenizer (plain Llama, or the grid-aware Llama).

Importing this module registers the grid-aware model (``arc_seal.grid_model``) with the
``transformers`` Auto classes.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from arc_seal.errors import ModelLoadError
from arc_seal.formats import COMPACT
from arc_seal.grid_model import GridLlamaConfig, GridLlamaForCausalLM
from arc_seal.tokenizer import SELF_EDIT_MARKER

try:  # a config field of the wrong type, in recent transformers
    from huggingface_hub.errors import StrictDataclassError

    _CONFIG_ERRORS: tuple[type[Exception], ...] = (StrictDataclassError,)
except ImportError:  # older versions raise ValueError or TypeError
    _CONFIG_ERRORS = ()

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
    grid_positions: str | None = None,
    edge_positions: bool = False,
    static_pairs: int = 0,
) -> PreTrainedModel:
    """A randomly initialised Llama-architecture model for ``tokenizer`` (``vocab_size``
    overrides the vocabulary size, e.g. to time a model shaped like a released one).

    ``grid_positions`` (``learned`` or ``rotary``) gives every token its (row, column, plane)
    (``GridLlamaForCausalLM``); it needs the compact tokenizer, whose structure tokens it reads
    positions from; ``edge_positions`` and ``static_pairs`` are ``GridLlamaConfig``'s.
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
        grid_encoding=grid_positions,
        edge_positions=edge_positions,
        static_pairs=static_pairs,
        **shape,
    )
    return GridLlamaForCausalLM(config).eval()
