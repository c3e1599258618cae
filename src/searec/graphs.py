"""Graphs built from training interactions: the normalised user–item adjacency.

Later stages add item–item kNN graphs and the user–user co-occurrence graph here; models take
these matrices as inputs rather than building private copies.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


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
