"""Loss terms shared by several models: BPR, embedding penalties, InfoNCE, CLUB's variational net.

One implementation each, so that models differ only in what is genuinely theirs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def bpr_loss(pos_scores: torch.Tensor, neg_scores: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Bayesian Personalised Ranking loss, −mean log(ε + σ(ŷ⁺ − ŷ⁻)).

    Rendle et al., UAI 2009; ε = 1e-10 as in MMRec's ``BPRLoss``.
    """
    return -torch.log(eps + torch.sigmoid(pos_scores - neg_scores)).mean()


def pairwise_bpr(user_e: torch.Tensor, pos_e: torch.Tensor, neg_e: torch.Tensor, log_base: float = np.e) -> torch.Tensor:
    """BPR on embeddings, −mean log_b σ(⟨u, i⁺⟩ − ⟨u, i⁻⟩), in the numerically safe log-sigmoid form.

    ``log_base`` 2 is the variant of DualGNN, DRAGON and SEA's released code (``torch.log2``).
    """
    margin = (user_e * pos_e).sum(dim=1) - (user_e * neg_e).sum(dim=1)
    return -torch.nn.functional.logsigmoid(margin).mean() / float(np.log(log_base))


def half_squared_penalty(*embeddings: torch.Tensor) -> torch.Tensor:
    """Σ_k ½‖E_k‖²_F / batch size: the L2 regulariser of LATTICE, MGCN and LGMRec (squared, unlike EmbLoss)."""
    total = sum(embedding.square().sum() for embedding in embeddings) / 2
    return total / embeddings[0].shape[0]


def node_embedding_penalty(nodes: torch.Tensor, n_users: int, users: torch.Tensor, pos_items: torch.Tensor,
                           neg_items: torch.Tensor) -> torch.Tensor:
    """mean over the batch of E_u² + E_i⁺² + E_i⁻² for a joint [users; items] ID table (MMGCN's and GRCN's reg)."""
    return (nodes[users].square() + nodes[n_users + pos_items].square() + nodes[n_users + neg_items].square()).mean()


def mmrec_embedding_penalty(*embeddings: torch.Tensor) -> torch.Tensor:
    """MMRec's ``EmbLoss``: Σ_k ‖E_k‖_F / batch size (Frobenius norms, NOT squared).

    This is the "L2 penalty" that MMRec's BPR and LightGCN multiply by ``reg_weight``; kept
    exactly so that MMRec's grids mean the same here.
    """
    total = torch.zeros((), dtype=embeddings[0].dtype, device=embeddings[0].device)
    for embedding in embeddings:
        total = total + torch.linalg.matrix_norm(embedding)
    return total / embeddings[-1].shape[0]


LOGITS_CHUNK_ELEMENTS = 1 << 21
"""Logits an InfoNCE holds at once (8 MiB of fp32): its rows are taken in chunks of this many
logits, so that the N × M logits are never all in memory and each chunk stays in cache."""


