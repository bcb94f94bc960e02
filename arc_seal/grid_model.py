"""A Llama that knows where each cell sits: (row, column, plane) positions for every token.

With 1-D positions alone a model must infer from row separators which cells lie above each
other, and copying a grid means finding a relative offset that changes with every grid size.
Here every token of the compact format also knows its row, its column and its plane (input
grid, output grid, or neither), so "the cell at the same place in the input" is one attention
lookup. Two encodings (``GridLlamaConfig.grid_encoding``):

- ``learned``: row, column and plane embeddings added to the token embedding;
- ``rotary``: part of each attention head's rotary frequencies turn with the row and the
  column instead of the sequence position, so attention sees (row, column) offsets directly,
  the same for every grid size; the plane is a learned embedding.

Two options serve geometric rules (flips, rotations, transposes), where an output cell reads an
input cell at a *different* place:

- ``edge_positions``: cells of an input grid also get their row counted from the bottom and
  their column from the right, so "the mirror cell" is a lookup too (output (r, c) of a
  left-right flip reads the input cell whose column from the right is c). Input grids are
  always given whole, so this looks ahead only within them; output grids, which the model
  writes, never see ahead.
- ``static_pairs``: that many of each head's rotary frequency pairs (the slowest) do not turn
  at all, so learned positions match exactly however far apart the two tokens are.

The positions follow from the token ids alone (``cell_positions``), so training, batched
prediction and KV-cached generation need nothing beyond the ids. The model is an ordinary
``transformers`` checkpoint: importing ``arc_seal.models`` (or this module) registers it with
the Auto classes, so ``AutoModelForCausalLM.from_pretrained`` loads it with
``trust_remote_code`` off, and PEFT LoRA, full fine-tuning and ``save_pretrained`` work as for
any Llama.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
    LlamaModel,
)

# Row and column tables: 0..29 for cells, then a slot for the newline ending a row and one
# for tokens outside any grid (markers, self-edit text, padding).
NEWLINE_SLOT = 30
OUTSIDE = 31
PLANES = 3  # 0: outside any grid, 1: input grid, 2: output grid


class GridLlamaConfig(LlamaConfig):
    """A Llama config plus the ids of the compact format's structure tokens."""

    model_type = "arc_grid_llama"

    def __init__(
        self,
        newline_id: int = -1,
        input_id: int = -1,
        output_id: int = -1,
        end_id: int = -1,
        self_edit_id: int = -1,
        digit_ids: list[int] | None = None,
        grid_encoding: str = "learned",
        edge_positions: bool = False,
        static_pairs: int = 0,
        **kwargs,
    ):
        if grid_encoding not in ("learned", "rotary"):
            raise ValueError(f"grid_encoding must be learned or rotary, got {grid_encoding!r}")
        if static_pairs < 0:
            raise ValueError(f"static_pairs must be >= 0, got {static_pairs}")
        self.grid_encoding = grid_encoding
        self.edge_positions = edge_positions
        self.static_pairs = static_pairs
        self.newline_id = newline_id
        self.input_id = input_id
        self.output_id = output_id
        self.end_id = end_id
        self.self_edit_id = self_edit_id
        self.digit_ids = list(digit_ids or [])
        super().__init__(**kwargs)


