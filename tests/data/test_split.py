import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from searec.data.split import TEST, TRAIN, VALID, per_user_split


def expected_counts(n: int) -> tuple[int, int, int]:
    """PROTOCOL.md step 4, written out independently of the implementation."""
    if n < 10:
        return n - 2, 1, 1
    held_out = int(0.2 * n)
    return n - held_out, held_out // 2, held_out - held_out // 2


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(st.integers(min_value=3, max_value=60), min_size=1, max_size=30), seed=st.integers(0, 2**31))
def test_per_user_counts_follow_the_protocol(counts: list[int], seed: int) -> None:
    users = np.repeat(np.arange(len(counts)), counts)
    np.random.default_rng(seed).shuffle(users)  # rows of one user need not be contiguous
    labels = per_user_split(users, seed)
    for user, n in enumerate(counts):
        mine = labels[users == user]
        assert (int((mine == TRAIN).sum()), int((mine == VALID).sum()), int((mine == TEST).sum())) == expected_counts(n)


def test_same_seed_same_split_other_seed_other_split() -> None:
    users = np.repeat(np.arange(50), 12)
    first = per_user_split(users, 7)
    assert np.array_equal(first, per_user_split(users, 7))
    assert not np.array_equal(first, per_user_split(users, 8))


def test_known_counts_for_boundary_sizes() -> None:
    assert expected_counts(9) == (7, 1, 1)
    assert expected_counts(10) == (8, 1, 1)
    assert expected_counts(15) == (12, 1, 2)
    assert expected_counts(20) == (16, 2, 2)


def test_users_with_too_few_interactions_are_refused() -> None:
    with pytest.raises(ValueError, match="fewer than 3"):
        per_user_split(np.array([0, 0, 0, 1, 1]), 0)
