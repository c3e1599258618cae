"""Full-ranking evaluation: Recall, NDCG, Precision and MAP at K over ALL items.

Definitions (PROTOCOL.md; identical to MMRec's ``utils/metrics.py``), for a user u with
held-out set T_u, ranked list of non-training items, and hit indicator rel_r at rank r:

* Recall@K    = Σ_{r≤K} rel_r / |T_u|                 (denominator |T_u|, not min(K, |T_u|))
* Precision@K = Σ_{r≤K} rel_r / K
* NDCG@K      = Σ_{r≤K} rel_r / log2(r+1)  ÷  Σ_{r≤min(|T_u|,K)} 1 / log2(r+1)
* MAP@K       = Σ_{r≤K} Precision@r · rel_r / min(|T_u|, K)

Metrics are averaged over users with at least one held-out item and at least one training
item. Training items are masked (score −∞) before ``torch.topk``; when testing, validation
items stay unmasked, as in MMRec. Everything past scoring is batched tensor arithmetic: no
Python loop over users or items.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from searec.data.mmrec import InteractionDataset
from searec.errors import NonFiniteScoresError
from searec.sections import section_defaults

DEFAULT_TOPK: tuple[int, ...] = tuple(section_defaults("training")["topk"])
METRIC_NAMES: tuple[str, ...] = ("recall", "ndcg", "precision", "map")

ScoreFunction = Callable[[torch.Tensor], torch.Tensor]
"""Maps a 1-D tensor of user indices to a FRESH ``[len(users), n_items]`` score tensor.

The evaluator masks training items in place, so the tensor must not alias model state.
"""


def metric_key(metric: str, k: int) -> str:
    return f"{metric}@{k}"


def ranking_metrics(hits: torch.Tensor, n_held_out: torch.Tensor, topk: Sequence[int]) -> dict[str, torch.Tensor]:
    """Per-user metrics from a hit matrix.

    Args:
        hits: ``[B, max(topk)]``, 1 where the item at rank r (0-based column) is held out.
        n_held_out: ``[B]``, |T_u| ≥ 1 for every row.
        topk: cut-offs K, each ≤ ``hits.shape[1]``.

    Returns:
        ``"recall@K"`` etc. -> float64 tensor ``[B]``.
    """
    hits = hits.to(torch.float64)
    n_held_out = n_held_out.to(torch.float64)
    max_k = hits.shape[1]
    ranks = torch.arange(1, max_k + 1, dtype=torch.float64, device=hits.device)
    discounts = 1.0 / torch.log2(ranks + 1.0)
    cum_hits = hits.cumsum(dim=1)
    cum_dcg = (hits * discounts).cumsum(dim=1)
    cum_ideal = discounts.cumsum(dim=0)
    cum_precision_at_hits = (cum_hits / ranks * hits).cumsum(dim=1)
    out: dict[str, torch.Tensor] = {}
    for k in topk:
        if not 1 <= k <= max_k:
            raise ValueError(f"cut-off K={k} outside 1..{max_k}")
        hits_at_k = cum_hits[:, k - 1]
        relevant_at_k = torch.clamp(n_held_out, max=k)
        out[metric_key("recall", k)] = hits_at_k / n_held_out
        out[metric_key("ndcg", k)] = cum_dcg[:, k - 1] / cum_ideal[relevant_at_k.long() - 1]
        out[metric_key("precision", k)] = hits_at_k / k
        out[metric_key("map", k)] = cum_precision_at_hits[:, k - 1] / relevant_at_k
    return out


def _check_finite(scores: torch.Tensor, users: torch.Tensor, masked_items: bool = False) -> None:
    """Raise if any score is NaN or +inf, or −inf unless ``masked_items`` (−inf: "never rank this item").

    A row sum is NaN or infinite whenever the row holds a non-finite value, and costs a twentieth
    of ``torch.isfinite`` over the matrix; only a suspicious row sum (possibly mere overflow, or a
    masked item) is checked element by element.
    """
    row_sums = scores.sum(dim=1)
    if bool(torch.isfinite(row_sums).all()):
        return
    bad = torch.isnan(scores) | torch.isposinf(scores)
    if not masked_items:
        bad |= torch.isneginf(scores)
    if bool(bad.any()):
        row, item = (int(x) for x in torch.nonzero(bad)[0])
        raise NonFiniteScoresError(f"the score of user {int(users[row])} for item {item} is "
                                   f"{float(scores[row, item])}; scores must be finite"
                                   + (" (or -inf for an item never to rank)" if masked_items else ""))


@dataclass
class RankingEvaluation:
    """Per-user metric values of one evaluation, plus their means."""

    users: np.ndarray
    per_user: dict[str, np.ndarray]
    cold_users_dropped: int

    def means(self) -> dict[str, float]:
        return {key: float(values.mean()) if values.size else float("nan") for key, values in self.per_user.items()}


@dataclass(frozen=True)
class _UserBatch:
    users: torch.Tensor
    mask_rows: torch.Tensor
    mask_cols: torch.Tensor
    held_out_keys: torch.Tensor  # sorted row_in_batch * n_items + item of the held-out pairs
    n_held_out: torch.Tensor


def _batch_coordinates(matrix: sp.csr_matrix, users: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(row-in-batch, column, row counts) of the nonzeros of ``matrix[users]``."""
    sub = matrix[users]
    counts = np.diff(sub.indptr)
    rows = np.repeat(np.arange(users.size), counts)
    return torch.from_numpy(rows.astype(np.int64)), torch.from_numpy(sub.indices.astype(np.int64)), \
        torch.from_numpy(counts.astype(np.int64))


