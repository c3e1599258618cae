"""The one interface every recommender implements, and the registry of models by name.

A model is a ``torch.nn.Module`` that the generic trainer drives:

1. ``loss_terms(users, pos_items, neg_items)`` returns the named scalar terms of the training
   loss for one batch of (u, i⁺, i⁻) triples. The trainer minimises their SUM and logs each
   term separately (already weighted, i.e. as it enters the sum).
2. ``ranking_representations()`` returns user and item matrices whose inner products are the
   ranking scores, computed fresh (eval mode, no grad) for full-ranking evaluation.
3. ``after_backward()`` is an optional hook run after ``loss.backward()`` and before the main
   optimiser step, for models with inner optimisation loops (SEA's CLUB variational net). It
   returns extra per-batch values to log.
4. ``trainable_parameters()`` are what the main optimiser updates (default: all parameters);
   a model with a separately trained sub-network excludes it here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from searec.data.mmrec import InteractionDataset
from searec.errors import ModelConfigError
from searec.graphs import (
    cached_knn_item_graph,
    cosine_valued,
    find_graph_artifact,
    interactions_digest,
    knn_item_graph,
    normalized_adjacency,
    row_normalized,
    user_cooccurrence_graph,
)
from searec.params import number_from_text


@dataclass(frozen=True)
class ModelInputs:
    """What a model may see at construction: sizes, TRAINING interactions, item features."""

    n_users: int
    n_items: int
    train_users: np.ndarray
    train_items: np.ndarray
    features: Mapping[str, np.ndarray] = field(default_factory=dict)
    graph_cache_dir: Path | None = None
    """A ``searec graphs`` folder or graph cache, searched by content key (None: build in memory)."""

    @classmethod
    def from_dataset(cls, dataset: InteractionDataset, graph_cache_dir: Path | None = None) -> ModelInputs:
        return cls(n_users=dataset.n_users, n_items=dataset.n_items, train_users=dataset.train.users,
                   train_items=dataset.train.items, features=dict(dataset.features), graph_cache_dir=graph_cache_dir)

    def knn_item_graph(self, modality: str, k: int) -> sp.csr_matrix:
        """The frozen kNN item graph of one modality's features, from the cache when it is there."""
        features = self.features[modality]
        if self.graph_cache_dir is None:
            return knn_item_graph(features, k)
        return cached_knn_item_graph(features, k, self.graph_cache_dir)

    def mixed_item_graph(self, visual: str, textual: str, k: int, visual_weight: float) -> sp.csr_matrix:
        """S = w · S_visual + (1 − w) · S_textual of the frozen kNN graphs (SEA, FREEDOM, DRAGON)."""
        return (visual_weight * self.knn_item_graph(visual, k)
                + (1 - visual_weight) * self.knn_item_graph(textual, k)).tocsr()

    def cosine_knn_item_graph(self, modality: str, k: int) -> sp.csr_matrix:
        """The kNN graph's neighbours with cosine entries, symmetrically normalised (LATTICE, MGCN)."""
        return cosine_valued(self.knn_item_graph(modality, k), self.features[modality])

    def _training_key(self) -> str:
        return interactions_digest(self.n_users, self.n_items, self.train_users, self.train_items)

    def user_item_adjacency(self, normalization: str = "symmetric") -> sp.csr_matrix:
        """The (U+I) × (U+I) graph of the training interactions, from the ``searec graphs`` artifact when its key matches.

        ``symmetric``: Â = D^-1/2 A D^-1/2 (the artifact); ``mean``: D^-1 A; ``mean_self_loops``:
        D^-1 (A + I) — both derived from the artifact's edges rather than rebuilt.
        """
        adjacency = find_graph_artifact(self.graph_cache_dir, "ui", self._training_key())
        if adjacency is None:
            adjacency = normalized_adjacency(self.n_users, self.n_items, self.train_users, self.train_items)
        if normalization == "symmetric":
            return adjacency
        if normalization in {"mean", "mean_self_loops"}:
            return row_normalized(adjacency, self_loops=normalization == "mean_self_loops")
        raise ValueError(f"normalization must be symmetric, mean or mean_self_loops, got {normalization!r}")

    def user_item_block(self) -> sp.csr_matrix:
        """The users × items block of Â, D_u^-1/2 R D_i^-1/2 (MGCN's and LGMRec's user aggregation)."""
        return self.user_item_adjacency()[: self.n_users, self.n_users:].tocsr()

    def user_user_graph(self, k: int) -> sp.csr_matrix:
        """Each user's top-k co-interaction counts (DualGNN, DRAGON), from the ``uu-k<k>`` artifact when it matches."""
        artifact = find_graph_artifact(self.graph_cache_dir, "uu", self._training_key(), k)
        if artifact is not None:
            return artifact
        return user_cooccurrence_graph(self.n_users, self.train_users, self.train_items, k)


