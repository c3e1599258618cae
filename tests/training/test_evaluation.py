"""Known-answer tests of the full-ranking metrics, values computed by hand."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from searec.data.mmrec import load_mmrec_folder
from searec.training.evaluation import (
    NonFiniteScoresError,
    RankingEvaluator,
    ranking_metrics,
    score_matrix_function,
)
from tests.conftest import write_inter

L2, L3, L5, L6 = math.log2(2), math.log2(3), math.log2(4 + 1), math.log2(6)

# 6 items. train: u0 {0}; u1 {1,2}; u2 {0,1,2,3}; u3 {5}.  valid: u0 {1,3}; u1 {0}; u2 {4}; u4 {2} (no train: dropped)
# test: u0 {5}; u1 {3}; u2 {5}; u3 {4}.
ROWS = [(0, 0, 0), (1, 1, 0), (1, 2, 0), (2, 0, 0), (2, 1, 0), (2, 2, 0), (2, 3, 0), (3, 5, 0),
        (0, 1, 1), (0, 3, 1), (1, 0, 1), (2, 4, 1), (4, 2, 1),
        (0, 5, 2), (1, 3, 2), (2, 5, 2), (3, 4, 2)]
SCORES = np.array([
    [9, 1, 8, 7, 3, 2],   # u0, item 0 masked: ranking 2, 3, 4, 5, 1
    [5, 9, 9, 1, 2, 3],   # u1, items 1, 2 masked: ranking 0, 5, 4, 3
    [0, 0, 0, 0, 1, 2],   # u2, items 0-3 masked: ranking 5, 4
    [1, 2, 3, 4, 5, 6],   # u3: ranking 4, 3, 2, 1, 0 (5 masked)
    [1, 1, 1, 1, 1, 1],   # u4: cold, never evaluated
], dtype=np.float32)
TOPK = (1, 2, 5, 10)


@pytest.fixture()
def dataset(tmp_path: Path):
    write_inter(tmp_path, ROWS)
    return load_mmrec_folder(tmp_path)


def test_validation_metrics_by_hand(dataset) -> None:
    result = RankingEvaluator(dataset, "valid", TOPK, batch_size=2).evaluate(score_matrix_function(SCORES))
    assert list(result.users) == [0, 1, 2] and result.cold_users_dropped == 1
    per_user = {key: list(values) for key, values in result.per_user.items()}
    # u0 hits at ranks 2 and 5 of {1, 3}; u1 hit at rank 1 of {0}; u2 hit at rank 2 of {4}.
    expected = {
        "recall@1": [0, 1, 0], "precision@1": [0, 1, 0], "ndcg@1": [0, 1, 0], "map@1": [0, 1, 0],
        "recall@2": [1 / 2, 1, 1], "precision@2": [1 / 2, 1 / 2, 1 / 2],
        "ndcg@2": [(1 / L3) / (1 + 1 / L3), 1, 1 / L3], "map@2": [(1 / 2) / 2, 1, 1 / 2],
        "recall@5": [1, 1, 1], "precision@5": [2 / 5, 1 / 5, 1 / 5],
        "ndcg@5": [(1 / L3 + 1 / L6) / (1 + 1 / L3), 1, 1 / L3], "map@5": [(1 / 2 + 2 / 5) / 2, 1, 1 / 2],
        # K larger than the items left: denominators follow the definitions, hits cannot grow.
        "recall@10": [1, 1, 1], "precision@10": [2 / 10, 1 / 10, 1 / 10],
        "ndcg@10": [(1 / L3 + 1 / L6) / (1 + 1 / L3), 1, 1 / L3], "map@10": [(1 / 2 + 2 / 5) / 2, 1, 1 / 2],
    }
    assert set(per_user) == set(expected)
    for key, values in expected.items():
        assert per_user[key] == pytest.approx(values, abs=1e-12), key
    assert result.means()["recall@2"] == pytest.approx((0.5 + 1 + 1) / 3)


def test_test_split_masks_train_only_and_keeps_validation_items_rankable(dataset) -> None:
    result = RankingEvaluator(dataset, "test", TOPK).evaluate(score_matrix_function(SCORES))
    assert list(result.users) == [0, 1, 2, 3]
    # u0: ranking 2, 3, 4, 5, 1 -> item 5 at rank 4 (valid items 1 and 3 stay in the list)
    # u1: ranking 0, 5, 4, 3 -> item 3 at rank 4; u2: ranking 5, 4 -> rank 1; u3: ranking 4, ... -> rank 1
    assert list(result.per_user["recall@2"]) == [0, 0, 1, 1]
    assert list(result.per_user["ndcg@5"]) == pytest.approx([1 / L5, 1 / L5, 1, 1])
    assert list(result.per_user["map@5"]) == pytest.approx([1 / 4, 1 / 4, 1, 1])


def _reference(hits: list[bool], n_held_out: int, k: int) -> dict[str, float]:
    """Straight from PROTOCOL.md's definitions, one user at a time."""
    top = hits[:k]
    dcg = sum(1 / math.log2(r + 2) for r, h in enumerate(top) if h)
    idcg = sum(1 / math.log2(r + 2) for r in range(min(n_held_out, k)))
    ap = sum(sum(top[: r + 1]) / (r + 1) for r, h in enumerate(top) if h) / min(n_held_out, k)
    return {"recall": sum(top) / n_held_out, "precision": sum(top) / k, "ndcg": dcg / idcg, "map": ap}


@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_metrics_match_the_definitions(data) -> None:
    max_k = data.draw(st.integers(1, 12))
    n_users = data.draw(st.integers(1, 6))
    hits = [[data.draw(st.booleans()) for _ in range(max_k)] for _ in range(n_users)]
    n_held_out = [max(sum(row), data.draw(st.integers(1, 15))) for row in hits]
    topk = sorted(set(data.draw(st.lists(st.integers(1, max_k), min_size=1, max_size=4))))
    got = ranking_metrics(torch.tensor(hits), torch.tensor(n_held_out), topk)
    for user in range(n_users):
        for k in topk:
            for metric, value in _reference(hits[user], n_held_out[user], k).items():
                assert float(got[f"{metric}@{k}"][user]) == pytest.approx(value, abs=1e-12)


def test_non_finite_scores_are_refused(dataset) -> None:
    scores = SCORES.copy()
    scores[1, 4] = np.nan
    with pytest.raises(NonFiniteScoresError, match="user 1"):
        RankingEvaluator(dataset, "valid", TOPK).evaluate(score_matrix_function(scores))


def test_caller_scores_are_not_modified(dataset) -> None:
    scores = SCORES.copy()
    RankingEvaluator(dataset, "valid", TOPK).evaluate(score_matrix_function(scores))
    assert np.array_equal(scores, SCORES)


def test_infinite_scores_are_refused_and_huge_finite_scores_are_not(dataset) -> None:
    scores = SCORES.copy()
    scores[2, 5] = np.inf
    with pytest.raises(NonFiniteScoresError, match="user 2"):
        RankingEvaluator(dataset, "valid", TOPK).evaluate(score_matrix_function(scores))
    huge = np.full_like(SCORES, 3e38)  # row sums overflow, yet every score is finite
    huge[:, 3] = 1e38
    result = RankingEvaluator(dataset, "valid", TOPK).evaluate(score_matrix_function(huge))
    assert result.users.size == 3
