"""What a model sees when it is built: sizes, the training interactions, item features, and the
graphs the pipeline made for them (``searec graphs`` artifacts), never rebuilt where they exist."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from searec.data.mmrec import InteractionDataset
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
