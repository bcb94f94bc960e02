"""The compact ARC tokenizer: one token per symbol of ``formats.COMPACT``, plus the
characters a self-edit's JSON is written with.

A ``transformers`` fast tokenizer, saved and loaded with ``save_pretrained``/``from_pretrained``
like any other, so a model trained with it is an ordinary Hugging Face checkpoint. With ~20
tokens instead of a 128k vocabulary, a small model spends its parameters and its CPU time on
grids rather than on an output layer.
"""

from __future__ import annotations

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from arc_seal.formats import COMPACT

SPECIAL_TOKENS = {"pad": "<pad>", "bos": "<s>", "eos": "</s>", "unk": "<unk>"}
SELF_EDIT_MARKER = "S"  # follows the demonstrations where the model writes its self-edit
SYMBOLS = [
    *"0123456789",
    "\n",
    COMPACT.input_marker,
    COMPACT.output_marker,
    COMPACT.end_marker,
    SELF_EDIT_MARKER,
    # what a self-edit's JSON is written with, one character per token
    *"abcdefghijklmnopqrstuvwxyz",
    *'{}[]":,.-+_ ',
]


def build_compact_tokenizer() -> PreTrainedTokenizerFast:
    """A character-level tokenizer over ``SYMBOLS``.

    Every encoded text starts with ``<s>``; unknown characters become ``<unk>``.
    """
    vocab: dict[str, int] = {}
    for token in [*SPECIAL_TOKENS.values(), *SYMBOLS]:
        vocab.setdefault(token, len(vocab))
    core = Tokenizer(models.WordLevel(vocab, unk_token=SPECIAL_TOKENS["unk"]))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"(?m)."), behavior="isolated")
    core.decoder = decoders.Fuse()
    bos = SPECIAL_TOKENS["bos"]
    core.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", special_tokens=[(bos, vocab[bos])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        **{f"{k}_token": v for k, v in SPECIAL_TOKENS.items()},
        padding_side="left",
    )
