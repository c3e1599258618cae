"""DRAGON: SEA's backbone without SEA's losses or projection, plus a user–user graph.

Zhou et al., "Enhancing Dyadic Relations with Homogeneous Graphs for Multimodal Recommendation",
ECAI 2023, as MMRec implements it (../shared/docs/BASELINES.md). The backbone
(:mod:`searec.models.backbone`, shared with SEA) encodes each modality straight from its raw
features (no pre-GNN linear layer), fuses users by concatenation with learned per-user weights,
adds ``n_mm_layers`` hops over the frozen kNN item graph 0.1·S_visual + 0.9·S_textual and one
hop over the user–user graph (each user's ``user_k`` = 40 top co-interacting users, softmax of the
counts; the ``searec graphs`` artifact ``uu-k40``). Loss = BPR (log base 2) + reg_weight ·
[mean_batch Σ_m P_m,u² + mean w²].

Cost at Baby scale (``python benchmarks/model_speed.py``: Baby-shaped ``searec synth`` folder,
4096-d image, 384-d text, batch 2048, 2 threads): 17.1 s per training epoch, 1.81 GiB peak RSS
for the whole ``searec train`` process.
Projecting all items' 4096-d features through the 4096 × 256 layer every batch dominates.
"""

from __future__ import annotations

from searec.models.backbone import PlainBackboneModel
from searec.models.base import register_model
from searec.models.declaration import embedding_size, knn_k, layer_count, mm_image_weight, modality_roles, reg_weight, user_k


@register_model
class DRAGON(PlainBackboneModel):
    name = "dragon"
    uses_features = True
    uses_user_graph = True
    hyperparameters = (embedding_size(), reg_weight(1e-3, "weight of the user preference penalty"), knn_k(),
                       mm_image_weight(), layer_count("n_ui_layers", 2, "propagation layers over the user-item graph"),
                       layer_count("n_mm_layers", 1, "hops over the frozen item graph"), user_k(), *modality_roles())
    reference_grid = {"reg_weight": [1e-1, 1e-2, 1e-3, 1e-4, 1e-5]}

