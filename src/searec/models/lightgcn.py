"""LightGCN: linear propagation of ID embeddings over the normalised user–item graph.

He et al., "LightGCN: Simplifying and Powering Graph Convolution Network for Recommendation",
SIGIR 2020. E⁽⁰⁾ = [P; Q] (Xavier-uniform init), E⁽ˡ⁺¹⁾ = Â E⁽ˡ⁾ with Â = D^{-1/2} A D^{-1/2}
over training interactions, final E = mean(E⁽⁰⁾, …, E⁽ᴸ⁾); ŷ(u,i) = ⟨E_u, E_i⟩. Loss, as MMRec's
``LightGCN``: BPR on the propagated embeddings + reg_weight · MMRec's embedding penalty on the
batch's layer-0 embeddings. The sparse Â is built once; the full propagation runs once per
batch (its gradient reaches every embedding). Peak memory ≈ (L + 2) · (U + I) · d floats for the
layer outputs and their gradients, plus Â (2·|train| nonzeros).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from searec.models.base import Recommender, register_model
from searec.models.declaration import embedding_size, layer_count, reg_weight
from searec.models.inputs import ModelInputs
from searec.models.layers import combine_layers, sparse_tensor
from searec.models.losses import bpr_loss, mmrec_embedding_penalty


@register_model
class LightGCN(Recommender):
    name = "lightgcn"
    hyperparameters = (embedding_size(), layer_count("n_layers", 2, "propagation layers over the user-item graph"),
                       reg_weight(1e-4))
    reference_grid = {"n_layers": [1, 2, 3, 4], "reg_weight": [1e-2, 1e-3, 1e-4, 1e-5, 1e-6]}

    def __init__(self, inputs: ModelInputs, params: Mapping[str, Any]) -> None:
        super().__init__(inputs, params)
        size = self.params["embedding_size"]
        self.user_embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_users, size)))
        self.item_embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_items, size)))
        adjacency = inputs.user_item_adjacency()
        self.register_buffer("adjacency", sparse_tensor(adjacency), persistent=False)

    def propagate(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean over layers 0..L of the propagated embeddings, split into (users, items)."""
        ego = torch.cat([self.user_embedding, self.item_embedding], dim=0)
        final = combine_layers(self.adjacency, ego, self.params["n_layers"], how="mean")
        return final[: self.n_users], final[self.n_users:]

    def loss_terms(self, users: torch.Tensor, pos_items: torch.Tensor, neg_items: torch.Tensor) -> dict[str, torch.Tensor]:
        user_all, item_all = self.propagate()
        user_e = user_all[users]
        pos_scores = (user_e * item_all[pos_items]).sum(dim=1)
        neg_scores = (user_e * item_all[neg_items]).sum(dim=1)
        penalty = mmrec_embedding_penalty(
            self.user_embedding[users], self.item_embedding[pos_items], self.item_embedding[neg_items])
        return {"bpr": bpr_loss(pos_scores, neg_scores), "reg": self.params["reg_weight"] * penalty}

    def ranking_representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.propagate()
