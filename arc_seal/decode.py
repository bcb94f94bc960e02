"""Answers by search: every grid the model finds likely enough, written under the grid grammar.

The compact format lets a grammar decide, token by token, what may come next in an answer
(a cell, a row break, the end marker), so every answer parses and a known output shape is
kept. Probabilities are renormalised over what the grammar allows.

``search`` keeps every answer prefix whose probability is at least ``cutoff``: a prefix is at
least as probable as any answer it starts, so pruning prefixes loses no answer above the
cutoff, and since live prefixes are disjoint events at most ``1 / cutoff`` of them per prompt
are alive at once. It returns the set a depth-first search with that cutoff returns, but walks
it breadth-first, so that the newest token of every live prefix of every prompt in a batch goes
through one forward pass, with keys and values cached (rows of the cache follow their prefix
when it branches). Greedy decoding is the same loop keeping only the best token.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import torch
from transformers import Cache, LlamaForCausalLM, PreTrainedTokenizerBase
from transformers.cache_utils import DynamicLayer

from arc_seal.grid import MAX_SIDE
from arc_seal.grid_model import GridLlamaConfig, cell_positions

# transformers 5 renamed the KV-cache argument from ``past_key_values`` to ``cache``.
CACHE_ARG = next(
    name
    for name in ("cache", "past_key_values")
    if name in inspect.signature(LlamaForCausalLM.forward).parameters
)


class RoomyLayer(DynamicLayer):
    """A growing KV cache layer with spare room: an update writes the new keys and values after
    the cached ones, doubling the room when it runs out, instead of copying every cached token
    into a new tensor (``torch.cat``: a quarter of the decoding time of a 3,000-token prompt).
    ``keys`` and ``values`` are views of the filled part, so attention sees the same values."""

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
            self._room_k = self._room_v = None
            self._length = 0
        end = self._length + key_states.shape[-2]
        if self._room_k is None or end > self._room_k.shape[-2]:
            room = max(end, 2 * (0 if self._room_k is None else self._room_k.shape[-2]))
            shape = (*key_states.shape[:-2], room, key_states.shape[-1])
            k = key_states.new_empty(shape)
            v = value_states.new_empty((*shape[:-1], value_states.shape[-1]))
            if self._length:
                k[..., : self._length, :] = self.keys
                v[..., : self._length, :] = self.values
            self._room_k, self._room_v = k, v
        self._room_k[..., self._length : end, :] = key_states
        self._room_v[..., self._length : end, :] = value_states
        self._length = end
        self.keys = self._room_k[..., :end, :]
        self.values = self._room_v[..., :end, :]
        return self.keys, self.values

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        """Rows follow their prefix (``search`` branches and drops prefixes)."""
        if self.get_seq_length() > 0:
            self._room_k = self._room_k.index_select(0, beam_idx)
            self._room_v = self._room_v.index_select(0, beam_idx)
            self.keys = self._room_k[..., : self._length, :]
            self.values = self._room_v[..., : self._length, :]


def kv_cache() -> Cache:
    """An empty KV cache of ``RoomyLayer``s."""
    return Cache(layer_class_to_replicate=RoomyLayer)


@dataclass(frozen=True)
class GridState:
    """How far an answer has got: rows finished, cells in the current row, the row width (the
    known shape's, else the first row's once it ends) and the row count if the shape is known."""

    rows: int = 0
    col: int = 0
    width: int | None = None
    height: int | None = None


class GridGrammar:
    """Which of the grammar's tokens (the ten cells, the row break, the end marker) may follow."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, end_marker: str):
        self.cells = tokenizer.convert_tokens_to_ids([str(c) for c in range(10)])
        self.newline = tokenizer.convert_tokens_to_ids("\n")
        self.end = tokenizer.convert_tokens_to_ids(end_marker)
        self.tokens = [*self.cells, self.newline, self.end]
        """The grammar's vocabulary; ``allowed`` masks follow this order."""
        self._kind = {t: i for i, t in enumerate(self.tokens)}

    def start(self, shape: tuple[int, int] | None) -> GridState:
        return GridState() if shape is None else GridState(width=shape[1], height=shape[0])

    def allowed(self, s: GridState) -> list[bool]:
        """A mask over ``tokens``: ten cells, then the row break, then the end marker."""
        height = MAX_SIDE if s.height is None else s.height
        if s.col == 0:
            cell = s.rows < height
            end = s.rows > 0 and (s.height is None or s.rows == s.height)
            return [cell] * 10 + [False, end]
        cell = (s.width is None or s.col < s.width) and s.col < MAX_SIDE
        newline = s.width is None or s.col == s.width
        return [cell] * 10 + [newline, False]

    def advance(self, s: GridState, token: int) -> GridState | None:
        """The state after ``token``; None once the end marker closes the answer."""
        kind = self._kind[token]
        if kind == 11:
            return None
        if kind == 10:
            return GridState(s.rows + 1, 0, s.width or s.col, s.height)
        return GridState(s.rows, s.col + 1, s.width, s.height)


@dataclass(frozen=True)
class Answer:
    """A complete answer: its tokens (end marker included) and log-probability under the
    grammar."""

    tokens: tuple[int, ...]
    logprob: float


@dataclass
class _Prefix:
    prompt: int
    tokens: tuple[int, ...]
    logprob: float
    state: GridState
    greedy: bool
    """On the greedy path: kept whatever its probability, so the greedy answer is always found."""