class RankingEvaluator:
    """Evaluates score functions on one split; builds its per-batch index tensors once.

    Construct once per (dataset, split) and call :meth:`evaluate` every evaluation epoch.
    """

    def __init__(self, dataset: InteractionDataset, split: str, topk: Sequence[int] = DEFAULT_TOPK,
                 batch_size: int = 4096, device: torch.device | str = "cpu", masked_items: bool = False) -> None:
        """``masked_items``: a score of −inf marks an item never to rank (external score matrices);
        a model's scores must be finite."""
        self.masked_items = masked_items
        if split not in ("valid", "test"):
            raise ValueError(f"split must be 'valid' or 'test', got {split!r}")
        self.split = split
        self.topk = tuple(sorted(set(int(k) for k in topk)))
        if not self.topk or self.topk[0] < 1:
            raise ValueError(f"cut-offs must be positive integers, got {topk}")
        self.n_items = dataset.n_items
        self.device = torch.device(device)
        self.users = dataset.evaluation_users(split)
        self.cold_users_dropped = dataset.cold_evaluation_users(split)
        train = dataset.interaction_matrix("train")
        held_out = dataset.interaction_matrix(split)
        self._batches: list[_UserBatch] = []
        for start in range(0, self.users.size, batch_size):
            users = self.users[start:start + batch_size]
            mask_rows, mask_cols, _ = _batch_coordinates(train, users)
            held_rows, held_cols, n_held_out = _batch_coordinates(held_out, users)
            self._batches.append(_UserBatch(
                users=torch.from_numpy(users.astype(np.int64)).to(self.device),
                mask_rows=mask_rows.to(self.device), mask_cols=mask_cols.to(self.device),
                held_out_keys=torch.sort(held_rows * self.n_items + held_cols).values.to(self.device),
                n_held_out=n_held_out.to(self.device),
            ))

    def _is_held_out(self, batch: _UserBatch, top_items: torch.Tensor) -> torch.Tensor:
        """Boolean ``[B, k]``: is ``top_items[b, r]`` one of user b's held-out items?

        A binary search of (row, item) keys among the batch's sorted held-out keys: no dense
        users × items indicator, no per-user loop.
        """
        rows = torch.arange(top_items.shape[0], device=top_items.device).unsqueeze(1)
        queries = rows * self.n_items + top_items
        keys = batch.held_out_keys
        if keys.numel() == 0:
            return torch.zeros_like(queries, dtype=torch.bool)
        position = torch.searchsorted(keys, queries.reshape(-1)).clamp_(max=keys.numel() - 1)
        return (keys[position] == queries.reshape(-1)).reshape(queries.shape)

    @torch.no_grad()
    def evaluate(self, score_users: ScoreFunction) -> RankingEvaluation:
        """Rank all items for every evaluation user and compute the metrics."""
        return self.metrics(self.rank(score_users))

    @torch.no_grad()
    def rank(self, score_users: ScoreFunction) -> list[torch.Tensor]:
        """Top-max(K) item indices of every evaluation user (training items masked), batch by batch."""
        ranked_k = min(self.topk[-1], self.n_items)
        ranked: list[torch.Tensor] = []
        for batch in self._batches:
            scores = score_users(batch.users).to(self.device, torch.float32)
            if scores.shape != (batch.users.numel(), self.n_items):
                raise ValueError(f"score function returned shape {tuple(scores.shape)}, expected "
                                 f"({batch.users.numel()}, {self.n_items})")
            _check_finite(scores, batch.users, self.masked_items)
            scores[batch.mask_rows, batch.mask_cols] = -math.inf
            ranked.append(torch.topk(scores, ranked_k, dim=1).indices)
        return ranked

    @torch.no_grad()
    def metrics(self, ranked: list[torch.Tensor]) -> RankingEvaluation:
        """Metrics of the ranked lists that :meth:`rank` returned."""
        max_k = self.topk[-1]
        per_user: dict[str, list[torch.Tensor]] = {}
        for batch, top_items in zip(self._batches, ranked, strict=True):
            hits = torch.zeros(top_items.shape[0], max_k, dtype=torch.bool, device=self.device)
            hits[:, :top_items.shape[1]] = self._is_held_out(batch, top_items)
            for key, values in ranking_metrics(hits, batch.n_held_out, self.topk).items():
                per_user.setdefault(key, []).append(values.cpu())
        if not self._batches:
            empty = {metric_key(m, k): np.zeros(0) for k in self.topk for m in METRIC_NAMES}
            return RankingEvaluation(self.users, empty, self.cold_users_dropped)
        return RankingEvaluation(
            users=self.users,
            per_user={key: torch.cat(parts).numpy() for key, parts in per_user.items()},
            cold_users_dropped=self.cold_users_dropped,
        )


def score_matrix_function(scores: np.ndarray) -> ScoreFunction:
    """A score function over a precomputed users × items matrix (e.g. another framework's output).

    Rows are copied per batch, so the caller's array (possibly memory-mapped) is never modified.
    """

    def score_users(users: torch.Tensor) -> torch.Tensor:
        rows = scores[users.cpu().numpy()]  # fancy indexing copies
        return torch.from_numpy(np.ascontiguousarray(rows, dtype=np.float32))

    return score_users
