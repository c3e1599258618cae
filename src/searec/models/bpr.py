"""BPR-MF: matrix factorisation trained with the BPR loss.

Rendle et al., "BPR: Bayesian Personalized Ranking from Implicit Feedback", UAI 2009.
ŷ(u, i) = ⟨p_u, q_i⟩ with free ID embeddings (Xavier-normal init). Loss, as MMRec's ``BPR``:
L = −mean log σ(ŷ(u,i⁺) − ŷ(u,i⁻)) + reg_weight · (‖P_B‖ + ‖Q_B⁺‖ + ‖Q_B⁻‖) / |B|, the
penalty on the batch's embeddings (see :func:`~searec.models.layers.mmrec_embedding_penalty`).
Peak memory is the two embedding tables: (U + I) · d floats.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from searec.models.base import Recommender, register_model
from searec.models.declaration import embedding_size, reg_weight
from searec.models.inputs import ModelInputs
from searec.models.losses import bpr_loss, mmrec_embedding_penalty


@register_model
class BPRMF(Recommender):
    name = "bpr"
    hyperparameters = (embedding_size(), reg_weight(1e-5))
    reference_grid = {"reg_weight": [2.0, 1.0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5]}

    def __init__(self, inputs: ModelInputs, params: Mapping[str, Any]) -> None:
        super().__init__(inputs, params)
        size = self.params["embedding_size"]
        self.user_embedding = nn.Parameter(nn.init.xavier_normal_(torch.empty(self.n_users, size)))
        self.item_embedding = nn.Parameter(nn.init.xavier_normal_(torch.empty(self.n_items, size)))

    def loss_terms(self, users: torch.Tensor, pos_items: torch.Tensor, neg_items: torch.Tensor) -> dict[str, torch.Tensor]:
        user_e = self.user_embedding[users]
        pos_e = self.item_embedding[pos_items]
        neg_e = self.item_embedding[neg_items]
        pos_scores = (user_e * pos_e).sum(dim=1)
        neg_scores = (user_e * neg_e).sum(dim=1)
        return {
            "bpr": bpr_loss(pos_scores, neg_scores),
            "reg": self.params["reg_weight"] * mmrec_embedding_penalty(user_e, pos_e, neg_e),
        }

    def ranking_representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.user_embedding, self.item_embedding
