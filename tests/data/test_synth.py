from pathlib import Path

import numpy as np
import pytest

from searec.data.mmrec import load_mmrec_folder
from searec.data.split import TEST, TRAIN, VALID
from searec.data.synth import SynthConfig, generate


def test_shape_and_minimum_activity() -> None:
    data = generate(SynthConfig(n_users=200, n_items=80, image_dim=12, text_dim=6, seed=1))
    per_user = np.bincount(data["users"], minlength=200)
    assert per_user.min() >= 5
    assert set(np.unique(data["items"])) == set(range(80))  # every item index exists
    assert data["image"].shape == (80, 12) and data["text"].shape == (80, 6)
    assert data["image"].dtype == np.float32
    pairs = data["users"] * 80 + data["items"]
    assert np.unique(pairs).size == pairs.size
    for user in range(200):  # every user has train, valid and test interactions
        labels = set(data["labels"][data["users"] == user].tolist())
        assert labels == {TRAIN, VALID, TEST}


def test_seed_reproduces_exactly_and_another_seed_differs() -> None:
    config = SynthConfig(n_users=50, n_items=40, image_dim=4, text_dim=4, seed=5)
    a, b = generate(config), generate(config)
    assert all(np.array_equal(a[key], b[key]) for key in a)
    c = generate(SynthConfig(n_users=50, n_items=40, image_dim=4, text_dim=4, seed=6))
    assert not np.array_equal(a["items"], c["items"])


def _same_cluster_neighbour_rate(features: np.ndarray, clusters: np.ndarray) -> float:
    normed = features / np.linalg.norm(features, axis=1, keepdims=True)
    similarity = normed @ normed.T
    np.fill_diagonal(similarity, -np.inf)
    return float((clusters[similarity.argmax(axis=1)] == clusters).mean())


def test_each_modality_carries_part_of_the_cluster_signal() -> None:
    data = generate(SynthConfig(n_users=300, n_items=400, image_dim=64, text_dim=32, seed=2, n_clusters=10))
    chance = 1 / 10
    image_rate = _same_cluster_neighbour_rate(data["image"], data["item_cluster"])
    text_rate = _same_cluster_neighbour_rate(data["text"], data["item_cluster"])
    both_rate = _same_cluster_neighbour_rate(np.hstack([data["image"] / np.linalg.norm(data["image"], axis=1, keepdims=True),
                                                        data["text"] / np.linalg.norm(data["text"], axis=1, keepdims=True)]),
                                             data["item_cluster"])
    assert image_rate > 3 * chance and text_rate > 3 * chance
    assert both_rate >= max(image_rate, text_rate) - 0.02  # combining modalities does not lose the signal


def test_users_prefer_their_clusters() -> None:
    """Held-out items fall in the user's training clusters far more often than chance."""
    data = generate(SynthConfig(n_users=400, n_items=200, image_dim=4, text_dim=4, seed=4, n_clusters=10))
    clusters = data["item_cluster"]
    hits = []
    for user in range(400):
        mine = data["users"] == user
        train_clusters = set(clusters[data["items"][mine & (data["labels"] == TRAIN)]].tolist())
        test_items = data["items"][mine & (data["labels"] == TEST)]
        hits.extend(clusters[item] in train_clusters for item in test_items)
    assert np.mean(hits) > 0.6  # uniform choice would give well under 0.5 (few clusters per user)


def test_written_folder_loads_and_has_manifest(tiny_synth: Path) -> None:
    dataset = load_mmrec_folder(tiny_synth)
    assert dataset.n_users == 120 and dataset.n_items == 60
    assert set(dataset.features) == {"image", "text"}
    assert (tiny_synth / "manifest.json").exists() and (tiny_synth / "planted.npz").exists()


@pytest.mark.slow
def test_content_signal_beats_a_converged_id_only_model(small_synth: Path, tmp_path: Path) -> None:
    """The generator's promise: item features carry preference signal that IDs alone miss.

    A training-free scorer using only the features (cosine to the user's mean training-item
    feature) and item popularity must beat BPR-MF trained to early stopping on validation.
    """
    import torch

    from searec.training.config import TrainingConfig
    from searec.training.evaluation import RankingEvaluator
    from searec.training.trainer import train_run

    dataset = load_mmrec_folder(small_synth)

    def unit(x: np.ndarray) -> np.ndarray:
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    features = np.hstack([unit(dataset.features["image"]), unit(dataset.features["text"])])
    train = dataset.interaction_matrix("train")
    profiles = unit(np.asarray(train @ features) + 1e-12)
    popularity = np.asarray(train.sum(axis=0)).ravel()
    scores = torch.from_numpy((5 * profiles @ unit(features).T + np.log1p(popularity)).astype(np.float32))
    content = RankingEvaluator(dataset, "valid", (20,)).evaluate(lambda users: scores[users].clone()).means()

    config = TrainingConfig(learning_rate=5e-3, patience=20, device="cpu")
    bpr = train_run(dataset, "bpr", {}, config, seed=0, run_dir=tmp_path)
    assert content["recall@20"] > 1.05 * bpr["valid"]["recall@20"]