class _InfoNCERows(torch.autograd.Function):
    """Per-row InfoNCE losses ℓ_n = logsumexp_j(z_nj) − z_{n,t_n} of the logits z = A Cᵀ, computed in row
    chunks and never stored: forward keeps only each row's log-sum-exp; backward recomputes a chunk's
    logits and takes ∂ℓ_n/∂z_nj = softmax(z_n)_j − [j = t_n], so ∂A = G C and ∂C = Gᵀ A."""

    @staticmethod
    def forward(ctx: Any, anchors: torch.Tensor, candidates: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        rows = max(1, LOGITS_CHUNK_ELEMENTS // max(1, candidates.shape[0]))
        losses = anchors.new_empty(anchors.shape[0])
        log_sum_exp = anchors.new_empty(anchors.shape[0])
        for start in range(0, anchors.shape[0], rows):
            chunk = slice(start, start + rows)
            logits = anchors[chunk] @ candidates.T
            torch.logsumexp(logits, dim=1, out=log_sum_exp[chunk])
            torch.sub(log_sum_exp[chunk], logits.gather(1, targets[chunk].unsqueeze(1)).squeeze(1), out=losses[chunk])
        ctx.save_for_backward(anchors, candidates, targets, log_sum_exp)
        ctx.rows = rows
        return losses

    @staticmethod
    def backward(ctx: Any, grad_losses: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        anchors, candidates, targets, log_sum_exp = ctx.saved_tensors
        want_anchors, want_candidates = ctx.needs_input_grad[:2]
        grad_anchors = torch.empty_like(anchors) if want_anchors else None
        grad_candidates = torch.zeros_like(candidates) if want_candidates else None
        for start in range(0, anchors.shape[0], ctx.rows):
            chunk = slice(start, start + ctx.rows)
            grad_logits = (anchors[chunk] @ candidates.T).sub_(log_sum_exp[chunk].unsqueeze(1)).exp_()  # softmax
            rows = torch.arange(grad_logits.shape[0], device=grad_logits.device)
            grad_logits[rows, targets[chunk]] -= 1  # one element a row: index_put, deterministic on every device
            grad_logits.mul_(grad_losses[chunk].unsqueeze(1))
            if grad_anchors is not None:
                torch.mm(grad_logits, candidates, out=grad_anchors[chunk])
            if grad_candidates is not None:
                grad_candidates.addmm_(grad_logits.T, anchors[chunk])
        return grad_anchors, grad_candidates, None


def info_nce(anchors: torch.Tensor, candidates: torch.Tensor, tau: float, targets: torch.Tensor | None = None,
             reduction: str = "mean") -> torch.Tensor:
    """One-directional InfoNCE: row n of ``anchors`` must pick row ``targets[n]`` of ``candidates``.

    L = −mean_n log softmax_j(⟨a_n, c_j⟩ / τ)_{t_n} with a, c L2-normalised; ``targets`` defaults
    to n (paired rows, the others in the batch as negatives). SEA's "Solosimloss" (He et al.,
    arXiv 2406.08270) with text anchors against all image items; MGCN's and SLMRec's in-batch
    contrast; LGMRec's against all users or items (``targets`` = the batch's ids, ``reduction``
    "sum" as MMRec's). A lower bound on the mutual information of the two views (Oord et al.,
    2018): I ≥ log N − L.

    The N × M logits are the cost (SEA's all-items Solosim at Baby's 7,050 items: 50 M of them):
    :class:`_InfoNCERows` computes them in cache-sized row chunks, forward and (recomputed) backward,
    and never stores them; on one CPU thread, forward and backward, 7,050² logits of 32-d rows take
    251 ms instead of 560 ms for −log_softmax(logits) picked with ``gather`` (whose backward also
    fills an N × M zero gradient), and 2,048² in-batch logits of 64-d rows 32 ms instead of 46. Not
    ``cross_entropy``: CUDA's NLL loss has no deterministic kernel (torch.use_deterministic_algorithms
    lists ``torch.nn.NLLLoss``); every kernel here is deterministic on every device.
    """
    anchors = torch.nn.functional.normalize(anchors, dim=1) / tau  # N × d scaled, not the N × M logits
    candidates = torch.nn.functional.normalize(candidates, dim=1)
    if targets is None:
        targets = torch.arange(anchors.shape[0], device=anchors.device)
    losses = _InfoNCERows.apply(anchors, candidates, targets)
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")


class GaussianVariationalNet(torch.nn.Module):
    """q(y | x) = N(μ(x), diag exp ℓ(x)), the variational net of CLUB (Cheng et al., ICML 2020).

    μ = Linear(x → h)–ReLU–Linear(h → y); ℓ = Linear(x → h)–ReLU–Linear(h → y)–Tanh, as in
    SEA's released code (x = y = 32, h = 8). It is trained by maximum likelihood on DETACHED
    samples with its own optimiser; the main loss never updates it.
    """

    def __init__(self, x_dim: int, y_dim: int, hidden: int) -> None:
        super().__init__()
        self.mean = torch.nn.Sequential(torch.nn.Linear(x_dim, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, y_dim))
        self.log_variance = torch.nn.Sequential(
            torch.nn.Linear(x_dim, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, y_dim), torch.nn.Tanh())

    def log_likelihood(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """mean_n Σ_d [−(μ_d(x_n) − y_nd)² / (2 e^{ℓ_d(x_n)}) − ℓ_d(x_n) / 2]: what its training maximises."""
        mu, log_var = self.mean(x), self.log_variance(x)
        # Written with e^{-ℓ} and one halving at the end: fewer passes over the N × y arrays than the
        # textbook form (the 50 inner steps a batch make this the hot loop of CLUB training).
        return -((mu - y).square() * torch.exp(-log_var) + log_var).sum(dim=1).mean() / 2

    @torch.no_grad()
    def fit_gradients(self, x: torch.Tensor, y: torch.Tensor, weight: float, with_value: bool = True
                      ) -> tuple[list[torch.Tensor], torch.Tensor | None]:
        """The gradients of −weight · log_likelihood(x, y) with respect to ``parameters()`` (in their order),
        and weight · log_likelihood(x, y) at the current parameters (None unless ``with_value``: the
        inner loop logs only its last step's), without an autograd graph.

        With d = μ − y, p = e^{−ℓ}, c = weight / (2N) and the loss c Σ_n Σ_d (d² p + ℓ):
        ∂/∂μ = 2c·d·p and ∂/∂ℓ = c(1 − d²p), through tanh (1 − ℓ²), each head's last Linear and the ReLU
        back to its first Linear. These are the steps autograd would take (tests/models/test_losses.py
        checks them against it); written out, one inner step of SEA's CLUB fit is about 25 small kernels
        instead of a graph's worth of them: on the sample that fit was half of every SEA epoch, most of it
        autograd's and the optimiser's per-call overhead around 476 × 32 arrays.
        """
        first_mean, last_mean = self.mean[0], self.mean[2]
        first_log_variance, last_log_variance = self.log_variance[0], self.log_variance[2]
        hidden_mean = torch.addmm(first_mean.bias, x, first_mean.weight.T).relu_()
        mu = torch.addmm(last_mean.bias, hidden_mean, last_mean.weight.T)
        hidden_log_variance = torch.addmm(first_log_variance.bias, x, first_log_variance.weight.T).relu_()
        log_var = torch.addmm(last_log_variance.bias, hidden_log_variance, last_log_variance.weight.T).tanh_()
        diff = mu - y
        scaled = torch.exp(-log_var).mul_(diff)  # d·p
        weighted_squares = diff * scaled  # d²p
        c = weight / (2 * x.shape[0])
        value = -(weighted_squares.sum() + log_var.sum()) * c if with_value else None
        grad_log_var = torch.sub(1, weighted_squares).mul_(1 - log_var.square()).mul_(c)  # through tanh
        grad_mu = scaled.mul_(2 * c)
        grad_hidden_mean = (grad_mu @ last_mean.weight).mul_(hidden_mean > 0)
        grad_hidden_log_variance = (grad_log_var @ last_log_variance.weight).mul_(hidden_log_variance > 0)
        gradients = [grad_hidden_mean.T @ x, grad_hidden_mean.sum(0), grad_mu.T @ hidden_mean, grad_mu.sum(0),
                     grad_hidden_log_variance.T @ x, grad_hidden_log_variance.sum(0),
                     grad_log_var.T @ hidden_log_variance, grad_log_var.sum(0)]
        return gradients, value

    def club(self, x: torch.Tensor, y: torch.Tensor, permutation: torch.Tensor) -> torch.Tensor:
        """The sampled CLUB upper bound on I(x; y): mean_n [log q(y_n|x_n) − log q(y_π(n)|x_n)].

        The log-variance terms cancel in the difference, leaving
        Σ_d [(μ_d − y_π(n),d)² − (μ_d − y_n,d)²] / (2 e^{ℓ_d}).
        """
        mu, log_var = self.mean(x), self.log_variance(x)
        half_precision = torch.exp(-log_var) / 2
        positive = -((mu - y).square() * half_precision).sum(dim=1)
        negative = -((mu - y[permutation]).square() * half_precision).sum(dim=1)
        return (positive - negative).mean()
