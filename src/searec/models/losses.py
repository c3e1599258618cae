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
"""Logits an InfoNCE holds at once on an accelerator (8 MiB of fp32): its rows are taken in chunks of
this many logits, so that the N × M logits are never all in memory, in few kernel launches."""

CPU_LOGITS_CHUNK_ELEMENTS = 1 << 19
"""The same on the CPU (2 MiB), near a core's L2 cache, so that the passes over a chunk (the matmul
that writes it, exp, the two matmuls that read it) run from cache. One thread, Baby's 7,050² logits
of 32-d rows, forward and backward: 241 ms in 8 MiB chunks, 205 / 186 / 177 / 194 ms in 0.5 / 1 /
2 / 4 MiB ones (an AMD EPYC host with 1 MiB of L2 a core)."""


LOG2_E = float(np.log2(np.e))
"""log₂ e: e^x = 2^{x log₂ e}."""


UNSHIFTED_LOGIT_BOUND = 40.0
"""The largest |logit| for which log Σ_j e^{z_j} is taken without subtracting the row maximum: e^{±40}
(and sums of up to 10^21 such terms) are normal fp32 numbers, so nothing overflows or loses bits."""


class _InfoNCE(torch.autograd.Function):
    """w · Σ_n ℓ_n, the InfoNCE losses ℓ_n = logsumexp_j(z_nj) − z_{n,t_n} of the logits z = A Cᵀ summed with
    one weight w (1/N for the mean), and its gradients in the same pass: ∂/∂z_nj = w (softmax(z_n)_j −
    [j = t_n]), so ∂A = G C and ∂C = Gᵀ A. The logits are taken in cache-sized row chunks and never
    stored; because every row has the same weight, each chunk's share of both gradients is known in
    forward, so backward only scales them by the incoming gradient and no logit is computed twice.

    Where every |z_nj| ≤ ‖a_n‖‖c_j‖ (Cauchy–Schwarz) is at most :data:`UNSHIFTED_LOGIT_BOUND` (InfoNCE's
    normalised rows at τ ≥ 0.025: |z| ≤ 1/τ), e^{z} is summed as it is, without the row maximum that
    ``torch.logsumexp`` first finds and subtracts, and the row scale w/S_n of G = diag(w/S)(E − diag(S) Y)
    (E = e^{z}, S its row sums, Y the one-hot targets) goes onto the small factors, not the chunk: one
    pass over a chunk's logits besides the matmuls that make and read them (the logits are the memory
    traffic of SEA's all-items InfoNCE). That pass is ``exp2`` of the base-2 logits z log₂e (log₂e is
    folded into the N × h anchors, not applied to the N × M logits): e^z = 2^{z log₂e} exactly, and
    torch's CPU ``exp2`` costs about a third of its ``exp`` (one thread, 86 chunks of 78 × 6,710
    logits: 14.5 against 42 ms; TikTok's 6,710² InfoNCE forward and backward 171 → 142 ms, Baby's
    7,050² 188 → 156 ms, best of 10 alternating runs). Larger logits take the max-subtracted softmax.
    """

    @staticmethod
    def forward(ctx: Any, anchors: torch.Tensor, candidates: torch.Tensor, targets: torch.Tensor, weight: float,
                with_gradients: bool) -> torch.Tensor:
        chunk_elements = CPU_LOGITS_CHUNK_ELEMENTS if anchors.device.type == "cpu" else LOGITS_CHUNK_ELEMENTS
        rows = max(1, chunk_elements // max(1, candidates.shape[0]))
        bound = float(torch.linalg.vector_norm(anchors, dim=1).max() * torch.linalg.vector_norm(candidates, dim=1).max())
        unshifted = bound <= UNSHIFTED_LOGIT_BOUND
        want_anchors, want_candidates = (need and with_gradients for need in ctx.needs_input_grad[:2])
        grad_anchors = torch.empty_like(anchors) if want_anchors else None
        # ∂Cᵀ accumulated as Cᵀ's rows: each chunk's G is read in its own row order, not transposed
        grad_candidates = candidates.new_zeros(candidates.shape[1], candidates.shape[0]) if want_candidates else None
        total = (anchors * candidates[targets]).sum().neg()  # −Σ_n z_{n,t_n}
        # unshifted: the logits in base 2, z log₂e, so that e^z is exp2's (an N × h scaling, not I × I)
        logit_anchors = anchors * LOG2_E if unshifted else anchors
        for start in range(0, anchors.shape[0], rows):
            chunk = slice(start, start + rows)
            logits = logit_anchors[chunk] @ candidates.T
            row_index = torch.arange(logits.shape[0], device=logits.device)
            if unshifted:
                exp_logits = logits.exp2_()  # e^z
                sums = exp_logits.sum(dim=1)
                total += sums.log().sum()
                if grad_anchors is None and grad_candidates is None:
                    continue
                exp_logits[row_index, targets[chunk]] -= sums  # E − diag(S) Y: index_put, deterministic everywhere
                grad_logits = exp_logits
                row_scale: torch.Tensor | float = (weight / sums).unsqueeze(1)
            else:
                log_sum_exp = torch.logsumexp(logits, dim=1)
                total += log_sum_exp.sum()
                if grad_anchors is None and grad_candidates is None:
                    continue
                grad_logits = logits.sub_(log_sum_exp.unsqueeze(1)).exp_()  # softmax
                grad_logits[row_index, targets[chunk]] -= 1
                row_scale = weight  # the same for every row: a Python number, no tensor per chunk
            if grad_anchors is not None:
                torch.mm(grad_logits, candidates, out=grad_anchors[chunk]).mul_(row_scale)
            if grad_candidates is not None:
                grad_candidates.addmm_((anchors[chunk] * row_scale).T, grad_logits)
        ctx.gradients = (grad_anchors, None if grad_candidates is None else grad_candidates.T.contiguous())
        return total * weight

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        grad_anchors, grad_candidates = ctx.gradients
        return (None if grad_anchors is None else grad_anchors * grad_output,
                None if grad_candidates is None else grad_candidates * grad_output, None, None, None)


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
    :class:`_InfoNCE` computes them in cache-sized row chunks, with the gradients in the same pass,
    and never stores them. On one CPU thread, forward and backward, 7,050² logits of 32-d rows took
    560 ms for −log_softmax(logits) picked with ``gather`` (whose backward also fills an N × M zero
    gradient), 251 ms chunked with the logits recomputed in backward and the row maximum subtracted,
    then about 60 % of that (192–215 against 327–397 ms side by side on a slower day), and since the
    exponentials are ``exp2``'s another sixth less (188 → 156 ms, best of 10 alternating runs);
    2,048² in-batch logits of 64-d rows 46, 32, then about 75 % of that. Not
    ``cross_entropy``: CUDA's NLL loss has no deterministic kernel (torch.use_deterministic_algorithms
    lists ``torch.nn.NLLLoss``); every kernel here is deterministic on every device.
    """
    anchors = torch.nn.functional.normalize(anchors, dim=1) / tau  # N × d scaled, not the N × M logits
    candidates = torch.nn.functional.normalize(candidates, dim=1)
    if targets is None:
        targets = torch.arange(anchors.shape[0], device=anchors.device)
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    weight = 1.0 / anchors.shape[0] if reduction == "mean" else 1.0
    return _InfoNCE.apply(anchors, candidates, targets, weight, torch.is_grad_enabled())


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

        Every N-long array is held feature-major (features × N), and x and y are read as x.T and y.T:
        pass them feature-major (``x = xT.T`` for a contiguous ``xT``, as SEA's inner loop does) and no
        copy is made. In that layout every product has the long N axis as its contiguous inner
        dimension: on one thread at Baby's 14,100 × 32 rows MKL took 0.64 ms for the N × 32 by N × 8
        weight gradient in row-major form and 0.12 ms in this one, 0.47 against 0.12 ms for the
        hidden layer's gradient, which is also written straight into the rows of one buffer instead of
        being concatenated; the ReLU mask is applied with ``threshold_backward``, the kernel of ReLU's
        own backward (0.03 ms against 0.27 for multiplying by a boolean mask). A step went from
        6.5–7.2 to 3.7–3.9 ms (benchmarks/sea_speed.py's CLUB phase shows it per batch). Then a third
        of the step was ``torch.tanh`` and ``torch.exp``, whose CPU kernels cost 1.13 and 0.37 ms on
        32 × 14,100 numbers against 0.18 ms for ``sigmoid`` and 0.13 ms for ``exp2`` (0.04 ms for a
        multiply): ℓ and e^{−ℓ} are now taken through s = σ(2·pre) and exp2, exact identities that
        move the gradients by ~1e-7 relative (ℓ = 2s − 1 to ~1e-7 absolute, all the loss needs);
        3.4–3.8 → 2.3–2.6 ms a step. The last Linears' weight gradients (y × h, summed over the N
        rows) are taken as the transpose of the h × y product: one thread, 13,420 rows, 127 against
        210 µs each. The sums run in a different order than in the row-major form, so results agree
        with it to rounding (≈ 2e-6 relative), not bitwise.
        """
        first_mean, last_mean = self.mean[0], self.mean[2]
        first_log_variance, last_log_variance = self.log_variance[0], self.log_variance[2]
        width = first_mean.out_features
        x_t, y_t = x.T, y.T
        # Both heads' first Linear in one matmul: hidden = [h_μ; h_ℓ] (2h × N).
        hidden = torch.addmm(torch.cat([first_mean.bias, first_log_variance.bias]).unsqueeze(1),
                             torch.cat([first_mean.weight, first_log_variance.weight]), x_t).relu_()
        hidden_mean, hidden_log_variance = hidden[:width], hidden[width:]
        diff = torch.addmm(last_mean.bias.unsqueeze(1), last_mean.weight, hidden_mean).sub_(y_t)  # d = μ − y
        # ℓ = tanh(pre) through s = σ(2 pre): ℓ = 2s − 1, tanh' = 1 − ℓ² = 4s(1 − s), e^{−ℓ} = 2^{log₂e (1 − 2s)}
        # (the factor 2 inside σ is the addmm's alpha and beta).
        s = torch.addmm(last_log_variance.bias.unsqueeze(1), last_log_variance.weight, hidden_log_variance,
                        beta=2, alpha=2).sigmoid_()
        scaled = torch.rsub(s, LOG2_E, alpha=2 * LOG2_E).exp2_().mul_(diff)  # d·p, p = e^{−ℓ}; rsub: log₂e − 2 log₂e·s
        weighted_squares = diff.mul_(scaled)  # d²p (d is not needed after this)
        c = weight / (2 * x.shape[0])
        value = ((s.numel() - 2 * s.sum()) - weighted_squares.sum()) * c if with_value else None  # Σ −ℓ − d²p
        quarter_slope = torch.addcmul(s, s, s, value=-1)  # s(1 − s) = tanh'/4
        # ∂/∂pre = c (1 − d²p)(1 − ℓ²) = 4c (1 − d²p) s(1 − s) and ∂/∂μ = 2c·d·p; 4c and 2c go onto the small results.
        grad_pre = torch.addcmul(quarter_slope, weighted_squares, quarter_slope, value=-1)
        grad_hidden = torch.empty_like(hidden)
        torch.mm(last_mean.weight.T * (2 * c), scaled, out=grad_hidden[:width])
        torch.mm(last_log_variance.weight.T * (4 * c), grad_pre, out=grad_hidden[width:])
        grad_hidden = torch.ops.aten.threshold_backward(grad_hidden, hidden, 0)  # ReLU's backward
        grad_first_weight = grad_hidden @ x
        grad_first_bias = grad_hidden.sum(1)
        # the last Linears' weight gradients (y × h) as (h Gᵀ)ᵀ: MKL's h × y product over N rows is the faster
        gradients = [grad_first_weight[:width], grad_first_bias[:width],
                     (hidden_mean @ scaled.T).mul_(2 * c).T.contiguous(), scaled.sum(1).mul_(2 * c),
                     grad_first_weight[width:], grad_first_bias[width:],
                     (hidden_log_variance @ grad_pre.T).mul_(4 * c).T.contiguous(), grad_pre.sum(1).mul_(4 * c)]
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