def cell_positions(input_ids: torch.Tensor, config: GridLlamaConfig) -> torch.Tensor:
    """(batch, length, 3) tensor of (row, column, plane) for every token, (batch, length, 5)
    with ``config.edge_positions``: then also the row from the bottom and the column from the
    right for input-grid cells (``OUTSIDE`` elsewhere, and in a row or grid not yet closed).

    ``I`` opens an input grid, ``O`` an output grid, ``E`` and ``S`` close any grid. Inside a
    grid, a cell's row counts the newlines since the grid opened and its column the cells since
    the last newline; a newline takes the column slot ``NEWLINE_SLOT``; everything else
    (markers, self-edit text, padding) is ``OUTSIDE`` on plane 0.
    """
    ids = input_ids
    n = ids.shape[-1]
    index = torch.arange(n, device=ids.device).expand_as(ids)
    opens_in, opens_out = ids == config.input_id, ids == config.output_id
    event = opens_in | opens_out | (ids == config.end_id) | (ids == config.self_edit_id)
    newline = ids == config.newline_id
    none = torch.full_like(ids, -1)
    last_event = torch.cummax(torch.where(event, index, none), dim=-1).values
    plane_at_event = opens_in.long() + 2 * opens_out.long()
    plane = torch.where(
        last_event >= 0, plane_at_event.gather(-1, last_event.clamp(min=0)), torch.zeros_like(ids)
    )
    newlines = torch.cumsum(newline.long(), dim=-1)
    newlines_before = newlines - newline.long()
    row = newlines_before - torch.where(
        last_event >= 0, newlines.gather(-1, last_event.clamp(min=0)), torch.zeros_like(ids)
    )
    last_break = torch.cummax(torch.where(event | newline, index, none), dim=-1).values
    col = index - last_break - 1
    digits = torch.tensor(config.digit_ids, device=ids.device)
    cell = torch.isin(ids, digits) & (plane > 0)
    in_grid = cell | (newline & (plane > 0))
    row = torch.where(in_grid, row.clamp(max=NEWLINE_SLOT - 1), OUTSIDE)
    col = torch.where(cell, col.clamp(max=NEWLINE_SLOT - 1), OUTSIDE)
    col = torch.where(newline & (plane > 0), NEWLINE_SLOT, col)
    plane = torch.where(in_grid, plane, 0)
    if not config.edge_positions:
        return torch.stack([row, col, plane], dim=-1)
    # what comes next: the next newline and the next grid boundary at or after each token
    beyond = torch.full_like(ids, n)
    next_event = _next_index(torch.where(event, index, beyond))
    next_newline = _next_index(torch.where(newline, index, beyond))
    closed_row = next_newline < next_event
    # a grid's last row ends with a newline just before its closing marker
    rows_in_grid = newlines.gather(-1, (next_event - 1).clamp(min=0)) - newlines_before
    known = (plane == 1) & closed_row & (next_event < n)
    edge_row = torch.where(known & in_grid, (rows_in_grid - 1).clamp(0, NEWLINE_SLOT - 1), OUTSIDE)
    edge_col = torch.where(
        known & cell, (next_newline - index - 1).clamp(max=NEWLINE_SLOT - 1), OUTSIDE
    )
    edge_col = torch.where(known & newline, NEWLINE_SLOT, edge_col)
    return torch.stack([row, col, plane, edge_row, edge_col], dim=-1)


def _next_index(marked: torch.Tensor) -> torch.Tensor:
    """For every position, the smallest marked index at or after it."""
    return torch.flip(torch.cummin(torch.flip(marked, [-1]), dim=-1).values, [-1])


class GridRotary(nn.Module):
    """Rotary cos/sin. With the ``rotary`` grid encoding a quarter of the frequency pairs follow
    the row and a quarter the column; the rest follow the sequence position as in Llama, except
    the ``static_pairs`` slowest, which do not turn. The model sets ``grid`` (the tokens'
    positions) before each pass."""

    def __init__(self, config: GridLlamaConfig):
        super().__init__()
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // (
            config.num_attention_heads
        )
        pairs = head_dim // 2
        per_axis = pairs // 4 if config.grid_encoding == "rotary" else 0
        sequence = pairs - 2 * per_axis
        if config.static_pairs > sequence:
            raise ValueError(
                f"static_pairs={config.static_pairs} but heads have {sequence} sequence pairs"
            )
        theta = (getattr(config, "rope_parameters", None) or {}).get("rope_theta", 10000.0)
        # Plain floats, not buffers: a checkpoint loads on the meta device first, where
        # buffers that are not saved would be left uninitialised.
        turning = sequence - config.static_pairs
        self.seq_freq = [theta ** (-i / sequence) for i in range(turning)]
        self.seq_freq += [0.0] * config.static_pairs
        # periods from 2*pi to about 2*pi*16 cells: distinct for every offset within 30 cells
        self.grid_freq = [16.0 ** (-i / per_axis) for i in range(per_axis)]
        self.grid: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, position_ids: torch.Tensor):
        seq = position_ids.float()
        freqs = seq[..., None] * torch.tensor(self.seq_freq, device=x.device)
        if self.grid_freq:
            row, col = self.grid[..., 0].float(), self.grid[..., 1].float()
            grid_freq = torch.tensor(self.grid_freq, device=x.device)
            freqs = torch.cat(
                [
                    freqs.expand(*row.shape, -1),
                    row[..., None] * grid_freq,
                    col[..., None] * grid_freq,
                ],
                dim=-1,
            )
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(x.dtype), emb.sin().to(x.dtype)


