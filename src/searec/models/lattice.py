"""LATTICE: item–item graphs learned from projected features on top of LightGCN.

Zhang et al., "Mining Latent Structures for Multimedia Recommendation", ACM MM 2021, as MMRec
implements it (../shared/docs/BASELINES.md). For each modality m:

* the original graph S̃_m: the kNN (k = ``knn_k``) neighbours of the raw features with their
  cosine similarities, D^-1/2 S D^-1/2 by row sums (from the ``searec graphs`` kNN artifact);
* the learned graph: kNN of the projected features Linear_m(F_m) (trainable), same form.

With modality weights β = softmax(b) (learned), the item graph is
S = (1 − λ) · Norm(Σ_m β_m Learned_m) + λ · Σ_m β_m S̃_m, λ = ``lambda_coeff`` (0.9). It is
rebuilt from the current projections at the first batch of every epoch, with gradients into the
projections and β, and reused detached for the rest of the epoch (MMRec's ``build_item_graph``).
Items: LightGCN item output (``n_ui_layers`` = 2, mean of layers, Â = D^-1 (A + I)) plus
L2-normalise(S^L E_item), L = ``n_layers``. Loss = BPR + reg_weight · ½(‖u‖² + ‖i⁺‖² + ‖i⁻‖²)/batch
on the final embeddings. MMRec decays the learning rate by 0.96^(epoch/50); our trainer keeps
it constant (a 4 % change after 50 epochs).

Memory: MMRec forms dense items × items matrices (23k items: 2.1 GB each, several alive at
once). Here no items × items matrix exists: similarities are computed ``chunk_size`` rows at a
time and only the k kept entries per row survive, so the graphs cost O(items · k) and the
transient chunk ``chunk_size`` × items floats (1,024 × 23,000 × 4 B = 94 MB at Clothing size).
Measured at Clothing's size (``python benchmarks/model_speed.py --models lattice --epochs 1 --shape
clothing``: 39,387 users, 23,033 items, 4096-d + 384-d features): 3.92 GiB peak RSS for the whole
process, of which the trainable feature tables with gradients and Adam moments are ≈ 1.65 GB.

Cost at Baby scale (``python benchmarks/model_speed.py``: Baby-shaped ``searec synth`` folder,
4096-d image, 384-d text, batch 2048, 2 threads): 10.6 s per training epoch, 2.16 GiB peak RSS
for the whole ``searec train`` process.
Includes the trainable feature tables with their Adam moments (≈ 0.5 GB).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn
from torch.nn import functional as F

from searec.errors import ModelConfigError
from searec.models.base import Recommender, register_model
from searec.models.declaration import HyperParameter, embedding_size, knn_k, layer_count, reg_weight, train_features
from searec.models.inputs import ModelInputs
from searec.models.layers import (
    FeatureTables,
    combine_layers,
    edge_propagate,
    knn_edges,
    require_modalities,
    sparse_tensor,
    symmetric_edge_normalization,
)
from searec.models.losses import half_squared_penalty, pairwise_bpr

EdgeList = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


@register_model
class LATTICE(Recommender):
    name = "lattice"
    uses_features = True
    hyperparameters = (
        embedding_size(), HyperParameter("feat_embed_dim", 64, "width of the projected features of the learned graph",
                                         minimum=1),
        reg_weight(0.0, "weight of the squared embedding penalty"), knn_k(),
        HyperParameter("lambda_coeff", 0.9, "share of the original (raw-feature) item graph", minimum=0.0, maximum=1.0),
        layer_count("n_layers", 1, "hops over the item graph"),
        layer_count("n_ui_layers", 2, "LightGCN layers over the user-item graph"), train_features(),
        HyperParameter("chunk_size", 1024, "item-item similarity rows at a time (no items x items matrix)", minimum=1))
    reference_grid = {"reg_weight": [0.0, 1e-5, 1e-4, 1e-3], "training.learning_rate": [1e-4, 5e-4, 1e-3, 5e-3]}

    def __init__(self, inputs: ModelInputs, params: Mapping[str, Any]) -> None:
        super().__init__(inputs, params)
        p = self.params
        if not 1 <= p["knn_k"] <= self.n_items:
            raise ModelConfigError(f"lattice.knn_k must be in 1..{self.n_items}, got {p['knn_k']}")
        self.modalities = require_modalities(inputs.features, "lattice")
        size = p["embedding_size"]
        self.user_embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_users, size)))
        self.item_embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_items, size)))
        self.features = FeatureTables(inputs.features, self.modalities, p["train_features"])
        self.projections = nn.ModuleDict({m: nn.Linear(self.features.dim(m), p["feat_embed_dim"])
                                          for m in self.modalities})
        self.modality_logits = nn.Parameter(torch.full((len(self.modalities),), 0.5))
        for k, modality in enumerate(self.modalities):
            original = sp.coo_matrix(inputs.cosine_knn_item_graph(modality, p["knn_k"]))
            self.register_buffer(f"original_rows_{k}", torch.from_numpy(original.row.astype(np.int64)), persistent=False)
            self.register_buffer(f"original_cols_{k}", torch.from_numpy(original.col.astype(np.int64)), persistent=False)
            self.register_buffer(f"original_vals_{k}", torch.from_numpy(original.data.astype(np.float32)),
                                 persistent=False)
        adjacency = inputs.user_item_adjacency("mean_self_loops")
        self.register_buffer("adjacency", sparse_tensor(adjacency), persistent=False)
        self._epoch_graph: EdgeList | None = None

    def before_epoch(self) -> None:
        """Rebuild the learned graph (with gradients) at this epoch's first batch."""
        self._epoch_graph = None

    def item_graph(self) -> EdgeList:
        """S as an edge list: weighted learned kNN graphs (normalised together) and weighted original ones."""
        p = self.params
        beta = torch.softmax(self.modality_logits, dim=0)
        learned_rows, learned_cols, learned_vals = [], [], []
        graph_rows, graph_cols, graph_vals = [], [], []
        for k, modality in enumerate(self.modalities):
            rows, cols, vals = knn_edges(self.projections[modality](self.features[modality]), p["knn_k"], p["chunk_size"])
            learned_rows.append(rows)
            learned_cols.append(cols)
            learned_vals.append(beta[k] * vals)
            graph_rows.append(getattr(self, f"original_rows_{k}"))
            graph_cols.append(getattr(self, f"original_cols_{k}"))
            graph_vals.append(p["lambda_coeff"] * beta[k] * getattr(self, f"original_vals_{k}"))
        rows, cols = torch.cat(learned_rows), torch.cat(learned_cols)
        normalised = symmetric_edge_normalization(rows, cols, torch.cat(learned_vals), self.n_items)
        return (torch.cat([rows] + graph_rows), torch.cat([cols] + graph_cols),
                torch.cat([(1 - p["lambda_coeff"]) * normalised] + graph_vals))

    def _forward(self, graph: EdgeList) -> tuple[torch.Tensor, torch.Tensor]:
        hop = self.item_embedding
        for _ in range(self.params["n_layers"]):
            hop = edge_propagate(*graph, hop, self.n_items)
        nodes = torch.cat([self.user_embedding, self.item_embedding])
        mean = combine_layers(self.adjacency, nodes, self.params["n_ui_layers"], how="mean", symmetric=False)
        return mean[: self.n_users], mean[self.n_users:] + F.normalize(hop, dim=1)

    def loss_terms(self, users: torch.Tensor, pos_items: torch.Tensor, neg_items: torch.Tensor) -> dict[str, torch.Tensor]:
        if self._epoch_graph is None:
            graph = self.item_graph()
            self._epoch_graph = (graph[0], graph[1], graph[2].detach())
        else:
            graph = self._epoch_graph
        user_repr, item_repr = self._forward(graph)
        user_e, pos_e, neg_e = user_repr[users], item_repr[pos_items], item_repr[neg_items]
        return {"bpr": pairwise_bpr(user_e, pos_e, neg_e),
                "reg": self.params["reg_weight"] * half_squared_penalty(user_e, pos_e, neg_e)}

    def ranking_representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores from the graph of the current projections, as MMRec's ``full_sort_predict`` rebuilds it."""
        return self._forward(self.item_graph())
