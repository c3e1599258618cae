from pathlib import Path

import numpy as np
import pytest

from searec.graphs import (
    cached_knn_item_graph,
    cosine_valued,
    features_digest,
    knn_item_graph,
    normalized_adjacency,
    row_normalized,
    user_cooccurrence_graph,
    write_graph_artifacts,
)
from searec.models import ModelInputs


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


def test_user_cooccurrence_graph_known_answer() -> None:
    # user 0: items {0,1,2}; user 1: {0,1}; user 2: {2}; user 3: {3}
    users = np.array([0, 0, 0, 1, 1, 2, 3])
    items = np.array([0, 1, 2, 0, 1, 2, 3])
    graph = user_cooccurrence_graph(4, users, items, k=1, chunk_size=3).toarray()
    assert graph.tolist() == [[0, 2, 0, 0], [2, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]
    full = user_cooccurrence_graph(4, users, items, k=3).toarray()
    assert full.tolist() == [[0, 2, 1, 0], [2, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]


def test_graph_artifacts_are_found_by_content(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 30, 200), rng.integers(0, 20, 200)
    features = {"image": rng.normal(size=(20, 6)).astype(np.float32), "text": rng.normal(size=(20, 3)).astype(np.float32)}
    manifest = write_graph_artifacts(tmp_path, 30, 20, users, items, features, [3, 5], 4, {"toy.inter": "abc"})
    assert {g["file"] for g in manifest["graphs"]} == {"ui.npz", "knn-image-k3.npz", "knn-image-k5.npz",
                                                      "knn-text-k3.npz", "knn-text-k5.npz", "uu-k4.npz"}
    inputs = ModelInputs(30, 20, users, items, features, graph_cache_dir=tmp_path)
    expected_ui = normalized_adjacency(30, 20, users, items)
    assert (inputs.user_item_adjacency() != expected_ui).nnz == 0
    (tmp_path / "knn-text-k5.npz").unlink()  # proves the next read comes from the artifact, not a rebuild
    with pytest.raises(FileNotFoundError):
        inputs.knn_item_graph("text", 5)
    assert (inputs.knn_item_graph("image", 3) != knn_item_graph(features["image"], 3)).nnz == 0
    changed = ModelInputs(30, 20, users, items, {"image": features["image"] + 1}, graph_cache_dir=tmp_path)
    assert (changed.knn_item_graph("image", 3) != knn_item_graph(features["image"] + 1, 3)).nnz == 0
    other_train = ModelInputs(30, 20, users[:100], items[:100], graph_cache_dir=tmp_path)
    assert (other_train.user_item_adjacency() != normalized_adjacency(30, 20, users[:100], items[:100])).nnz == 0
    assert (inputs.user_user_graph(4) != user_cooccurrence_graph(30, users, items, 4)).nnz == 0
    (tmp_path / "uu-k4.npz").unlink()
    with pytest.raises(FileNotFoundError):  # read from the artifact, not recomputed
        inputs.user_user_graph(4)


def test_row_normalised_graphs_derive_from_the_symmetric_one() -> None:
    users, items = np.array([0, 0, 1, 2]), np.array([0, 1, 1, 0])
    symmetric = normalized_adjacency(3, 2, users, items)
    a = (symmetric.toarray() > 0).astype(float)
    assert np.allclose(row_normalized(symmetric).toarray(), a / a.sum(1, keepdims=True))
    with_loops = a + np.eye(5)
    assert np.allclose(row_normalized(symmetric, self_loops=True).toarray(), with_loops / with_loops.sum(1, keepdims=True))


def test_cosine_valued_knn_graph_is_mmrec_dense_construction() -> None:
    """LATTICE's / MGCN's original graph: top-k cosine values kept, then D^-1/2 S D^-1/2 by row sums."""
    features = np.random.default_rng(1).normal(size=(12, 4)).astype(np.float32)
    normed = features / np.linalg.norm(features, axis=1, keepdims=True)
    similarity = normed @ normed.T
    dense = np.zeros_like(similarity)
    for i, row in enumerate(similarity):
        keep = np.argsort(-row)[:3]
        dense[i, keep] = row[keep]
    inv = 1 / np.sqrt(dense.sum(1))
    got = cosine_valued(knn_item_graph(features, 3), features).toarray()
    assert np.allclose(got, inv[:, None] * dense * inv[None, :], atol=1e-6)
