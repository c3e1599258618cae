"""LGMRec: local graph embeddings plus a global hypergraph of learnable hyperedges per modality.

Guo et al., "LGMRec: Local and Global Graph Learning for Multimodal Recommendation", AAAI 2024,
as MMRec implements it (../shared/docs/BASELINES.md).

* Local: c = LightGCN over the IDs (``n_ui_layers``, mean of layers); per modality m the items
  are F_m W_m (frozen features, learned W_m), users the mean of their items, and the nodes are
  propagated ``n_ui_layers`` times over Â (last layer kept): l_m. Local = c + Σ_m normalise(l_m).
* Global, per modality: item memberships H_i = GumbelSoftmax(F_m V_m; τ) over ``hyper_num``
  hyperedges, users' H_u = GumbelSoftmax(R F_m V_m; τ) (R binary), each dropped out with
  keep rate ``keep_rate``; ``n_hyper_layers`` HGNN steps on the item part of c:
  L = H_iᵀ X_i, X_i ← H_i L, X_u = H_u L. Global g = Σ_m [X_u,m ; X_i,m].
* Final = local + α · normalise(g). Loss = BPR + cl_weight · Σ over modality pairs of the
  hyperedge InfoNCE (each batch user's / positive item's two modality views, all users / items as
  candidates, summed as MMRec) + reg_weight · ½(‖u‖² + ‖i⁺‖² + ‖i⁻‖²)/batch.

At ranking time (eval mode) memberships are the noise-free softmax(F V / τ) and nothing is
dropped, so scores are deterministic (MMRec samples Gumbel noise at inference as well).

Cost at Baby scale (``python benchmarks/model_speed.py``: Baby-shaped ``searec synth`` folder,
4096-d image, 384-d text, batch 2048, 2 threads): 39.1 s per training epoch, 2.09 GiB peak RSS
for the whole ``searec train`` process.
Every batch projects all items' 4096-d features and contrasts each batch row against all users
and all items (not profiled further).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from searec.models.base import Recommender, register_model
from searec.models.declaration import HyperParameter, embedding_size, layer_count, reg_weight, temperature
from searec.models.inputs import ModelInputs
from searec.models.layers import FeatureTables, combine_layers, propagate_layers, require_modalities, sparse_tensor
from searec.models.losses import half_squared_penalty, info_nce, pairwise_bpr


@register_model
class LGMRec(Recommender):
    name = "lgmrec"
    uses_features = True
    hyperparameters = (
        embedding_size(), layer_count("n_ui_layers", 2, "LightGCN layers over the user-item graph"),
        layer_count("n_hyper_layers", 1, "hypergraph layers"),
        HyperParameter("hyper_num", 4, "learnable hyperedges per modality", minimum=1),
        HyperParameter("keep_rate", 0.5, "share of hyperedge memberships kept (dropout keep rate)", minimum=0.0,
                       maximum=1.0, exclusive_minimum=True),
        HyperParameter("alpha", 0.3, "weight of the global (hypergraph) embeddings", minimum=0.0),
        HyperParameter("cl_weight", 1e-4, "weight of the cross-modal hyperedge InfoNCE", minimum=0.0),
        reg_weight(1e-6, "weight of the squared embedding penalty"), temperature("tau", 0.2, "InfoNCE temperature"))
    # BASELINES.md gives per-dataset settings, not a grid: this one is ours
    reference_grid = {"cl_weight": [1e-4, 1e-3, 1e-2], "hyper_num": [4, 8]}

    def __init__(self, inputs: ModelInputs, params: Mapping[str, Any]) -> None:
        super().__init__(inputs, params)
        p = self.params
        self.modalities = require_modalities(inputs.features, "lgmrec")
        size = p["embedding_size"]
        self.user_embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_users, size)))
        self.item_embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_items, size)))
        self.features = FeatureTables(inputs.features, self.modalities, trainable=False)
        self.item_transforms = nn.ParameterDict({
            m: nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.features.dim(m), size))) for m in self.modalities})
        self.hyperedges = nn.ParameterDict({
            m: nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.features.dim(m), p["hyper_num"])))
            for m in self.modalities})
        self.register_buffer("adjacency", sparse_tensor(inputs.user_item_adjacency()), persistent=False)
        block = inputs.user_item_block()
        block.data[:] = 1.0
        self.register_buffer("interactions", sparse_tensor(block), persistent=False)
        degree = torch.from_numpy(block.sum(axis=1).A1.astype("float32"))
        self.register_buffer("inverse_degree", 1.0 / (degree + 1e-7), persistent=False)

    def _memberships(self, logits: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return torch.softmax(logits / self.params["tau"], dim=1)
        soft = F.gumbel_softmax(logits, tau=self.params["tau"], dim=1, hard=False)
        return F.dropout(soft, 1 - self.params["keep_rate"])

    def _forward(self) -> tuple[torch.Tensor, torch.Tensor, dict[str, tuple[torch.Tensor, torch.Tensor]]]:
        p = self.params
        collaborative = combine_layers(self.adjacency, torch.cat([self.user_embedding, self.item_embedding]),
                                       p["n_ui_layers"], how="mean")
        local, hyper_views, global_sum = collaborative, {}, 0
        for modality in self.modalities:
            features = self.features[modality]
            items = features @ self.item_transforms[modality]
            users = torch.sparse.mm(self.interactions, items) * self.inverse_degree[:, None]
            modal = propagate_layers(self.adjacency, torch.cat([users, items]), p["n_ui_layers"])[-1]
            local = local + F.normalize(modal, dim=1)
            item_logits = features @ self.hyperedges[modality]
            item_hyper = self._memberships(item_logits)
            user_hyper = self._memberships(torch.sparse.mm(self.interactions, item_logits))
            item_part = collaborative[self.n_users:]
            user_part = item_part
            for _ in range(p["n_hyper_layers"]):
                latent = item_hyper.T @ item_part
                item_part = item_hyper @ latent
                user_part = user_hyper @ latent
            hyper_views[modality] = (user_part, item_part)
            global_sum = global_sum + torch.cat([user_part, item_part])
        final = local + p["alpha"] * F.normalize(global_sum, dim=1)
        return final[: self.n_users], final[self.n_users:], hyper_views

    def loss_terms(self, users: torch.Tensor, pos_items: torch.Tensor, neg_items: torch.Tensor) -> dict[str, torch.Tensor]:
        p = self.params
        user_repr, item_repr, hyper = self._forward()
        user_e, pos_e, neg_e = user_repr[users], item_repr[pos_items], item_repr[neg_items]
        contrast = torch.zeros((), device=user_e.device)
        for a, b in combinations(self.modalities, 2):
            contrast = contrast + info_nce(hyper[a][0][users], hyper[b][0], p["tau"], targets=users, reduction="sum")
            contrast = contrast + info_nce(hyper[a][1][pos_items], hyper[b][1], p["tau"], targets=pos_items,
                                           reduction="sum")
        return {"bpr": pairwise_bpr(user_e, pos_e, neg_e), "cl": p["cl_weight"] * contrast,
                "reg": p["reg_weight"] * half_squared_penalty(user_e, pos_e, neg_e)}

    def ranking_representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        users, items, _ = self._forward()
        return users, items
