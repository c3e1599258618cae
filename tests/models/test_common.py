import numpy as np
import pytest
import torch

from searec.graphs import normalized_adjacency
from searec.models.common import bpr_loss, mmrec_embedding_penalty, propagate_layers, sparse_tensor


def test_bpr_loss_known_values() -> None:
    pos = torch.tensor([2.0, 0.0])
    neg = torch.tensor([0.0, 0.0])
    expected = -(np.log(1 / (1 + np.exp(-2.0))) + np.log(0.5)) / 2
    assert float(bpr_loss(pos, neg)) == pytest.approx(expected, rel=1e-6)


def test_mmrec_penalty_is_sum_of_frobenius_norms_over_batch_size() -> None:
    a = torch.tensor([[3.0, 4.0], [0.0, 0.0]])  # ‖a‖ = 5
    b = torch.tensor([[1.0, 0.0], [0.0, 0.0]])  # ‖b‖ = 1
    assert float(mmrec_embedding_penalty(a, b)) == pytest.approx((5 + 1) / 2)


def test_normalized_adjacency_matches_dense_formula() -> None:
    users = np.array([0, 0, 1, 2, 2, 2])
    items = np.array([0, 1, 1, 0, 1, 1])  # (2, 1) twice: the graph stays binary
    n_users, n_items = 4, 3  # user 3 and item 2 are isolated
    got = normalized_adjacency(n_users, n_items, users, items).toarray()
    a = np.zeros((7, 7))
    for u, i in zip(users, items):
        a[u, n_users + i] = a[n_users + i, u] = 1
    degree = a.sum(1)
    inv = np.where(degree > 0, 1 / np.sqrt(np.maximum(degree, 1)), 0)
    assert np.allclose(got, inv[:, None] * a * inv[None, :])
    assert np.allclose(got, got.T)
    assert not got[3].any() and not got[n_users + 2].any()


def test_sparse_propagation_equals_dense_powers() -> None:
    adjacency = normalized_adjacency(5, 4, np.array([0, 1, 2, 3, 4, 0]), np.array([0, 1, 2, 3, 0, 3]))
    x = torch.randn(9, 3, dtype=torch.float32)
    layers = propagate_layers(sparse_tensor(adjacency), x, 3)
    dense = torch.from_numpy(adjacency.toarray())
    assert len(layers) == 4
    for power, layer in enumerate(layers):
        assert torch.allclose(layer, torch.linalg.matrix_power(dense, power) @ x, atol=1e-5)


def test_symmetric_propagation_gradient_equals_dense_autograd() -> None:
    adjacency = normalized_adjacency(6, 5, np.array([0, 1, 2, 3, 4, 5, 0, 2]), np.array([0, 1, 2, 3, 4, 0, 4, 1]))
    sparse = sparse_tensor(adjacency)
    dense = torch.from_numpy(adjacency.toarray())
    x = torch.randn(11, 4, dtype=torch.float32, requires_grad=True)
    weights = torch.randn(11, 4)
    (torch.stack(propagate_layers(sparse, x, 3)).sum(0) * weights).sum().backward()
    expected_x = x.detach().clone().requires_grad_(True)
    layers = [expected_x]
    for _ in range(3):
        layers.append(dense @ layers[-1])
    (torch.stack(layers).sum(0) * weights).sum().backward()
    assert torch.allclose(x.grad, expected_x.grad, atol=1e-5)
