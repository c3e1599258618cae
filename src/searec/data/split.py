"""Seeded per-user train/valid/test split (PROTOCOL.md, preprocessing step 4)."""

from __future__ import annotations

import numpy as np

TRAIN, VALID, TEST = 0, 1, 2
SPLIT_LABELS: dict[str, int] = {"train": TRAIN, "valid": VALID, "test": TEST}
MIN_INTERACTIONS_PER_USER = 3


def per_user_split(users: np.ndarray, seed: int) -> np.ndarray:
    """Label each interaction train (0), valid (1) or test (2), per user, reproducibly.

    Each user's interactions are shuffled with a generator seeded by ``seed``. A user with
    n < 10 interactions gets n−2 train, 1 valid, 1 test; otherwise vt = int(0.2·n),
    valid = vt // 2, test = vt − vt // 2 and train the rest. This is MMRec's rule, seeded
    (MMRec's own split was unseeded and cannot be rebuilt). The result depends on the row
    order of ``users``, so callers pass rows in a deterministic order.

    Args:
        users: int array, one user index per interaction row.
        seed: seed of the shuffle.

    Returns:
        int8 array of labels aligned with ``users``.
    """
    users = np.asarray(users, dtype=np.int64)
    if users.size == 0:
        return np.zeros(0, dtype=np.int8)
    counts = np.bincount(users)
    too_few = np.flatnonzero((counts > 0) & (counts < MIN_INTERACTIONS_PER_USER))
    if too_few.size:
        raise ValueError(
            f"{too_few.size} users have fewer than {MIN_INTERACTIONS_PER_USER} interactions "
            f"(first: user {too_few[0]} with {counts[too_few[0]]}); the per-user split needs at least "
            f"one train, one valid and one test interaction each. Apply a k-core filter (k >= 3) first."
        )
    rng = np.random.default_rng(seed)
    shuffle_keys = rng.random(users.size)
    order = np.lexsort((shuffle_keys, users))
    sorted_users = users[order]
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank_in_user = np.arange(users.size) - starts[sorted_users]
    n = counts[sorted_users]
    held_out = np.where(n < 10, 2, (0.2 * n).astype(np.int64))
    n_valid = np.where(n < 10, 1, held_out // 2)
    n_train = n - held_out
    sorted_labels = np.where(rank_in_user < n_train, TRAIN, np.where(rank_in_user < n_train + n_valid, VALID, TEST))
    labels = np.empty(users.size, dtype=np.int8)
    labels[order] = sorted_labels
    return labels
