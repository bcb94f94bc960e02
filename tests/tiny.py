"""Tiny models and tokenizers built in-process, so no test downloads anything."""

from functools import cache

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from arc_seal.formats import CHAT
from arc_seal.models import SYSTEM_PROMPT
from arc_seal.synthetic import generate_tasks

# The shape of Llama 3's template, trimming message contents as it does.
LLAMA3_LIKE_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n{{ m['content'] | trim }}<|eot_id|>"
    "{% endfor %}{% if add_generation_prompt %}"
    "<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
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
