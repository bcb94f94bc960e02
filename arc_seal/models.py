"""Models: load a learner (a Hugging Face id, a local directory, or the embedded default) and
build new small ones for the compact tokenizer (plain Llama, or the grid-aware Llama).

Importing this module registers the grid-aware model (``arc_seal.grid_model``) with the
``transformers`` Auto classes.
"""

from __future__ import annotations

from pathlib import Path

import torch
import transformers
from safetensors import SafetensorError
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.models.auto.configuration_auto import CONFIG_MAPPING

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
    where = f"cannot load model {str(name_or_path)!r}"
    # Only what the user can fix becomes one line: a missing or corrupt file, a config field
    # of the wrong type, an architecture this transformers does not know. A TypeError or
    # AttributeError from the model's own code is a bug and keeps its traceback.
    try:
        raw, _ = PretrainedConfig.get_config_dict(name_or_path)
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"{where}: {_first_line(e)}") from None
    model_type = raw.get("model_type")
    if model_type is not None and model_type not in CONFIG_MAPPING and "auto_map" not in raw:
        raise ModelLoadError(
            f"{where}: its config.json names model_type {model_type!r}, which transformers "
            f"{transformers.__version__} does not know"
        )
    try:
        config = AutoConfig.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(
            name_or_path,
            config=config,
            dtype=dtype or default_dtype(device),
            trust_remote_code=trust_remote_code,
        )
    except (OSError, ValueError, SafetensorError, *_CONFIG_ERRORS) as e:
        raise ModelLoadError(f"{where}: {_first_line(e)}") from None
    return model.to(device).eval(), tokenizer


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


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