class GridLlamaModel(LlamaModel):
    config_class = GridLlamaConfig

    def __init__(self, config: GridLlamaConfig):
        super().__init__(config)
        if config.grid_encoding == "rotary" or config.static_pairs:
            self.rotary_emb = GridRotary(config)
        if config.grid_encoding == "learned":
            self.row_embed = nn.Embedding(OUTSIDE + 1, config.hidden_size)
            self.col_embed = nn.Embedding(OUTSIDE + 1, config.hidden_size)
        if config.edge_positions:
            self.edge_row_embed = nn.Embedding(OUTSIDE + 1, config.hidden_size)
            self.edge_col_embed = nn.Embedding(OUTSIDE + 1, config.hidden_size)
        self.plane_embed = nn.Embedding(PLANES, config.hidden_size)
        for module in self.children():
            if isinstance(module, nn.Embedding) and module is not self.embed_tokens:
                nn.init.normal_(module.weight, std=config.initializer_range)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        grid_positions: torch.Tensor | None = None,
        **kwargs,
    ):
        if grid_positions is None:
            if input_ids is None:
                raise ValueError("GridLlamaModel needs input_ids or grid_positions")
            # the cache argument is `cache` in newer transformers, `past_key_values` before
            cache = kwargs.get("cache", kwargs.get("past_key_values"))
            if cache is not None and cache.get_seq_length() > 0:
                raise ValueError(
                    "with a KV cache, pass grid_positions computed from the whole sequence "
                    "(generate() does this itself)"
                )
            grid_positions = cell_positions(input_ids, self.config)
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        row, col, plane = grid_positions[..., :3].unbind(-1)
        inputs_embeds = inputs_embeds + self.plane_embed(plane)
        if self.config.grid_encoding == "learned":
            inputs_embeds = inputs_embeds + self.row_embed(row) + self.col_embed(col)
        if self.config.edge_positions:
            edge_row, edge_col = grid_positions[..., 3:].unbind(-1)
            inputs_embeds = inputs_embeds + self.edge_row_embed(edge_row)
            inputs_embeds = inputs_embeds + self.edge_col_embed(edge_col)
        if not isinstance(self.rotary_emb, GridRotary):
            return super().forward(inputs_embeds=inputs_embeds, **kwargs)
        self.rotary_emb.grid = grid_positions
        try:
            return super().forward(inputs_embeds=inputs_embeds, **kwargs)
        finally:
            self.rotary_emb.grid = None


class GridLlamaForCausalLM(LlamaForCausalLM):
    config_class = GridLlamaConfig

    def __init__(self, config: GridLlamaConfig):
        super().__init__(config)
        self.model = GridLlamaModel(config)
        self.post_init()

    def prepare_inputs_for_generation(self, input_ids: torch.Tensor, **kwargs):
        """The new tokens' positions follow from the whole sequence, cached part included."""
        inputs = super().prepare_inputs_for_generation(input_ids, **kwargs)
        new = inputs.get("input_ids")
        if new is not None:
            inputs["grid_positions"] = cell_positions(input_ids, self.config)[
                :, input_ids.shape[1] - new.shape[1] :
            ]
        return inputs


AutoConfig.register(GridLlamaConfig.model_type, GridLlamaConfig)
AutoModelForCausalLM.register(GridLlamaConfig, GridLlamaForCausalLM)
