"""DualGNN: per-modality graph encoders fused by learned user weights, plus a user–user graph.

Wang et al., "DualGNN: Dual Graph Neural Network for Multimedia Recommendation", IEEE TMM 2021,
as MMRec implements it (../shared/docs/BASELINES.md). Each modality: the backbone's encoder
(:mod:`searec.models.backbone`: MLP d → 4e → e, free user preferences, sum of layers 0..2 over
Â). Users fuse modalities by a learned weighted sum Σ_m w_u,m Z_m,u, items by the plain sum;
users then add one hop over the user–user co-occurrence graph (top ``user_k`` = 40 neighbours,
softmax of the co-interaction counts; the ``searec graphs`` artifact). No item–item graph.
Loss = BPR (log base 2) + reg_weight · [mean_batch Σ_m P_m,u² + mean w²].

Cost at Baby scale (``python benchmarks/model_speed.py``: Baby-shaped ``searec synth`` folder,
4096-d image, 384-d text, batch 2048, 2 threads): 16.7 s per training epoch, 1.82 GiB peak RSS
for the whole ``searec train`` process.
Projecting all items' 4096-d features through the 4096 × 256 layer every batch dominates.
"""

from __future__ import annotations

from searec.models.backbone import PlainBackboneModel
from searec.models.base import register_model
from searec.models.declaration import embedding_size, layer_count, modality_roles, reg_weight, user_k


@register_model
class DualGNN(PlainBackboneModel):
    name = "dualgnn"
    uses_features = True
    fusion = "sum"
    uses_item_graph = False
    uses_user_graph = True
    hyperparameters = (embedding_size(), reg_weight(1e-3, "weight of the user preference penalty"),
                       layer_count("n_ui_layers", 2, "propagation layers over the user-item graph"), user_k(),
                       *modality_roles())
    reference_grid = {"reg_weight": [1e-1, 1e-2, 1e-3, 1e-4, 1e-5],
                      "training.learning_rate": [1e-1, 1e-2, 1e-3, 1e-4, 1e-5]}

