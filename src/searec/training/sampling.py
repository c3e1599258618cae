"""MMRec's negative sampling, vectorised.

For every training pair (u, i⁺) draw one item uniformly from the items seen in training,
rejecting u's own training items (redrawing only the rejected ones until none remain). This is
MMRec's ``TrainDataLoader._sample_neg_ids`` without its per-pair Python loop.
"""

from __future__ import annotations

import numpy as np

MAX_REJECTION_ROUNDS = 1000


class NegativeSampler:
    """Draws negatives for batches of users from a seeded generator."""

    def __init__(self, n_items: int, train_users: np.ndarray, train_items: np.ndarray) -> None:
        self.n_items = n_items
        self.candidates = np.unique(train_items)
        self._train_keys = np.unique(np.asarray(train_users, np.int64) * n_items + np.asarray(train_items, np.int64))
        per_user = np.bincount(np.asarray(train_users, np.int64))
        saturated = np.flatnonzero(per_user >= self.candidates.size)
        if saturated.size:
            raise ValueError(f"user {saturated[0]} has interacted with every training item; no negative item "
                             f"exists for them. Remove such users or add items.")

    def is_training_pair(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Boolean mask: is (users[k], items[k]) a training interaction?"""
        keys = users.astype(np.int64) * self.n_items + items
        position = np.minimum(np.searchsorted(self._train_keys, keys), self._train_keys.size - 1)
        return self._train_keys[position] == keys

    def sample(self, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One negative item per entry of ``users``."""
        users = np.asarray(users, dtype=np.int64)
        negatives = self.candidates[rng.integers(0, self.candidates.size, users.size)]
        rejected = np.flatnonzero(self.is_training_pair(users, negatives))
        for _ in range(MAX_REJECTION_ROUNDS):
            if rejected.size == 0:
                return negatives
            negatives[rejected] = self.candidates[rng.integers(0, self.candidates.size, rejected.size)]
            still = self.is_training_pair(users[rejected], negatives[rejected])
            rejected = rejected[still]
        raise RuntimeError(f"negative sampling did not converge after {MAX_REJECTION_ROUNDS} rounds")
