"""One experiment as several processes: under ``torchrun`` the ranks share each stage's jobs.

The (task, sample) jobs of a stage are independent, so rank r runs every job whose index in
the stage's list is r modulo the world size, on its own device, and appends its records to
its own shard of the run directory. At the end of a stage the ranks meet, and each reads every
shard: all ranks then hold the same records. The ReST-EM update is the one step that needs
the others' results: rank 0 fine-tunes the policy and saves the adapter, the others load it.
Without ``torchrun`` this is one rank of a world of one and nothing else changes.

    torchrun --nproc-per-node 8 scripts/run_arc.py --config llama-1b
    torchrun --nnodes 2 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint host:29500 \\
        scripts/run_arc.py --config llama-1b
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

# A stage's slowest rank may take long; a rank that dies ends the run through torchrun.
STAGE_TIMEOUT = timedelta(hours=6)


@dataclass(frozen=True)
class Ranks:
    """This process's place among the run's processes."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    def mine(self, index: int) -> bool:
        """Whether the job at ``index`` of a stage's list is this rank's."""
        return index % self.world == self.rank

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def share(self, value: Any) -> Any:
        """Rank 0's ``value``, on every rank."""
        if self.world == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def device(self, device: str | None) -> str | None:
        """The device this rank works on: its own GPU when the run is on CUDA."""
        if self.world > 1 and (device or "cuda").startswith("cuda") and torch.cuda.is_available():
            return f"cuda:{self.local_rank}"
        return device


def from_environment(device: str | None) -> Ranks:
    """The ranks ``torchrun`` started (its environment variables), joined into one group:
    NCCL on GPUs, gloo on CPU; a world of one without ``torchrun``. CPU ranks share the cores."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Ranks()
    ranks = Ranks(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    on_gpu = torch.cuda.is_available() and (device or "cuda").startswith("cuda")
    if on_gpu:
        torch.cuda.set_device(ranks.local_rank)
    else:
        local = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if on_gpu else "gloo", timeout=STAGE_TIMEOUT)
    return ranks
