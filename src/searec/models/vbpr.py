"""VBPR: BPR-MF whose items also carry a linear projection of their content features.

He & McAuley, "VBPR: Visual Bayesian Personalized Ranking from Implicit Feedback", AAAI 2016,
as MMRec implements it for several modalities (../shared/docs/BASELINES.md): users have a
2e-dimensional embedding p_u; an item is q_i = [ID embedding e_i ; W·[F_1,i ; F_2,i ; …] + b]
(all modality features concatenated, one Linear to e); ŷ(u, i) = ⟨p_u, q_i⟩. Loss = BPR +
reg_weight · EmbLoss(p_u, q_i⁺, q_i⁻) (MMRec's Frobenius-norm penalty). Peak memory at Baby
scale (Baby-shaped ``searec synth`` folder, 4096-d image + 384-d text, 2 epochs): 1.35 GiB RSS
for the whole ``searec train`` process, of which the 7,050 × 4,480 float32 feature matrix is 126 MB.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from searec.errors import ModelConfigError
from searec.models.base import Recommender, register_model
from searec.models.declaration import embedding_size, reg_weight
from searec.models.inputs import ModelInputs
from searec.models.losses import bpr_loss, mmrec_embedding_penalty


@register_model
class VBPR(Recommender):
    name = "vbpr"
    uses_features = True
    hyperparameters = (embedding_size(), reg_weight(1e-5))
    reference_grid = {"reg_weight": [2.0, 1.0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5]}

    def __init__(self, inputs: ModelInputs, params: Mapping[str, Any]) -> None:
        super().__init__(inputs, params)
        if not inputs.features:
            raise ModelConfigError("vbpr needs at least one item modality (<modality>_feat.npy in the dataset folder)")
        size = self.params["embedding_size"]
        self.modalities = tuple(sorted(inputs.features))
        content = np.concatenate([np.asarray(inputs.features[m], dtype=np.float32) for m in self.modalities], axis=1)
        self.register_buffer("content", torch.from_numpy(content), persistent=False)
        self.user_embedding = nn.Parameter(nn.init.xavier_normal_(torch.empty(self.n_users, 2 * size)))
        self.item_embedding = nn.Parameter(nn.init.xavier_normal_(torch.empty(self.n_items, size)))
        self.content_projection = nn.Linear(content.shape[1], size)
        nn.init.xavier_normal_(self.content_projection.weight)

    def _items(self, items: torch.Tensor | None = None) -> torch.Tensor:
        if items is None:
            return torch.cat([self.item_embedding, self.content_projection(self.content)], dim=1)
        return torch.cat([self.item_embedding[items], self.content_projection(self.content[items])], dim=1)

    def loss_terms(self, users: torch.Tensor, pos_items: torch.Tensor, neg_items: torch.Tensor) -> dict[str, torch.Tensor]:
        user_e = self.user_embedding[users]
        if self.n_items <= pos_items.numel() + neg_items.numel():
            # fewer items than batch rows (the sample: 238 against 4,096): project every item once and
            # pick rows, as MMRec's forward does; the same q_i, a third of the time of an epoch there
            items = self._items()
            pos_e, neg_e = items[pos_items], items[neg_items]
        else:
            pos_e, neg_e = self._items(pos_items), self._items(neg_items)
        return {
            "bpr": bpr_loss((user_e * pos_e).sum(dim=1), (user_e * neg_e).sum(dim=1)),
            "reg": self.params["reg_weight"] * mmrec_embedding_penalty(user_e, pos_e, neg_e),
        }

    def ranking_representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.user_embedding, self._items()
