"""Graphs models propagate over: the normalised user–item adjacency and item–item kNN graphs.

Models take these matrices as inputs rather than building private copies; the graph stage of
the pipeline (and the user–user co-occurrence graph) arrive with the feature/graph issue.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from searec.fileio import atomic_path


def normalized_adjacency(n_users: int, n_items: int, users: np.ndarray, items: np.ndarray) -> sp.csr_matrix:
    """Symmetrically normalised bipartite adjacency Â = D^{-1/2} A D^{-1/2}, shape (U+I) × (U+I).

    A = [[0, R], [Rᵀ, 0]] with R the binary users × items matrix of TRAINING interactions
    (duplicates count once); users occupy rows 0..U−1, items rows U..U+I−1. Nodes without any
    interaction keep an all-zero row. No self-loops (LightGCN, He et al., SIGIR 2020, eq. 7).
    """
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    n_nodes = n_users + n_items
    rows = np.concatenate([users, items + n_users])
    cols = np.concatenate([items + n_users, users])
    adjacency = sp.csr_matrix((np.ones(rows.size, dtype=np.float64), (rows, cols)), shape=(n_nodes, n_nodes))
    adjacency.data[:] = 1.0  # duplicate pairs were summed by the constructor; the graph is binary
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    inv_sqrt_degree = np.zeros_like(degree)
    nonzero = degree > 0
    inv_sqrt_degree[nonzero] = degree[nonzero] ** -0.5
    scaling = sp.diags(inv_sqrt_degree)
    return (scaling @ adjacency @ scaling).tocsr().astype(np.float32)


def knn_item_graph(features: np.ndarray, k: int, chunk_size: int = 1024) -> sp.csr_matrix:
    """Frozen item–item kNN graph of SEA / FREEDOM over raw item features.

    For each item i keep the k items of highest cosine similarity (i itself included), as a
    binary matrix S, then normalise every kept entry to 1/sqrt(deg(i))·1/sqrt(deg(j)) with deg
    the row sums (= k, so each entry is 1/k) — SEA.md, forward pass step 5. Similarities are
    computed for ``chunk_size`` rows at a time, so no dense items × items matrix is formed.
    """
    n_items = features.shape[0]
    if not 1 <= k <= n_items:
        raise ValueError(f"k must be in 1..{n_items} (the number of items), got {k}")
    import torch

    normed = torch.nn.functional.normalize(torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)), dim=1)
    neighbours = np.empty((n_items, k), dtype=np.int64)
    for start in range(0, n_items, chunk_size):
        similarity = normed[start:start + chunk_size] @ normed.T
        neighbours[start:start + chunk_size] = torch.topk(similarity, k, dim=1).indices.numpy()
    rows = np.repeat(np.arange(n_items), k)
    binary = sp.csr_matrix((np.ones(rows.size, dtype=np.float64), (rows, neighbours.ravel())), shape=(n_items, n_items))
    inv_sqrt_degree = 1.0 / np.sqrt(np.asarray(binary.sum(axis=1)).ravel())
    scaling = sp.diags(inv_sqrt_degree)
    return (scaling @ binary @ scaling).tocsr().astype(np.float32)


def features_digest(features: np.ndarray) -> str:
    """SHA-256 of a feature matrix's shape, dtype and bytes: the content key of derived graphs."""
    array = np.ascontiguousarray(features)
    digest = hashlib.sha256(f"{array.shape}|{array.dtype.str}|".encode())
    digest.update(array.view(np.uint8).reshape(-1))
    return digest.hexdigest()


def cached_knn_item_graph(features: np.ndarray, k: int, cache_dir: Path, chunk_size: int = 1024) -> sp.csr_matrix:
    """:func:`knn_item_graph`, built once per (feature content, k) and stored in ``cache_dir``.

    The file name carries the features' SHA-256, so a changed feature matrix can never meet a
    stale graph; the write is atomic, so an interrupted build leaves nothing behind.
    """
    path = Path(cache_dir) / f"knn-{features_digest(features)[:32]}-k{k}.npz"
    if path.exists():
        return sp.load_npz(path).tocsr()
    graph = knn_item_graph(features, k, chunk_size)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            sp.save_npz(handle, graph)
    return graph
