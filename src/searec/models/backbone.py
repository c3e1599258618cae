"""SEA's backbone, shared by SEA, DRAGON and DualGNN: one graph encoder per item modality, fused.

Per modality m (Wei et al.'s DualGNN / Zhou et al.'s DRAGON GCN, which SEA's released code keeps):

    x_m = Linear(4e → e)(LeakyReLU(Linear(d_in → 4e)(input_m)))          item content, e-dim
    Z_m = Σ_{l=0..L} Â^l · normalise_rows([P_m ; x_m])                       P_m: free user preferences

with Â = D^-1/2 A D^-1/2 of the training interactions. Users then fuse their modality views with
learned per-user weights w_u (initialised as a softmax over modalities, trained unconstrained as
in the released code): ``concat`` (SEA, DRAGON) r_u = [w_u,1 Z_1,u ; w_u,2 Z_2,u] and items
r_i = [Z_1,i ; Z_2,i]; ``sum`` (DualGNN) r_u = Σ_m w_u,m Z_m,u and r_i = Σ_m Z_m,i. Optionally
items add ``n_mm_layers`` hops over the frozen kNN item graph S = w S_visual + (1 − w) S_textual
(SEA, DRAGON), and users add one hop over the softmax-weighted user–user graph (DRAGON, DualGNN).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn
from torch.nn import functional as F

from searec.errors import ModelConfigError
from searec.models.base import Recommender
from searec.models.inputs import ModelInputs
from searec.models.layers import FeatureTables, combine_layers, resolve_modalities, sparse_tensor
from searec.models.losses import pairwise_bpr


class GraphModalityEncoder(nn.Module):
    """One modality's content MLP, user preferences P_m and the summed-layer propagation Z_m."""

    def __init__(self, n_users: int, input_dim: int, size: int) -> None:
        super().__init__()
        self.encoder_in = nn.Linear(input_dim, 4 * size)
        self.encoder_out = nn.Linear(4 * size, size)
        self.user_embedding = nn.Parameter(nn.init.xavier_normal_(torch.empty(n_users, size)))

    def propagate(self, hidden_pre_activation: torch.Tensor, adjacency: torch.Tensor, n_layers: int) -> torch.Tensor:
        """Z_m from the pre-activation of the first content layer (SEA computes it in factored form)."""
        items = self.encoder_out(F.leaky_relu(hidden_pre_activation))
        nodes = F.normalize(torch.cat([self.user_embedding, items], dim=0), dim=1)
        return combine_layers(adjacency, nodes, n_layers, how="sum")

    def forward(self, features: torch.Tensor, adjacency: torch.Tensor, n_layers: int) -> torch.Tensor:
        return self.propagate(self.encoder_in(features), adjacency, n_layers)


def softmax_user_graph(counts: sp.csr_matrix) -> sp.csr_matrix:
    """Row-wise softmax over each user's kept co-interaction counts (DualGNN's / DRAGON's ``softmax`` user aggregation).

    A user without co-interacting neighbours keeps an empty row (adds nothing).
    """
    graph = sp.csr_matrix(counts, dtype=np.float64, copy=True)
    for row in range(graph.shape[0]):
        start, stop = graph.indptr[row], graph.indptr[row + 1]
        if stop > start:
            values = graph.data[start:stop]
            exp = np.exp(values - values.max())
            graph.data[start:stop] = exp / exp.sum()
    return graph.astype(np.float32)


