"""Known answers for the shared layers and graph operations (searec.models.layers)."""

import numpy as np
import torch

from searec.graphs import normalized_adjacency
from searec.models.layers import (
    edge_propagate,
    knn_edges,
    propagate_layers,
    segment_softmax,
    sparse_tensor,
    symmetric_edge_normalization,
)


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


def test_edge_propagation_sums_repeated_edges_and_passes_gradients_to_weights() -> None:
    rows, cols = torch.tensor([0, 0, 2, 0]), torch.tensor([1, 2, 0, 1])
    weights = torch.tensor([0.5, 1.0, 2.0, 0.25], requires_grad=True)
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    out = edge_propagate(rows, cols, weights, x, 3)
    dense = torch.zeros(3, 3)
    dense[0, 1], dense[0, 2], dense[2, 0] = 0.75, 1.0, 2.0
    torch.testing.assert_close(out, dense @ x)
    out.sum().backward()
    torch.testing.assert_close(weights.grad, x[cols].sum(dim=1))


def test_segment_softmax_normalises_within_each_segment() -> None:
    scores = torch.tensor([1.0, 2.0, 3.0, 1000.0, 0.0])
    segments = torch.tensor([0, 0, 2, 2, 1])
    got = segment_softmax(scores, segments, 3)
    torch.testing.assert_close(got[:2], torch.softmax(torch.tensor([1.0, 2.0]), 0))
    torch.testing.assert_close(got[2:4], torch.tensor([0.0, 1.0]))  # stable for large scores
    assert float(got[4]) == 1.0


def test_knn_edges_match_dense_top_k_in_any_chunking() -> None:
    features = torch.from_numpy(np.random.default_rng(0).normal(size=(23, 5)).astype(np.float32))
    normed = torch.nn.functional.normalize(features, dim=1)
    dense = normed @ normed.T
    expected = torch.zeros(23, 23).scatter_(1, torch.topk(dense, 4, dim=1).indices, torch.topk(dense, 4, dim=1).values)
    for chunk in (1, 7, 1024):
        rows, cols, vals = knn_edges(features, 4, chunk)
        got = torch.zeros(23, 23).index_put_((rows, cols), vals, accumulate=True)
        torch.testing.assert_close(got, expected)
        assert all(int(r) in cols[rows == r].tolist() for r in range(23))  # self included


def test_symmetric_edge_normalisation_equals_dense_formula() -> None:
    rows, cols = torch.tensor([0, 0, 1, 2, 2]), torch.tensor([0, 1, 1, 0, 2])
    weights = torch.tensor([0.5, 1.0, 2.0, 0.25, 1.0])
    dense = torch.zeros(4, 4).index_put_((rows, cols), weights)
    degree = dense.sum(1)
    inv = torch.where(degree > 0, degree.rsqrt(), torch.zeros(4))
    expected = inv[:, None] * dense * inv[None, :]
    got = symmetric_edge_normalization(rows, cols, weights, 4)
    torch.testing.assert_close(got, expected[rows, cols])
