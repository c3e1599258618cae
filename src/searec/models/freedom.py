"""FREEDOM: a frozen item–item kNN graph plus LightGCN on a degree-sensitively pruned user–item graph.

Zhou & Shen, "A Tale of Two Graphs: Freezing and Denoising Graph Structures for Multimodal
Recommendation", ACM MM 2023, as MMRec implements it (../shared/docs/BASELINES.md):

* S = w · S_visual + (1 − w) · S_textual, each the kNN (k = ``knn_k``) cosine graph of the raw
  features with entries 1/k (the graph SEA uses too, read from the ``searec graphs`` artifacts);
  item side h = S^L · E_item (L = ``n_mm_layers``, frozen S).
* Every epoch (``before_epoch``) a fraction 1 − ``dropout`` of the training edges is kept,
  sampled without replacement with probability ∝ 1/sqrt(d_u · d_i), and re-normalised
  D^-1/2 A D^-1/2; LightGCN (``n_ui_layers``, mean of layers 0..L) runs on it in training and
  on the full graph for ranking.
* Items: LightGCN item embedding + h. Loss = BPR + ``reg_weight`` · [BPR(u, Linear_t(F_t)) +
  BPR(u, Linear_v(F_v))] on the user's graph embedding, with the raw features trainable as in
  MMRec (``nn.Embedding.from_pretrained(..., freeze=False)``).

Cost at Baby scale (Baby-shaped ``searec synth`` folder, 4096-d image, 384-d text, 2 threads):
with ``reg_weight`` 0 (the default), 1.9 s per epoch and 1.55 GiB peak RSS for the whole ``searec
train`` process; with the content terms on, every batch projects all items' features (about 22 s
per epoch measured) and the trainable feature tables with gradients and Adam moments add
4 × 7,050 × 4,480 float32 ≈ 0.5 GB (not measured).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from searec.graphs import normalized_adjacency
from searec.models.base import Recommender, register_model
from searec.models.declaration import (
    dropout,
    embedding_size,
    knn_k,
    layer_count,
    mm_image_weight,
    modality_roles,
    reg_weight,
)
from searec.models.inputs import ModelInputs
from searec.models.layers import FeatureTables, combine_layers, resolve_modalities, sparse_tensor
from searec.models.losses import pairwise_bpr


def degree_sensitive_edge_sample(users: np.ndarray, items: np.ndarray, keep: int,
                                 generator: torch.Generator | None = None) -> np.ndarray:
    """Indices of ``keep`` edges drawn without replacement with probability ∝ 1/sqrt(d_u · d_i) (FREEDOM §3.2)."""
    user_degree = np.bincount(users)[users]
    item_degree = np.bincount(items)[items]
    weights = torch.from_numpy(1.0 / np.sqrt(user_degree * item_degree))
    return torch.multinomial(weights, keep, replacement=False, generator=generator).numpy()


@register_model
class FREEDOM(Recommender):
    name = "freedom"
    uses_features = True
    hyperparameters = (embedding_size(),
                       reg_weight(0.0, "weight of the feature BPR terms (text and image projections)"),
                       dropout(0.8, "share of user-item edges pruned each epoch"), knn_k(), mm_image_weight(),
                       layer_count("n_ui_layers", 2, "LightGCN layers over the pruned user-item graph"),
                       layer_count("n_mm_layers", 1, "hops over the frozen item graph"), *modality_roles())
    reference_grid = {"dropout": [0.8, 0.9], "reg_weight": [0.0, 1e-5, 1e-4, 1e-3]}

    def __init__(self, inputs: ModelInputs, params: Mapping[str, Any]) -> None:
        super().__init__(inputs, params)
        p = self.params
        self.visual, self.textual = resolve_modalities(inputs.features, p["visual"], p["textual"])
        size = p["embedding_size"]
        self.user_embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_users, size)))
        self.item_embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_items, size)))
        # The content BPR terms are FREEDOM's only use of the raw features besides the frozen graph: with
        # reg_weight 0 they would be parameters without gradients, so they exist only when weighted.
        content_modalities = (self.visual, self.textual) if p["reg_weight"] > 0 else ()
        self.features = FeatureTables(inputs.features, content_modalities, trainable=True)
        self.projections = nn.ModuleDict({m: nn.Linear(self.features.dim(m), size) for m in content_modalities})
        for projection in self.projections.values():
            nn.init.xavier_normal_(projection.weight)
        item_graph = inputs.mixed_item_graph(self.visual, self.textual, p["knn_k"], p["mm_image_weight"])
        self.register_buffer("item_graph", sparse_tensor(item_graph), persistent=False)
        self.register_buffer("adjacency", sparse_tensor(inputs.user_item_adjacency()), persistent=False)
        self.train_users = np.asarray(inputs.train_users, dtype=np.int64)
        self.train_items = np.asarray(inputs.train_items, dtype=np.int64)
        self.pruned_adjacency = self.adjacency

    def before_epoch(self) -> None:
        """Resample the pruned user–item graph: keep 1 − dropout of the edges, degree-sensitively."""
        if self.params["dropout"] <= 0:
            self.pruned_adjacency = self.adjacency
            return
        keep = int(len(self.train_users) * (1 - self.params["dropout"]))
        kept = degree_sensitive_edge_sample(self.train_users, self.train_items, keep)
        pruned = normalized_adjacency(self.n_users, self.n_items, self.train_users[kept], self.train_items[kept])
        self.pruned_adjacency = sparse_tensor(pruned).to(self.adjacency.device)

    def _forward(self, adjacency: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hop = self.item_embedding
        for _ in range(self.params["n_mm_layers"]):
            hop = torch.sparse.mm(self.item_graph, hop)
        nodes = torch.cat([self.user_embedding, self.item_embedding])
        mean = combine_layers(adjacency, nodes, self.params["n_ui_layers"], how="mean")
        return mean[: self.n_users], mean[self.n_users:] + hop

    def loss_terms(self, users: torch.Tensor, pos_items: torch.Tensor, neg_items: torch.Tensor) -> dict[str, torch.Tensor]:
        user_repr, item_repr = self._forward(self.pruned_adjacency if self.training else self.adjacency)
        user_e = user_repr[users]
        terms = {"bpr": pairwise_bpr(user_e, item_repr[pos_items], item_repr[neg_items])}
        for modality in (self.textual, self.visual):
            if modality not in self.projections:  # reg_weight 0: logged as 0, nothing projected for nothing
                terms[f"bpr_{modality}"] = torch.zeros((), device=user_e.device)
                continue
            content = self.projections[modality](self.features[modality])
            content_bpr = pairwise_bpr(user_e, content[pos_items], content[neg_items])
            terms[f"bpr_{modality}"] = self.params["reg_weight"] * content_bpr
        return terms

    def ranking_representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._forward(self.adjacency)
