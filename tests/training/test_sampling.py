import numpy as np
import pytest

from searec.training.sampling import NegativeSampler


def test_negatives_are_training_items_never_the_users_own() -> None:
    rng = np.random.default_rng(0)
    users = np.array([0, 0, 0, 1, 1, 2])
    items = np.array([0, 1, 2, 2, 3, 4])  # item 5 never appears in training
    sampler = NegativeSampler(6, users, items)
    batch_users = np.repeat([0, 1, 2], 2000)
    negatives = sampler.sample(batch_users, rng)
    assert not sampler.is_training_pair(batch_users, negatives).any()
    assert set(np.unique(negatives)) <= {0, 1, 2, 3, 4}
    # user 0 can only get items 3 and 4, each with probability 1/2
    mine = negatives[batch_users == 0]
    assert set(np.unique(mine)) == {3, 4}
    assert abs((mine == 3).mean() - 0.5) < 0.05


def test_same_generator_state_same_negatives() -> None:
    sampler = NegativeSampler(50, np.arange(40) % 10, np.arange(40))
    users = np.arange(1000) % 10
    assert np.array_equal(sampler.sample(users, np.random.default_rng(3)), sampler.sample(users, np.random.default_rng(3)))


def test_user_who_saw_every_item_is_refused() -> None:
    with pytest.raises(ValueError, match="every training item"):
        NegativeSampler(3, np.array([0, 0, 0]), np.array([0, 1, 2]))