class Recommender(nn.Module, ABC):
    """Base class of all models; see the module docstring for the contract."""

    name: ClassVar[str]
    default_params: ClassVar[dict[str, Any]]
    uses_features: ClassVar[bool] = False
    """Whether the model reads item features (decides which input files a run records)."""

    def __init__(self, inputs: ModelInputs, params: Mapping[str, Any]) -> None:
        super().__init__()
        self.n_users = inputs.n_users
        self.n_items = inputs.n_items
        self.params = resolve_params(type(self), params)

    @abstractmethod
    def loss_terms(self, users: torch.Tensor, pos_items: torch.Tensor, neg_items: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named scalar loss terms of one batch; the trainer minimises their sum."""

    @abstractmethod
    def ranking_representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(users [U, d], items [I, d])``; score(u, i) = ⟨users[u], items[i]⟩."""

    def before_epoch(self) -> None:
        """Hook at the start of every training epoch (FREEDOM resamples its pruned graph here).

        Randomness must come from torch's global generator, which checkpoints save and restore.
        """

    def after_backward(self) -> dict[str, float]:
        """Hook between ``backward()`` and the main optimiser step; returns values to log."""
        return {}

    def trainable_parameters(self) -> Iterable[nn.Parameter]:
        """Parameters of the main optimiser."""
        return self.parameters()


MODEL_REGISTRY: dict[str, type[Recommender]] = {}


def register_model(cls: type[Recommender]) -> type[Recommender]:
    """Class decorator: make a model available by its lower-case ``name``."""
    key = cls.name.lower()
    if key in MODEL_REGISTRY:
        raise ValueError(f"model name {cls.name!r} registered twice")
    MODEL_REGISTRY[key] = cls
    return cls


def get_model_class(name: str) -> type[Recommender]:
    try:
        return MODEL_REGISTRY[name.lower()]
    except KeyError:
        raise ModelConfigError(f"unknown model {name!r}; available: {', '.join(sorted(MODEL_REGISTRY))}") from None


def coerce_like(default: Any, value: Any, key: str) -> Any:
    """Convert ``value`` to the type of ``default`` (bool/int/float/str/list), or raise.

    Numbers written as text ('1e-5', as PyYAML reads it) are accepted for numeric settings.
    """
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        value = number_from_text(value)
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false"}:
            return value.lower() == "true"
        raise ModelConfigError(f"{key}: expected true/false, got {value!r}")
    if isinstance(default, int) and not isinstance(default, bool):
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
            raise ModelConfigError(f"{key}: expected an integer, got {value!r}")
        return int(value)
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ModelConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if isinstance(default, (list, tuple)):
        if not isinstance(value, (list, tuple)):
            raise ModelConfigError(f"{key}: expected a list, got {value!r}")
        return list(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ModelConfigError(f"{key}: expected a string, got {value!r}")
        return value
    return value


def resolve_params(cls: type[Recommender], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The model's defaults updated by ``overrides``; unknown keys and wrong types are errors."""
    unknown = sorted(set(overrides) - set(cls.default_params))
    if unknown:
        raise ModelConfigError(f"model {cls.name!r} has no hyper-parameter(s) {unknown}; "
                               f"known: {sorted(cls.default_params)}")
    resolved = dict(cls.default_params)
    for key, value in overrides.items():
        resolved[key] = coerce_like(cls.default_params[key], value, f"{cls.name}.{key}")
    return resolved
