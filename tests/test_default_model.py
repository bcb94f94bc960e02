"""The embedded model: it loads with no network and runs the whole TTT path."""

import numpy as np

from arc_seal.models import DEFAULT_MODEL, load_model
from arc_seal.predict import PredictConfig, predict, score
from arc_seal.synthetic import make_task
from arc_seal.tokenizer import build_compact_tokenizer
from arc_seal.ttt import TTTConfig, TTTEngine


def test_shipped_checkpoint_loads_and_adapts_to_a_task():
    model, tokenizer = load_model(DEFAULT_MODEL, device="cpu")
    assert tokenizer.get_vocab() == build_compact_tokenizer().get_vocab()
    assert type(model).__name__ == "GridLlamaForCausalLM"  # loaded through the Auto classes
    assert sum(p.numel() for p in model.parameters()) < 6_000_000  # well under 25 MB in fp32
    engine = TTTEngine(model, tokenizer, TTTConfig(lora_r=8, lora_alpha=8))
    task = make_task("flip_lr", np.random.default_rng(0), n_train=3, min_side=3, max_side=4)
    config = TTTConfig(families=("basic",), epochs=1, max_sequences=8, lora_r=8, lora_alpha=8)
    result = engine.train(task, config)
    assert result.ok and result.steps == 4
    assert result.losses[0] < 1.5  # a pretrained model, not random weights (~4 nats)
    predictions = predict(engine.model, engine.encoder, task, PredictConfig(views=("identity",)))
    verdict = score(task, predictions)
    # every answer parses, at the shape the demonstrations imply
    assert all(c.grid is not None for c in predictions[0].candidates)
    assert verdict.shape_accuracy == 1.0
