"""MMGCN: one graph convolution network per modality over the user–item graph, averaged.

Wei et al., "MMGCN: Multi-modal Graph Convolution Network for Personalized Recommendation of
Micro-video", ACM MM 2019, as MMRec implements it (../shared/docs/BASELINES.md). Per modality m
with nodes [users; items]:

    x⁽⁰⁾ = normalise_rows([P_m ; φ_m(F_m)])     P_m free user preferences; φ_m = Linear(d → 256)
                                                  for the visual modality, identity otherwise
    h⁽ˡ⁾ = LeakyReLU(D^-1 A · x⁽ˡ⁾ W_l)           mean over neighbours (no self loops)
    x⁽ˡ⁺¹⁾ = LeakyReLU(G_l h⁽ˡ⁾ + LeakyReLU(L_l x⁽ˡ⁾) + E_id)       three layers

E_id is a shared (U+I) × e ID embedding (the "skip"); the representation is the mean of the
modalities' x⁽³⁾. Loss = BPR + reg_weight · [mean_batch(E_id,u² + E_id,i⁺² + E_id,i⁻²) +
Σ_m mean(P_m²)]. D^-1 A is derived from the ``searec graphs`` Â artifact.

Cost at Baby scale (``python benchmarks/model_speed.py``: Baby-shaped ``searec synth`` folder,
4096-d image, 384-d text, batch 2048, 2 threads): 50.5 s per training epoch, 2.64 GiB peak RSS
for the whole ``searec train`` process. Every batch runs the three layers over all 26.5k nodes for
both modalities (text at its raw 384-d width) and projects all items' 4096-d image features (not
profiled further).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from searec.models.base import Recommender, register_model
from searec.models.declaration import HyperParameter, embedding_size, layer_count, modality_roles, reg_weight
from searec.models.inputs import ModelInputs
from searec.models.layers import FeatureTables, resolve_modalities, sparse_tensor
from searec.models.losses import node_embedding_penalty, pairwise_bpr


class ModalityGCN(nn.Module):
    """One modality's MMGCN tower: preferences, optional input projection, ``n_layers`` graph layers."""

    def __init__(self, n_users: int, feature_dim: int, size: int, latent_dim: int | None, n_layers: int) -> None:
        super().__init__()
        self.projection = nn.Linear(feature_dim, latent_dim) if latent_dim else None
        width = latent_dim or feature_dim
        self.preference = nn.Parameter(nn.init.xavier_normal_(torch.empty(n_users, width)))
        widths = [width] + [size] * (n_layers - 1)
        self.conv_weights = nn.ParameterList([nn.Parameter(nn.init.xavier_normal_(torch.empty(w, w))) for w in widths])
        self.skips = nn.ModuleList([nn.Linear(w, size) for w in widths])
        self.gates = nn.ModuleList([nn.Linear(w, size) for w in widths])

    def forward(self, features: torch.Tensor, mean_adjacency: torch.Tensor, id_embedding: torch.Tensor) -> torch.Tensor:
        items = self.projection(features) if self.projection is not None else features
        x = F.normalize(torch.cat([self.preference, items], dim=0), dim=1)
        for weight, skip, gate in zip(self.conv_weights, self.skips, self.gates, strict=True):
            h = F.leaky_relu(torch.sparse.mm(mean_adjacency, x @ weight))
            x = F.leaky_relu(gate(h) + F.leaky_relu(skip(x)) + id_embedding)
        return x


@register_model
class MMGCN(Recommender):
    name = "mmgcn"
    uses_features = True
    hyperparameters = (embedding_size(), reg_weight(1e-4, "weight of the ID and preference embedding penalty"),
                       layer_count("n_layers", 3, "GCN layers per modality", minimum=1),
                       HyperParameter("visual_latent_dim", 256, "width the visual modality is projected to first",
                                      minimum=1),
                       *modality_roles())
    reference_grid = {"reg_weight": [0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1],
                      "training.learning_rate": [1e-4, 5e-4, 1e-3, 5e-3, 1e-2]}

    def __init__(self, inputs: ModelInputs, params: Mapping[str, Any]) -> None:
        super().__init__(inputs, params)
        p = self.params
        self.visual, self.textual = resolve_modalities(inputs.features, p["visual"], p["textual"])
        self.modalities = (self.visual, self.textual)
        self.features = FeatureTables(inputs.features, self.modalities, trainable=False)
        size = p["embedding_size"]
        self.id_embedding = nn.Parameter(nn.init.xavier_normal_(torch.empty(self.n_users + self.n_items, size)))
        self.towers = nn.ModuleDict({
            m: ModalityGCN(self.n_users, inputs.features[m].shape[1], size,
                           p["visual_latent_dim"] if m == self.visual else None, p["n_layers"])
            for m in self.modalities})
        self.register_buffer("mean_adjacency", sparse_tensor(inputs.user_item_adjacency("mean")), persistent=False)

    def _forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        towers = [self.towers[m](self.features[m], self.mean_adjacency, self.id_embedding)
                  for m in self.modalities]
        representation = torch.stack(towers).mean(dim=0)
        return representation[: self.n_users], representation[self.n_users:]

    def loss_terms(self, users: torch.Tensor, pos_items: torch.Tensor, neg_items: torch.Tensor) -> dict[str, torch.Tensor]:
        user_repr, item_repr = self._forward()
        penalty = node_embedding_penalty(self.id_embedding, self.n_users, users, pos_items, neg_items)
        penalty = penalty + sum(self.towers[m].preference.square().mean() for m in self.modalities)
        return {"bpr": pairwise_bpr(user_repr[users], item_repr[pos_items], item_repr[neg_items]),
                "reg": self.params["reg_weight"] * penalty}

    def ranking_representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._forward()
