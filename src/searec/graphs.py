"""Graphs models propagate over: the normalised user–item adjacency, item–item kNN graphs, user–user co-occurrence.

``searec graphs DATASET`` writes them once per dataset and parameters to ``data/graphs/<dataset>/``
(``ui.npz``, ``knn-<modality>-k<k>.npz``, ``uu-k<k>.npz``, scipy sparse) with ``manifest.json``
naming each file's content key (the SHA-256 of the training interactions or of the feature
matrix). Models ask :class:`searec.models.ModelInputs` for a graph; it loads the artifact whose
key matches the data the model was given, and builds (and caches) the graph only when there is
none, so a changed feature file can never meet a stale graph.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from searec.fileio import atomic_path, write_json_atomic
from searec.runtime import split_run_facts

GRAPH_MANIFEST = "manifest.json"
log = logging.getLogger(__name__)


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


def row_normalized(graph: sp.spmatrix, self_loops: bool = False) -> sp.csr_matrix:
    """D^-1 (A + [I]) of the BINARY pattern of ``graph``: mean aggregation over neighbours (MMGCN; LATTICE with self loops).

    Derived from an artifact (e.g. Â's nonzeros are exactly A's edges) instead of rebuilding it.
    """
    binary = sp.csr_matrix(graph, dtype=np.float64, copy=True)
    binary.data[:] = 1.0
    if self_loops:
        binary = (binary + sp.eye(binary.shape[0], format="csr")).tocsr()
        binary.data[:] = 1.0
    degree = np.asarray(binary.sum(axis=1)).ravel()
    inverse = np.divide(1.0, degree, out=np.zeros_like(degree), where=degree > 0)
    return (sp.diags(inverse) @ binary).tocsr().astype(np.float32)


def cosine_valued(graph: sp.spmatrix, features: np.ndarray, chunk_size: int = 4096) -> sp.csr_matrix:
    """The pattern of a kNN graph with cos(f_i, f_j) as entries, then D^-1/2 S D^-1/2 by row sums.

    LATTICE and MGCN keep the similarities of the k neighbours (MMRec's ``build_knn_neighbourhood``
    + symmetric Laplacian) where SEA and FREEDOM binarise them; the neighbours themselves are
    those of :func:`knn_item_graph`, so the pattern comes from the same artifact.
    """
    pattern = sp.coo_matrix(graph)
    normed = np.asarray(features, dtype=np.float32)
    normed = normed / np.maximum(np.linalg.norm(normed, axis=1, keepdims=True), 1e-12)
    values = np.empty(pattern.nnz, dtype=np.float64)
    for start in range(0, pattern.nnz, chunk_size):  # nnz × d gathered at once would be GBs at Baby's 4096-d
        rows, cols = pattern.row[start:start + chunk_size], pattern.col[start:start + chunk_size]
        values[start:start + chunk_size] = np.einsum("nd,nd->n", normed[rows], normed[cols])
    similarity = sp.csr_matrix((values, (pattern.row, pattern.col)), shape=pattern.shape)
    degree = np.asarray(similarity.sum(axis=1)).ravel()
    inv_sqrt = np.divide(1.0, np.sqrt(np.abs(degree)), out=np.zeros_like(degree), where=degree != 0)
    return (sp.diags(inv_sqrt) @ similarity @ sp.diags(inv_sqrt)).tocsr().astype(np.float32)


def features_digest(features: np.ndarray) -> str:
    """SHA-256 of a feature matrix's shape, dtype and bytes: the content key of derived graphs."""
    array = np.ascontiguousarray(features)
    digest = hashlib.sha256(f"{array.shape}|{array.dtype.str}|".encode())
    digest.update(array.view(np.uint8).reshape(-1))
    return digest.hexdigest()


def interactions_digest(n_users: int, n_items: int, users: np.ndarray, items: np.ndarray) -> str:
    """SHA-256 of a set of (user, item) pairs and the index ranges: the content key of the user–item graph."""
    pairs = np.unique(np.stack([np.asarray(users, np.int64), np.asarray(items, np.int64)], axis=1), axis=0)
    digest = hashlib.sha256(f"{n_users}|{n_items}|".encode())
    digest.update(np.ascontiguousarray(pairs).view(np.uint8).reshape(-1))
    return digest.hexdigest()


