"""Building blocks shared by several models: losses, regularisers, sparse propagation.

One implementation each, so that models differ only in what is genuinely theirs.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch


def bpr_loss(pos_scores: torch.Tensor, neg_scores: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Bayesian Personalised Ranking loss, −mean log(ε + σ(ŷ⁺ − ŷ⁻)).

    Rendle et al., UAI 2009; ε = 1e-10 as in MMRec's ``BPRLoss``.
    """
    return -torch.log(eps + torch.sigmoid(pos_scores - neg_scores)).mean()


def mmrec_embedding_penalty(*embeddings: torch.Tensor) -> torch.Tensor:
    """MMRec's ``EmbLoss``: Σ_k ‖E_k‖_F / batch size (Frobenius norms, NOT squared).

    This is the "L2 penalty" that MMRec's BPR and LightGCN multiply by ``reg_weight``; kept
    exactly so that MMRec's grids mean the same here.
    """
    total = torch.zeros((), dtype=embeddings[0].dtype, device=embeddings[0].device)
    for embedding in embeddings:
        total = total + torch.linalg.matrix_norm(embedding)
    return total / embeddings[-1].shape[0]


def sparse_tensor(matrix: sp.spmatrix) -> torch.Tensor:
    """A scipy sparse matrix as a float32 torch sparse CSR tensor (for ``torch.sparse.mm``)."""
    csr = sp.csr_matrix(matrix, dtype=np.float32)
    csr.sort_indices()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
        return torch.sparse_csr_tensor(
            torch.from_numpy(csr.indptr.astype(np.int64)), torch.from_numpy(csr.indices.astype(np.int64)),
            torch.from_numpy(csr.data), size=csr.shape, check_invariants=True,
        )


class _SymmetricSparseMatmul(torch.autograd.Function):
    """Y = Â X for a constant SYMMETRIC sparse Â, with the gradient ∂L/∂X = Âᵀ G = Â G.

    Autograd's generic sparse backward builds Âᵀ every call; using Âᵀ = Â directly makes a
    two-layer forward + backward on Baby's graph about 3× faster (13 ms vs 42 ms on 2 cores).
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, adjacency: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
        ctx.adjacency = adjacency
        return adjacency @ dense

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> tuple[None, torch.Tensor]:
        return None, ctx.adjacency @ grad


def symmetric_sparse_mm(adjacency: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
    """Â X for a constant symmetric sparse Â (e.g. D^{-1/2} A D^{-1/2} of an undirected graph)."""
    return _SymmetricSparseMatmul.apply(adjacency, dense)


def propagate_layers(adjacency: torch.Tensor, embeddings: torch.Tensor, n_layers: int) -> list[torch.Tensor]:
    """[X, ÂX, Â²X, …, Â^L X]: the layer outputs of linear propagation over a symmetric Â."""
    layers = [embeddings]
    for _ in range(n_layers):
        layers.append(symmetric_sparse_mm(adjacency, layers[-1]))
    return layers
