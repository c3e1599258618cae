from pathlib import Path

import numpy as np
import pytest

from searec.graphs import cached_knn_item_graph, features_digest, knn_item_graph


def brute_force_knn(features: np.ndarray, k: int) -> np.ndarray:
    normed = features / np.linalg.norm(features, axis=1, keepdims=True)
    similarity = normed @ normed.T
    dense = np.zeros_like(similarity)
    for i, row in enumerate(similarity):
        dense[i, np.argsort(-row)[:k]] = 1.0
    degree = dense.sum(axis=1)
    return dense / np.sqrt(degree)[:, None] / np.sqrt(degree)[None, :]


@pytest.mark.parametrize("chunk_size", [1, 7, 1024])
def test_knn_graph_equals_dense_top_k(chunk_size: int) -> None:
    features = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
    graph = knn_item_graph(features, k=5, chunk_size=chunk_size)
    assert np.allclose(graph.toarray(), brute_force_knn(features, 5), atol=1e-6)
    assert np.allclose(graph.diagonal(), 1 / 5)  # every item is its own nearest neighbour
    assert (graph.getnnz(axis=1) == 5).all()


def test_knn_graph_refuses_impossible_k() -> None:
    with pytest.raises(ValueError, match="k must be"):
        knn_item_graph(np.ones((3, 2), dtype=np.float32), k=4)


def test_cache_is_keyed_by_feature_content(tmp_path: Path) -> None:
    features = np.random.default_rng(1).normal(size=(30, 4)).astype(np.float32)
    first = cached_knn_item_graph(features, 3, tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    again = cached_knn_item_graph(features.copy(), 3, tmp_path)
    assert (first != again).nnz == 0 and len(list(tmp_path.glob("*.npz"))) == 1
    changed = features.copy()
    changed[0, 0] += 1.0
    assert features_digest(changed) != features_digest(features)
    cached_knn_item_graph(changed, 3, tmp_path)
    cached_knn_item_graph(features, 4, tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 3