def user_cooccurrence_graph(n_users: int, users: np.ndarray, items: np.ndarray, k: int,
                            chunk_size: int = 2048) -> sp.csr_matrix:
    """Each user's ``k`` users with the most co-interacted items (training data), weighted by that count.

    C = R Rᵀ with R the binary users × items matrix, the diagonal dropped; row u keeps its k
    largest entries (ties broken towards lower user ids; zero counts never kept). This is the
    user–user graph of DualGNN (Wang et al., TMM 2021) and DRAGON (Zhou et al., 2023) before
    their own normalisation. Computed ``chunk_size`` users at a time: no dense users × users matrix.
    """
    import torch

    interactions = sp.csr_matrix((np.ones(len(users), np.float32), (users, items)),
                                 shape=(n_users, int(np.max(items)) + 1 if len(items) else 0))
    interactions.data[:] = 1.0
    transposed = interactions.T.tocsr()
    rows, cols, vals = [], [], []
    for start in range(0, n_users, chunk_size):
        stop = min(start + chunk_size, n_users)
        counts = torch.from_numpy((interactions[start:stop] @ transposed).toarray())
        counts[torch.arange(stop - start), torch.arange(start, stop)] = 0.0  # no self loops
        top = torch.topk(counts, min(k, n_users), dim=1, sorted=True)
        keep = top.values > 0
        rows.append(np.repeat(np.arange(start, stop), keep.sum(dim=1).numpy()))
        cols.append(top.indices[keep].numpy())
        vals.append(top.values[keep].numpy())
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(n_users, n_users), dtype=np.float32)


def _save_npz(path: Path, matrix: sp.spmatrix) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            sp.save_npz(handle, matrix.tocsr())


def find_graph_artifact(folder: Path | None, kind: str, key: str, k: int | None = None) -> sp.csr_matrix | None:
    """The graph of ``kind`` whose content key matches, from a graph folder's manifest; None if there is none."""
    if folder is None or not (Path(folder) / GRAPH_MANIFEST).exists():
        return None
    manifest = json.loads((Path(folder) / GRAPH_MANIFEST).read_text(encoding="utf-8"))
    for entry in manifest.get("graphs", []):
        if entry["kind"] == kind and entry["key"] == key and entry.get("k") == k:
            log.info("graph %s read from %s", entry["file"], folder)
            return sp.load_npz(Path(folder) / entry["file"]).tocsr()
    return None


def cached_knn_item_graph(features: np.ndarray, k: int, cache_dir: Path, chunk_size: int = 1024) -> sp.csr_matrix:
    """:func:`knn_item_graph`, read from a graph artifact or cache when one matches (feature content, k).

    ``cache_dir`` may be a ``searec graphs`` output folder (its manifest is searched) or a plain
    cache; a graph built here is stored under a name carrying the features' SHA-256, so a
    changed feature matrix can never meet a stale graph. Writes are atomic. A ``searec graphs``
    folder is another stage's tracked output: it is read, never written (a graph it lacks is
    built in memory), and a cache that cannot be written (read-only, full) is only read.
    """
    digest = features_digest(features)
    artifact = find_graph_artifact(cache_dir, "knn", digest, k)
    if artifact is not None:
        return artifact
    path = Path(cache_dir) / f"knn-{digest[:32]}-k{k}.npz"
    if path.exists():
        return sp.load_npz(path).tocsr()
    graph = knn_item_graph(features, k, chunk_size)
    if (Path(cache_dir) / GRAPH_MANIFEST).exists():
        log.info("kNN graph (k=%d) built in memory: %s is a `searec graphs` output (add k to graphs.knn_k to "
                 "make it there once)", k, cache_dir)
        return graph
    try:
        _save_npz(path, graph)
    except OSError as error:
        log.warning("kNN graph (k=%d) not cached: cannot write %s (%s)", k, path, error.strerror or error)
    return graph


def write_graph_artifacts(out: Path, n_users: int, n_items: int, users: np.ndarray, items: np.ndarray,
                          features: dict[str, np.ndarray], knn_ks: list[int], user_user_k: int,
                          inputs: dict[str, str]) -> dict[str, Any]:
    """Every graph of a dataset into ``out`` with a manifest (written last) keyed by content."""
    out.mkdir(parents=True, exist_ok=True)
    (out / GRAPH_MANIFEST).unlink(missing_ok=True)
    entries = []

    def save(name: str, matrix: sp.spmatrix, kind: str, key: str, k: int | None, **extra: Any) -> None:
        _save_npz(out / name, matrix)
        entries.append({"file": name, "kind": kind, "key": key, "k": k, "shape": list(matrix.shape),
                        "nnz": int(matrix.nnz), **extra})

    train_key = interactions_digest(n_users, n_items, users, items)
    save("ui.npz", normalized_adjacency(n_users, n_items, users, items), "ui", train_key, None,
         normalization="D^-1/2 A D^-1/2, training interactions")
    for modality, matrix in sorted(features.items()):
        for k in knn_ks:
            save(f"knn-{modality}-k{k}.npz", knn_item_graph(matrix, k), "knn", features_digest(matrix), k,
                 modality=modality, normalization="top-k cosine incl. self, entries 1/k")
    save(f"uu-k{user_user_k}.npz", user_cooccurrence_graph(n_users, users, items, user_user_k), "uu", train_key,
         user_user_k, normalization="none: co-interaction counts")
    manifest = {"graphs": entries, "inputs": inputs}
    write_json_atomic(out / GRAPH_MANIFEST, split_run_facts(out, manifest))
    return manifest
