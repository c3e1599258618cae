"""MGCN: modality-gated item IDs on kNN item graphs, a behaviour-aware fuser and a contrastive term.

Yu et al., "Multi-View Graph Convolutional Network for Multimedia Recommendation", ACM MM 2023,
as MMRec implements it (../shared/docs/BASELINES.md). For each modality m:

* gated items g_m = E_item ⊙ σ(W_m T_m + b_m), T_m = Linear_m(F_m) (features trainable, MMRec's
  ``freeze=False``); ``n_layers`` hops over the cosine kNN graph S̃_m (``searec graphs`` artifact,
  symmetric-normalised by row sums); users aggregate them through R̂ = D_u^-1/2 R D_i^-1/2
  (Â's user–item block): v_m = [R̂ g_m ; g_m];
* content view c = LightGCN over the IDs (``n_ui_layers``, mean of layers);
* fuser: attention a = softmax_m(q(v_m)), q = Linear–Tanh–Linear(→ 1); common = Σ_m a_m v_m;
  side = (common + Σ_m σ(P_m c) ⊙ (v_m − common)) / (1 + M).

Final = c + side. Loss = BPR + reg_weight · ½(‖u‖² + ‖i⁺‖² + ‖i⁻‖²)/batch + cl_weight ·
[InfoNCE(side_i⁺, c_i⁺; τ) + InfoNCE(side_u, c_u; τ)] with in-batch negatives.

Cost at Baby scale (``python benchmarks/model_speed.py``: Baby-shaped ``searec synth`` folder,
4096-d image, 384-d text, batch 2048, 2 threads): 20.3 s per training epoch, 2.41 GiB peak RSS
for the whole ``searec train`` process.
Includes the trainable feature tables with their Adam moments (4 × 7,050 × 4,480 floats ≈ 0.5 GB).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from searec.models.base import Recommender, register_model
from searec.models.declaration import (
    HyperParameter,
    embedding_size,
    knn_k,
    layer_count,
    reg_weight,
    temperature,
    train_features,
)
from searec.models.inputs import ModelInputs
from searec.models.layers import FeatureTables, combine_layers, require_modalities, sparse_tensor
from searec.models.losses import half_squared_penalty, info_nce, pairwise_bpr


@register_model
class MGCN(Recommender):
    name = "mgcn"
    uses_features = True
    hyperparameters = (embedding_size(), knn_k(), layer_count("n_layers", 1, "hops over the modality item graphs"),
                       layer_count("n_ui_layers", 2, "LightGCN layers over the user-item graph"),
                       HyperParameter("cl_weight", 0.01, "weight of the side-content InfoNCE", minimum=0.0),
                       reg_weight(1e-4, "weight of the squared embedding penalty"),
                       temperature("tau", 0.2, "InfoNCE temperature"), train_features())
    reference_grid = {"cl_weight": [0.001, 0.01, 0.1]}

    def __init__(self, inputs: ModelInputs, params: Mapping[str, Any]) -> None:
        super().__init__(inputs, params)
        p = self.params
        self.modalities = require_modalities(inputs.features, "mgcn")
        size = p["embedding_size"]
        self.user_embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_users, size)))
        self.item_embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_items, size)))
        self.features = FeatureTables(inputs.features, self.modalities, p["train_features"])
        self.projections = nn.ModuleDict({m: nn.Linear(self.features.dim(m), size) for m in self.modalities})
        self.gates = nn.ModuleDict({m: nn.Sequential(nn.Linear(size, size), nn.Sigmoid()) for m in self.modalities})
        self.preference_gates = nn.ModuleDict({m: nn.Sequential(nn.Linear(size, size), nn.Sigmoid())
                                               for m in self.modalities})
        self.query = nn.Sequential(nn.Linear(size, size), nn.Tanh(), nn.Linear(size, 1, bias=False))
        for k, modality in enumerate(self.modalities):
            self.register_buffer(f"item_graph_{k}", sparse_tensor(inputs.cosine_knn_item_graph(modality, p["knn_k"])),
                                 persistent=False)
        self.register_buffer("adjacency", sparse_tensor(inputs.user_item_adjacency()), persistent=False)
        self.register_buffer("user_item", sparse_tensor(inputs.user_item_block()), persistent=False)

    def _forward(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(users, items, side, content) with side/content over all [users; items] nodes."""
        content = combine_layers(self.adjacency, torch.cat([self.user_embedding, self.item_embedding]),
                                 self.params["n_ui_layers"], how="mean")
        views = []
        for k, modality in enumerate(self.modalities):
            items = self.item_embedding * self.gates[modality](self.projections[modality](self.features[modality]))
            for _ in range(self.params["n_layers"]):
                items = torch.sparse.mm(getattr(self, f"item_graph_{k}"), items)
            views.append(torch.cat([torch.sparse.mm(self.user_item, items), items]))
        attention = torch.softmax(torch.cat([self.query(v) for v in views], dim=1), dim=1)
        common = sum(attention[:, k: k + 1] * v for k, v in enumerate(views))
        specific = sum(self.preference_gates[m](content) * (v - common) for m, v in zip(self.modalities, views, strict=True))
        side = (common + specific) / (1 + len(views))
        final = content + side
        return final[: self.n_users], final[self.n_users:], side, content

    def loss_terms(self, users: torch.Tensor, pos_items: torch.Tensor, neg_items: torch.Tensor) -> dict[str, torch.Tensor]:
        p = self.params
        user_repr, item_repr, side, content = self._forward()
        user_e, pos_e, neg_e = user_repr[users], item_repr[pos_items], item_repr[neg_items]
        contrast = (info_nce(side[self.n_users + pos_items], content[self.n_users + pos_items], p["tau"])
                    + info_nce(side[users], content[users], p["tau"]))
        return {"bpr": pairwise_bpr(user_e, pos_e, neg_e),
                "reg": p["reg_weight"] * half_squared_penalty(user_e, pos_e, neg_e),
                "cl": p["cl_weight"] * contrast}

    def ranking_representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        users, items, _, _ = self._forward()
        return users, items
