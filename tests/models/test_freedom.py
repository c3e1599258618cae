"""FREEDOM: degree-sensitive pruning, the full graph for ranking, the frozen item graph, content use."""

from pathlib import Path

import numpy as np
import pytest
import torch

from searec.data.mmrec import load_mmrec_folder
from searec.models import ModelInputs
from searec.models.freedom import FREEDOM, degree_sensitive_edge_sample


def test_edge_sampling_keeps_the_count_and_prefers_low_degree_edges() -> None:
    # user 0 has 50 edges to items 0..49; users 1..50 have one edge each to item 50+u (degree 1 ends)
    users = np.concatenate([np.zeros(50, np.int64), np.arange(1, 51)])
    items = np.concatenate([np.arange(50), np.arange(50, 100)])
    generator = torch.Generator().manual_seed(0)
    counts = np.zeros(100)
    for _ in range(200):
        kept = degree_sensitive_edge_sample(users, items, 20, generator)
        assert len(np.unique(kept)) == 20
        counts[kept] += 1
    assert counts[50:].mean() > 3 * counts[:50].mean()  # weights 1 vs 1/sqrt(50)


def test_training_uses_a_pruned_graph_and_ranking_the_full_one(tiny_synth: Path) -> None:
    inputs = ModelInputs.from_dataset(load_mmrec_folder(tiny_synth))
    torch.manual_seed(0)
    model = FREEDOM(inputs, {"dropout": 0.5, "embedding_size": 8})
    model.train()
    model.before_epoch()
    full_edges = model.adjacency.to_dense().count_nonzero().item()
    assert model.pruned_adjacency.to_dense().count_nonzero().item() == pytest.approx(full_edges / 2, abs=2)
    first = model.pruned_adjacency.to_dense()
    model.before_epoch()
    assert not torch.equal(first, model.pruned_adjacency.to_dense())
    users, items = model.ranking_representations()
    expected_users = torch.stack([torch.cat([model.user_embedding, model.item_embedding])] + [
        torch.linalg.matrix_power(model.adjacency.to_dense(), k) @ torch.cat([model.user_embedding, model.item_embedding])
        for k in (1, 2)]).mean(dim=0)[: inputs.n_users]
    torch.testing.assert_close(users, expected_users, atol=1e-5, rtol=1e-5)

