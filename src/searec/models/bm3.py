"""BM3: bootstrapped multimodal representations — no negatives, dropout targets, one predictor.

Zhou et al., "Bootstrap Latent Representations for Multi-modal Recommendation", WWW 2023, as
MMRec implements it (../shared/docs/BASELINES.md). Online embeddings: LightGCN over the IDs
(``n_layers``, mean of layers), items plus their own ID embedding (residual). Targets are
dropout copies of the online embeddings (rate ``dropout``, stop-gradient); one shared predictor
f = Linear(e → e). With each modality projected T_m = Linear_m(F_m) (features trainable, as
MMRec's ``freeze=False``), for the batch's (u, i⁺) pairs:

    align = [1 − cos(f(u), ī)] + [1 − cos(f(i), ū)]          ū, ī: dropout targets
    modal = Σ_m [1 − cos(f(T_m,i), ī)] + [1 − cos(f(T_m,i), T̄_m,i)]

Loss = align + reg_weight · EmbLoss(all online users, all online items) + cl_weight · modal
(means over the batch). Negatives are not used. Ranking scores ⟨f(u), f(i)⟩.

Cost at Baby scale (``python benchmarks/model_speed.py``: Baby-shaped ``searec synth`` folder,
4096-d image, 384-d text, batch 2048, 2 threads): 14.6 s per training epoch, 2.14 GiB peak RSS
for the whole ``searec train`` process.
Includes the trainable feature tables with their Adam moments (4 × 7,050 × 4,480 floats ≈ 0.5 GB).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from searec.models.base import Recommender, register_model
from searec.models.declaration import HyperParameter, dropout, embedding_size, layer_count, reg_weight, train_features
from searec.models.inputs import ModelInputs
from searec.models.layers import FeatureTables, combine_layers, require_modalities, sparse_tensor
from searec.models.losses import mmrec_embedding_penalty


def cosine_distance(online: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 − mean cos(online, target) with the target detached (BYOL's stop-gradient)."""
    return 1 - F.cosine_similarity(online, target.detach(), dim=-1).mean()


@register_model
class BM3(Recommender):
    name = "bm3"
    uses_features = True
    hyperparameters = (embedding_size(), layer_count("n_layers", 1, "LightGCN layers over the user-item graph"),
                       dropout(0.5, "dropout of the target copies"), reg_weight(0.1),
                       HyperParameter("cl_weight", 2.0, "weight of the modality alignment terms", minimum=0.0),
                       train_features())
    reference_grid = {"dropout": [0.3, 0.5], "reg_weight": [0.1, 0.01]}

    def __init__(self, inputs: ModelInputs, params: Mapping[str, Any]) -> None:
        super().__init__(inputs, params)
        p = self.params
        self.modalities = require_modalities(inputs.features, "bm3")
        size = p["embedding_size"]
        self.user_embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_users, size)))
        self.item_embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_items, size)))
        self.predictor = nn.Linear(size, size)
        nn.init.xavier_normal_(self.predictor.weight)
        self.features = FeatureTables(inputs.features, self.modalities, p["train_features"])
        self.projections = nn.ModuleDict({m: nn.Linear(self.features.dim(m), size) for m in self.modalities})
        for projection in self.projections.values():
            nn.init.xavier_normal_(projection.weight)
        self.register_buffer("adjacency", sparse_tensor(inputs.user_item_adjacency()), persistent=False)

    def _online(self) -> tuple[torch.Tensor, torch.Tensor]:
        nodes = torch.cat([self.user_embedding, self.item_embedding])
        mean = combine_layers(self.adjacency, nodes, self.params["n_layers"], how="mean")
        return mean[: self.n_users], mean[self.n_users:] + self.item_embedding

    def loss_terms(self, users: torch.Tensor, pos_items: torch.Tensor, neg_items: torch.Tensor) -> dict[str, torch.Tensor]:
        p = self.params
        users_online, items_online = self._online()
        with torch.no_grad():
            user_target = F.dropout(users_online[users], p["dropout"])
            item_target = F.dropout(items_online[pos_items], p["dropout"])
        align = (cosine_distance(self.predictor(users_online[users]), item_target)
                 + cosine_distance(self.predictor(items_online[pos_items]), user_target))
        modal = torch.zeros((), device=align.device)
        for modality in self.modalities:
            projected = self.projections[modality](self.features[modality][pos_items])
            with torch.no_grad():
                projected_target = F.dropout(projected, p["dropout"])
            online = self.predictor(projected)
            modal = modal + cosine_distance(online, item_target) + cosine_distance(online, projected_target)
        return {"align": align, "reg": p["reg_weight"] * mmrec_embedding_penalty(users_online, items_online),
                "modal": p["cl_weight"] * modal}

    def ranking_representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        users, items = self._online()
        return self.predictor(users), self.predictor(items)
