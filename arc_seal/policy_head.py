"""A configuration head: the policy as a softmax over a grid's listed configurations, read from
the language model's hidden state at the end of the self-edit prompt (``policy: head``).

SEAL's policy is the language model writing a self-edit. Over a listed space schema decoding
already makes that a choice among configurations, but one whose starting preference comes
from pretraining (which paired tasks with self-edits drawn at random, so it teaches the model
to ignore the task) and from the branching of the choice tree (a configuration reached by
fewer choices gets more probability). The head keeps the rest of SEAL — the same prompt, the
same model's reading of it, ReST-EM's sample / reward / fine-tune loop on rewarded pairs — and
starts from no preference at all: zero weights, so every configuration is equally likely. Only
the head learns; the language model stays frozen, so what the policy can learn about a task is
what the model's hidden state says about it, and with the demonstrations hidden (``blind``)
nothing but a preference shared by every task.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

from arc_seal.config import HeadConfig
from arc_seal.encoding import TaskEncoder
from arc_seal.grid import Task
from arc_seal.policy import prompt_ids
from arc_seal.reward import RewardTable
from arc_seal.synthetic import family


@torch.no_grad()
def prompt_features(
    model: torch.nn.Module, encoder: TaskEncoder, tasks: list[Task], style: str = "arc-seal"
) -> dict[str, np.ndarray]:
    """Per task, the model's last hidden state at the last token of its self-edit prompt
    (the self-edit marker): what the model has read of the task when it starts a self-edit."""
    device = next(model.parameters()).device
    out = {}
    for task in tasks:
        ids = torch.tensor([prompt_ids(encoder, task, style)], device=device)
        hidden = model(input_ids=ids, output_hidden_states=True).hidden_states[-1]
        out[task.id] = hidden[0, -1].float().cpu().numpy()
    return out


@dataclass
class ConfigurationHead:
    """p(configuration | task) = softmax(weight @ standardised features + bias)."""

    weight: np.ndarray
    """(configurations, features)."""
    bias: np.ndarray
    mean: np.ndarray
    """The features' mean and spread over the run's tasks: a standardised feature is centred,
    and one that does not vary (every feature, with the demonstrations hidden) is zero; the
    spread includes the square root of the number of features that vary."""
    spread: np.ndarray

    @classmethod
    def uniform(cls, configurations: int, features: dict[str, np.ndarray]) -> ConfigurationHead:
        """A head with no preference, standardising features as ``features`` spread."""
        x = np.stack([features[t] for t in sorted(features)]).astype(np.float64)
        std = x.std(axis=0)
        # each feature centred and scaled so that a task's features have unit length on
        # average, whatever the model's width: a weight then moves a logit as much as a bias
        spread = np.where(std > 1e-6 * (1 + np.abs(x).max(axis=0)), std, np.inf)
        spread = spread * np.sqrt(max(1, int(np.isfinite(spread).sum())))
        return cls(
            np.zeros((configurations, x.shape[1])), np.zeros(configurations), x.mean(0), spread
        )

    def standardised(self, features: np.ndarray) -> np.ndarray:
        """Features as the head reads them (centred, scaled; zero where they never vary)."""
        return (np.asarray(features, dtype=np.float64) - self.mean) / self.spread

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """p(configuration | task) for one task's features."""
        logits = self.weight @ self.standardised(features) + self.bias
        p = np.exp(logits - logits.max())
        return p / p.sum()

    def fit(
        self, features: list[np.ndarray], chosen: list[int], config: HeadConfig, seed: int
    ) -> list[float]:
        """ReST-EM's M-step for the head: from where it is, maximise the likelihood of the
        rewarded (task, configuration) pairs, with an L2 pull towards no preference, by
        full-batch gradient descent (a convex problem: no per-weight step sizes that would let
        a few tasks' features outweigh the shared preference). Returns the loss per step."""
        torch.manual_seed(seed)
        x = torch.tensor(np.stack([self.standardised(f) for f in features]), dtype=torch.float64)
        y = torch.tensor(chosen)
        weight = torch.tensor(self.weight, requires_grad=True)
        bias = torch.tensor(self.bias, requires_grad=True)
        optimizer = torch.optim.SGD([weight, bias], lr=config.learning_rate)
        losses = []
        for _ in range(config.steps):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(x @ weight.T + bias, y)
            loss = loss + config.l2 * (weight.square().sum() + bias.square().sum())
            loss.backward()
            optimizer.step()
            losses.append(round(loss.item(), 4))
        self.weight, self.bias = weight.detach().numpy(), bias.detach().numpy()
        return losses

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: np.ascontiguousarray(v) for k, v in vars(self).items()}, str(path))

    @classmethod
    def load(cls, path: Path) -> ConfigurationHead:
        return cls(**load_file(str(path)))


def family_separation(features: dict[str, np.ndarray]) -> float:
    """How far the head's view tells families apart: the share of tasks (ids ``family-n``)
    whose nearest family centroid, computed without the task and on features standardised as
    the head standardises them, is their own family's (ties go to the first family by name)."""
    head = ConfigurationHead.uniform(1, features)
    x = {t: head.standardised(f) for t, f in features.items()}
    hits = []
    for t in x:
        groups = sorted({family(u) for u in x if u != t})
        centroids = {
            g: np.mean([x[u] for u in x if u != t and family(u) == g], axis=0) for g in groups
        }
        nearest = min(groups, key=lambda g: (float(np.linalg.norm(x[t] - centroids[g])), g))
        hits.append(nearest == family(t))
    return float(np.mean(hits))


def held_out_rates(
    features: dict[str, np.ndarray],
    table: RewardTable,
    tasks: list[str],
    config: HeadConfig,
    folds: int = 5,
) -> dict[str, float]:
    """Per task, the expected solve rate of a head fitted without it: the tasks fall into
    ``folds`` folds (each family spread over them), and for each fold one M-step from no
    preference fits the head to every solving (task, configuration, seed) of the other folds,
    as if ReST-EM had sampled every pair once. Choosing the head's settings this way reads
    only the tasks given (a run's train tasks), never the ones a run is scored on."""
    ids = sorted(tasks, key=lambda t: (family(t), t))
    fold = {t: i % folds for i, t in enumerate(ids)}  # a family's tasks in turn
    rates = {}
    for k in range(folds):
        # one pair per solving (configuration, seed): the rows of the verdicts' hits
        pairs = [(t, int(c)) for t in ids if fold[t] != k for c in np.nonzero(table.verdicts[t])[0]]
        head = ConfigurationHead.uniform(len(table.configurations), features)
        if pairs:
            head.fit([features[t] for t, _ in pairs], [c for _, c in pairs], config, seed=k)
        for t in ids:
            if fold[t] == k:
                rates[t] = float(head.probabilities(features[t]) @ table.row(t))
    return rates