class ModalityGraphModel(Recommender):
    """Base of SEA, DRAGON and DualGNN: modality encoders over Â, per-user fusion, optional item/user graphs.

    Subclasses call :meth:`build_backbone` with a factory for their per-modality encoder and
    compute each modality's Z_m; :meth:`fuse` does the rest. Parameters a subclass must declare:
    ``embedding_size``, ``n_ui_layers``, ``visual``, ``textual`` and, with the item graph,
    ``knn_k``, ``mm_image_weight``, ``n_mm_layers``; with the user graph, ``user_k``.
    """

    fusion: str = "concat"
    uses_item_graph: bool = True
    uses_user_graph: bool = False

    def build_backbone(self, inputs: ModelInputs, make_encoder: Callable[[int], GraphModalityEncoder]) -> None:
        """Modalities, their feature buffers, one encoder each (``make_encoder(feature_dim)``), the weights and graphs."""
        p = self.params
        for key in ("n_ui_layers", "n_mm_layers"):
            if p.get(key, 0) < 0:
                raise ModelConfigError(f"{self.name}.{key} must be >= 0, got {p[key]}")
        self.visual, self.textual = resolve_modalities(inputs.features, p["visual"], p["textual"])
        self.modalities = (self.visual, self.textual)
        self.features = FeatureTables(inputs.features, self.modalities, trainable=False)
        self.branches = nn.ModuleDict({m: make_encoder(inputs.features[m].shape[1]) for m in self.modalities})
        self.user_modality_weight = nn.Parameter(
            torch.softmax(nn.init.xavier_normal_(torch.empty(self.n_users, len(self.modalities))), dim=1))
        self.register_buffer("adjacency", sparse_tensor(inputs.user_item_adjacency()), persistent=False)
        if self.uses_item_graph:
            item_graph = inputs.mixed_item_graph(self.visual, self.textual, p["knn_k"], p["mm_image_weight"])
            self.register_buffer("item_graph", sparse_tensor(item_graph), persistent=False)
        if self.uses_user_graph:
            if p["user_k"] < 1:
                raise ModelConfigError(f"{self.name}.user_k must be >= 1, got {p['user_k']}")
            self.register_buffer("user_graph", sparse_tensor(softmax_user_graph(inputs.user_user_graph(p["user_k"]))),
                                 persistent=False)

    def modality_features(self, modality: str) -> torch.Tensor:
        return self.features[modality]

    def fuse(self, zs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(users, items) from the modalities' Z_m: weighted fusion, item-graph hops, user-graph hop."""
        weights = self.user_modality_weight
        user_views = [weights[:, k: k + 1] * z[: self.n_users] for k, z in enumerate(zs)]
        item_views = [z[self.n_users:] for z in zs]
        if self.fusion == "concat":
            users, items = torch.cat(user_views, dim=1), torch.cat(item_views, dim=1)
        else:
            users, items = torch.stack(user_views).sum(dim=0), torch.stack(item_views).sum(dim=0)
        if self.uses_item_graph:
            hop = items
            for _ in range(self.params["n_mm_layers"]):
                hop = torch.sparse.mm(self.item_graph, hop)
            items = items + hop
        if self.uses_user_graph:
            users = users + torch.sparse.mm(self.user_graph, users)
        return users, items


def preference_penalty(model: ModalityGraphModel, users: torch.Tensor) -> torch.Tensor:
    """mean over the batch's users of each modality's P_m² plus mean w² (DualGNN's and DRAGON's reg term)."""
    total = sum(model.branches[m].user_embedding[users].square().mean() for m in model.modalities)
    return total + model.user_modality_weight.square().mean()



class PlainBackboneModel(ModalityGraphModel):
    """The backbone on raw features trained by BPR (log base 2) + reg_weight · :func:`preference_penalty`.

    DRAGON and DualGNN are exactly this with different switches (fusion, item graph, user graph);
    they declare only those and their defaults.
    """

    def __init__(self, inputs: ModelInputs, params: Mapping[str, Any]) -> None:
        super().__init__(inputs, params)
        size = self.params["embedding_size"]
        self.build_backbone(inputs, lambda feature_dim: GraphModalityEncoder(self.n_users, feature_dim, size))

    def _forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        zs = [self.branches[m](self.modality_features(m), self.adjacency, self.params["n_ui_layers"])
              for m in self.modalities]
        return self.fuse(zs)

    def loss_terms(self, users: torch.Tensor, pos_items: torch.Tensor, neg_items: torch.Tensor) -> dict[str, torch.Tensor]:
        user_repr, item_repr = self._forward()
        return {"bpr": pairwise_bpr(user_repr[users], item_repr[pos_items], item_repr[neg_items], log_base=2),
                "reg": self.params["reg_weight"] * preference_penalty(self, users)}

    def ranking_representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._forward()
