"""Known answers for the baselines' graph constructions: the backbone's fusion (DRAGON, DualGNN), LATTICE's item graph."""

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from searec.data.mmrec import load_mmrec_folder
from searec.models import ModelInputs
from searec.models.backbone import GraphModalityEncoder, softmax_user_graph
from searec.models.dragon import DRAGON
from searec.models.dualgnn import DualGNN
from searec.models.lattice import LATTICE
from searec.models.sea import SEA, ModalityBranch


@pytest.fixture(scope="module")
def inputs(tiny_synth: Path) -> ModelInputs:
    return ModelInputs.from_dataset(load_mmrec_folder(tiny_synth))


def test_softmax_user_graph_known_answer() -> None:
    counts = sp.csr_matrix(np.array([[0, 2, 1], [3, 0, 0], [0, 0, 0]], dtype=np.float32))
    got = softmax_user_graph(counts).toarray()
    assert np.allclose(got[0], [0, np.e / (np.e + 1), 1 / (np.e + 1)])
    assert np.allclose(got[1], [1, 0, 0]) and not got[2].any()


def test_dragon_and_sea_share_one_modality_encoder() -> None:
    assert issubclass(ModalityBranch, GraphModalityEncoder)
    assert DRAGON.__mro__[2] is SEA.__mro__[1]  # ModalityGraphModel


@pytest.mark.parametrize("cls", [DRAGON, DualGNN])
def test_backbone_fusion_equals_the_dense_formula(cls: type, inputs: ModelInputs) -> None:
    torch.manual_seed(0)
    model = cls(inputs, {"user_k": 5})
    u = inputs.n_users
    adjacency = torch.from_numpy(inputs.user_item_adjacency().toarray())
    zs = []
    for m in model.modalities:
        branch = model.branches[m]
        items = branch.encoder_out(torch.nn.functional.leaky_relu(branch.encoder_in(model.modality_features(m))))
        x = torch.nn.functional.normalize(torch.cat([branch.user_embedding, items]), dim=1)
        zs.append(x + adjacency @ x + adjacency @ adjacency @ x)
    w = model.user_modality_weight
    user_graph = torch.from_numpy(softmax_user_graph(inputs.user_user_graph(5)).toarray())
    if cls is DRAGON:
        users = torch.cat([w[:, 0:1] * zs[0][:u], w[:, 1:2] * zs[1][:u]], dim=1)
        items = torch.cat([zs[0][u:], zs[1][u:]], dim=1)
        items = items + torch.from_numpy(inputs.mixed_item_graph(model.visual, model.textual, 10, 0.1).toarray()) @ items
    else:
        users = w[:, 0:1] * zs[0][:u] + w[:, 1:2] * zs[1][:u]
        items = zs[0][u:] + zs[1][u:]
    users = users + user_graph @ users
    got_users, got_items = model.ranking_representations()
    torch.testing.assert_close(got_users, users, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(got_items, items, atol=1e-5, rtol=1e-4)


def test_lattice_item_graph_equals_mmrec_dense_construction(inputs: ModelInputs) -> None:
    torch.manual_seed(0)
    model = LATTICE(inputs, {"knn_k": 4, "chunk_size": 7})
    n = inputs.n_items

    def dense_knn(x: torch.Tensor) -> torch.Tensor:  # MMRec's build_sim + build_knn_neighbourhood
        normed = torch.nn.functional.normalize(x, dim=1)
        sim = normed @ normed.T
        top = torch.topk(sim, 4, dim=1)
        return torch.zeros(n, n).scatter_(1, top.indices, top.values)

    def laplacian(a: torch.Tensor) -> torch.Tensor:
        inv = a.sum(1).pow(-0.5)
        return inv[:, None] * a * inv[None, :]

    beta = torch.softmax(model.modality_logits, dim=0)
    learned = laplacian(sum(beta[k] * dense_knn(model.projections[m](model.features[m]))
                            for k, m in enumerate(model.modalities)))
    original = sum(beta[k] * laplacian(dense_knn(torch.from_numpy(inputs.features[m])))
                   for k, m in enumerate(model.modalities))
    expected = 0.1 * learned + 0.9 * original
    rows, cols, vals = model.item_graph()
    got = torch.zeros(n, n).index_put_((rows, cols), vals, accumulate=True)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)


def test_lattice_learns_its_graph_only_at_an_epochs_first_batch(inputs: ModelInputs) -> None:
    torch.manual_seed(0)
    model = LATTICE(inputs, {})
    batch = (torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([2, 3]))
    model.before_epoch()
    sum(model.loss_terms(*batch).values()).backward()
    assert model.modality_logits.grad is not None and model.modality_logits.grad.abs().sum() > 0
    model.zero_grad(set_to_none=True)
    sum(model.loss_terms(*batch).values()).backward()
    assert model.modality_logits.grad is None  # the rest of the epoch reuses the detached graph