def model_inputs(model: torch.nn.Module, ids: torch.Tensor, new: int) -> dict:
    """Extra inputs for the ``new`` last tokens of ``ids``: a grid model's (row, column, plane)
    positions follow from the whole sequence, cached part included."""
    if isinstance(getattr(model, "config", None), GridLlamaConfig):
        return {"grid_positions": cell_positions(ids, model.config)[:, -new:]}
    return {}


def _forward(
    model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor, new: int, cache: Cache
) -> torch.Tensor:
    """Logits of the last position, feeding the ``new`` last tokens of ``ids`` (the rest are in
    ``cache``, which the pass extends). Left padding: positions count real tokens only."""
    out = model(
        input_ids=ids[:, -new:],
        attention_mask=mask,
        position_ids=(mask.cumsum(-1) - 1).clamp(min=0)[:, -new:],
        use_cache=True,
        logits_to_keep=1,
        **{CACHE_ARG: cache},
        **model_inputs(model, ids, new),
    )
    return out.logits[:, -1].float()


def _within_bounds(
    children: list[_Prefix],
    results: list[list[Answer]],
    expansions: dict[int, int],
    cap: int,
    max_expansions: int,
) -> list[int]:
    """The children kept, in order: bounds cut the least likely prefixes first (a prompt with
    ``cap`` answers, or ``max_expansions`` prefixes fed, takes no more); the greedy path is
    never cut. Counts each kept child in ``expansions``."""
    by_rank = sorted(
        range(len(children)), key=lambda j: (not children[j].greedy, -children[j].logprob)
    )
    kept = set()
    for j in by_rank:
        i = children[j].prompt
        full = len(results[i]) >= cap
        if children[j].greedy or (not full and expansions[i] < max_expansions):
            expansions[i] += 1
            kept.add(j)
    return sorted(kept)


@torch.no_grad()
def search(
    model: torch.nn.Module,
    grammar: GridGrammar,
    prompts: list[list[int]],
    shapes: list[tuple[int, int] | None],
    pad_id: int,
    cutoff: float | None = None,
    max_candidates: int = 8,
    max_expansions: int = 4096,
    batch_size: int = 8,
    max_new_tokens: int | None = None,
) -> list[list[Answer]]:
    """Answers to each prompt, most probable first.

    ``cutoff=None``: greedy, one answer. Otherwise every answer with probability at least
    ``cutoff``, and the greedy answer whatever its probability. Bounds per prompt: at most
    ``max_candidates`` answers (the most probable), and once ``max_expansions`` prefixes have
    been fed through the model only the greedy path goes on; an answer unfinished after
    ``max_new_tokens`` is dropped. ``shapes`` fixes an answer's shape where known.
    """
    floor = -math.inf if cutoff is None else math.log(cutoff)
    device = next(model.parameters()).device
    vocab = torch.tensor(grammar.tokens, device=device)
    results: list[list[Answer]] = [[] for _ in prompts]
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        width = max(len(prompts[i]) for i in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long, device=device)
        mask = torch.zeros_like(ids)
        for row, i in enumerate(batch):
            ids[row, width - len(prompts[i]) :] = torch.tensor(prompts[i])
            mask[row, width - len(prompts[i]) :] = 1
        cache = kv_cache()
        logits = _forward(model, ids, mask, width, cache)
        live = [_Prefix(i, (), 0.0, grammar.start(shapes[i]), True) for i in batch]
        expansions = dict.fromkeys(batch, 0)
        steps = max_new_tokens or MAX_SIDE * (MAX_SIDE + 1) + 1
        for step in range(steps):
            allowed = torch.tensor([grammar.allowed(p.state) for p in live], device=device)
            scores = logits.gather(1, vocab.expand(len(live), -1)).masked_fill(~allowed, -math.inf)
            logprobs = torch.log_softmax(scores, dim=-1).cpu()
            parents, children = [], []
            for row, p in enumerate(live):
                ranked = logprobs[row].argsort(descending=True).tolist()
                for rank, k in enumerate(ranked[:1] if cutoff is None else ranked):
                    total = p.logprob + float(logprobs[row, k])
                    greedy = p.greedy and rank == 0
                    if total == -math.inf or (total < floor and not greedy):
                        break
                    token = grammar.tokens[k]
                    state = grammar.advance(p.state, token)
                    if state is None:
                        results[p.prompt].append(Answer((*p.tokens, token), total))
                    else:
                        parents.append(row)
                        children.append(_Prefix(p.prompt, (*p.tokens, token), total, state, greedy))
            cap = 1 if cutoff is None else max_candidates
            kept = _within_bounds(children, results, expansions, cap, max_expansions)
            keep = [(parents[j], children[j]) for j in kept]
            if not keep or step == steps - 1:  # nothing left, or no budget for another token
                break
            rows = [row for row, _ in keep]
            new = torch.tensor([[c.tokens[-1]] for _, c in keep], device=device)
            if rows != list(range(len(live))):  # a prefix branched or ended: its rows follow
                index = torch.tensor(rows, device=device)
                ids, mask = ids[index], mask[index]
                cache.reorder_cache(index)
            live = [child for _, child in keep]
            ids = torch.cat([ids, new], dim=1)
            mask = torch.cat([mask, torch.ones_like(new)], dim=1)
            logits = _forward(model, ids, mask, 1, cache)
    for answers in results:
        answers.sort(key=lambda a: -a.logprob)
        del answers[max_candidates:]
    return results
