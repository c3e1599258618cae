"""SLMRec: self-supervised multimedia recommendation — per-view LightGCN, concat fusion, contrastive losses.

Tao et al., "Self-supervised Learning for Multimedia Recommendation", IEEE TMM 2022, as MMRec
implements it (../shared/docs/BASELINES.md). Views v ∈ {ID, each modality}: the item input is the
ID embedding or Dense_m(F_m) (Linear d_m → e); every view runs its own LightGCN (``n_layers`` = 3,
mean of layers) with the SHARED user embedding. Users and items are the concatenation of their
views' outputs mapped by one Linear((1 + M)e → e).

Loss = InfoNCE(user, positive item; temperature ``temperature``, the batch's other positives as
negatives — no sampled negatives) + ssl_alpha · (fine + coarse) + weight decay, where for the
batch's positive items, with per-view heads g_v = Linear(e → e):
fine = Σ over modality pairs (a, b) InfoNCE(g_a(i_a), g_b(i_b); ssl_temp), coarse =
InfoNCE(g_ID(i_ID), mean_m g_m(i_m); ssl_temp) (the "fine and coarse" task). ``weight_decay``
(1e-4) is written as the loss term wd/2 · Σ‖θ‖² over the trainable parameters, which is exactly
Adam's (coupled) weight decay, so the model keeps it without a trainer switch.

Cost at Baby scale (``python benchmarks/model_speed.py``: Baby-shaped ``searec synth`` folder,
4096-d image, 384-d text, batch 2048, 2 threads): 11.9 s per training epoch, 1.86 GiB peak RSS
for the whole ``searec train`` process.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations
from typing import Any

import torch
from torch import nn

from searec.models.base import Recommender, register_model
from searec.models.declaration import HyperParameter, embedding_size, layer_count, temperature
from searec.models.inputs import ModelInputs
from searec.models.layers import FeatureTables, combine_layers, require_modalities, sparse_tensor
from searec.models.losses import info_nce

ID_VIEW = "id"


@register_model
class SLMRec(Recommender):
    name = "slmrec"
    uses_features = True
    hyperparameters = (
        embedding_size(), layer_count("n_layers", 3, "LightGCN layers of each pass (ID, image, text)"),
        temperature("temperature", 0.2, "temperature of the main user-item InfoNCE"),
        temperature("ssl_temp", 0.2, "temperature of the cross-modal contrast"),
        HyperParameter("ssl_alpha", 0.1, "weight of the cross-modal contrast", minimum=0.0),
        HyperParameter("weight_decay", 1e-4, "L2 weight decay of the embeddings", minimum=0.0))
    # BASELINES.md names an lr axis without values: those are ours
    reference_grid = {"ssl_alpha": [0.01, 0.05, 0.1, 0.5, 1.0], "ssl_temp": [0.1, 0.2, 0.5, 1.0],
                      "training.learning_rate": [1e-4, 1e-3, 1e-2]}

    def __init__(self, inputs: ModelInputs, params: Mapping[str, Any]) -> None:
        super().__init__(inputs, params)
        p = self.params
        self.modalities = require_modalities(inputs.features, "slmrec")
        size = p["embedding_size"]
        self.features = FeatureTables(inputs.features, self.modalities, trainable=False)
        self.user_embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_users, size)))
        self.item_embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_items, size)))
        self.dense = nn.ModuleDict({m: nn.Linear(self.features.dim(m), size) for m in self.modalities})
        self.views = (ID_VIEW,) + self.modalities
        self.fusion = nn.Linear(len(self.views) * size, size)
        self.heads = nn.ModuleDict({v: nn.Linear(size, size) for v in self.views})
        self.register_buffer("adjacency", sparse_tensor(inputs.user_item_adjacency()), persistent=False)

    def _view_outputs(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        outputs = {}
        for view in self.views:
            items = self.item_embedding if view == ID_VIEW else self.dense[view](self.features[view])
            mean = combine_layers(self.adjacency, torch.cat([self.user_embedding, items]), self.params["n_layers"])
            outputs[view] = (mean[: self.n_users], mean[self.n_users:])
        return outputs

    def _fuse(self, views: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
        users = self.fusion(torch.cat([views[v][0] for v in self.views], dim=1))
        items = self.fusion(torch.cat([views[v][1] for v in self.views], dim=1))
        return users, items

    def loss_terms(self, users: torch.Tensor, pos_items: torch.Tensor, neg_items: torch.Tensor) -> dict[str, torch.Tensor]:
        p = self.params
        views = self._view_outputs()
        user_repr, item_repr = self._fuse(views)
        terms = {"infonce": info_nce(user_repr[users], item_repr[pos_items], p["temperature"])}
        projected = {v: self.heads[v](views[v][1][pos_items]) for v in self.views}
        fine = sum((info_nce(projected[a], projected[b], p["ssl_temp"]) for a, b in combinations(self.modalities, 2)),
                   torch.zeros((), device=user_repr.device))
        content = torch.stack([projected[m] for m in self.modalities]).mean(dim=0)
        coarse = info_nce(projected[ID_VIEW], content, p["ssl_temp"])
        terms["ssl"] = p["ssl_alpha"] * (fine + coarse)
        terms["weight_decay"] = p["weight_decay"] / 2 * sum(param.square().sum() for param in self.trainable_parameters())
        return terms

    def ranking_representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._fuse(self._view_outputs())
