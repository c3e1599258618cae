"""The embedded sample catalog: reproducible from its generator, and its content carries preference."""

from __future__ import annotations

import gzip
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from searec.data.download import download_dataset
from searec.data.export import export_mmrec
from searec.data.images import fetch_item_images
from searec.data.mmrec import load_mmrec_folder
from searec.data.preprocess import PreprocessConfig, preprocess_amazon
from searec.data.registry import dataset_entry, package_url_path
from searec.data.sample import make_sample
from searec.training.evaluation import RankingEvaluator, score_matrix_function


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample through download -> preprocess -> images -> export, as the pipeline runs it."""
    root = tmp_path_factory.mktemp("sample")
    entry = dataset_entry("sample")
    download_dataset(entry, root / "raw")
    preprocess_amazon(entry, root / "raw", root / "processed", PreprocessConfig())
    items = pd.read_parquet(root / "processed" / "items.parquet")
    fetch_item_images(items, root / "raw", root / "images", workers=4)
    export_mmrec(root / "processed", root / "mmrec", "sample")
    return root


def test_the_embedded_files_are_what_the_generator_writes(tmp_path: Path) -> None:
    embedded = package_url_path(dataset_entry("sample").file("reviews").url).parent
    make_sample(tmp_path)
    for name in ("reviews_Sample_5.json.gz", "meta_Sample.json.gz"):
        assert gzip.decompress((tmp_path / name).read_bytes()) == gzip.decompress((embedded / name).read_bytes())
    with tarfile.open(tmp_path / "images.tar") as fresh, tarfile.open(embedded / "images.tar") as shipped:
        assert fresh.getnames() == shipped.getnames()
        for name in fresh.getnames()[:20]:  # JPEG bytes may differ across libjpeg builds; pixels may not
            a = np.asarray(Image.open(fresh.extractfile(name)), dtype=np.float32)
            b = np.asarray(Image.open(shipped.extractfile(name)), dtype=np.float32)
            assert np.abs(a - b).mean() < 2.0, name


def test_the_sample_is_small_and_survives_five_core(sample_root: Path) -> None:
    embedded = package_url_path(dataset_entry("sample").file("reviews").url).parent
    assert sum(path.stat().st_size for path in embedded.iterdir()) < 5 * 2**20
    dataset = load_mmrec_folder(sample_root / "mmrec")
    assert 250 <= dataset.n_users <= 400 and 200 <= dataset.n_items <= 300
    images = pd.read_parquet(sample_root / "images" / "manifest.parquet")
    assert (images["status"] == "ok").all()


def _test_recall(dataset, scores: np.ndarray) -> float:  # noqa: ANN001
    evaluator = RankingEvaluator(dataset, "test", (20,))
    return evaluator.evaluate(score_matrix_function(scores.astype(np.float32))).means()["recall@20"]


def test_text_and_images_carry_the_users_preferences(sample_root: Path) -> None:
    """Training-free content scorers beat popularity: words of the item text, and the colour of the image."""
    dataset = load_mmrec_folder(sample_root / "mmrec")
    items = pd.read_parquet(sample_root / "processed" / "items.parquet").sort_values("item")
    train = dataset.interaction_matrix("train").toarray().astype(np.float32)
    profile_weights = train / train.sum(axis=1, keepdims=True)
    popularity = _test_recall(dataset, np.tile(train.sum(axis=0), (dataset.n_users, 1)))

    vocabulary = sorted({word for text in items["text"] for word in text.lower().split()})
    position = {word: k for k, word in enumerate(vocabulary)}
    words = np.zeros((len(items), len(vocabulary)), dtype=np.float32)
    for row, text in enumerate(items["text"]):
        words[row, [position[w] for w in text.lower().split()]] = 1.0
    words /= np.linalg.norm(words, axis=1, keepdims=True)
    text_recall = _test_recall(dataset, (profile_weights @ words) @ words.T)

    manifest = pd.read_parquet(sample_root / "images" / "manifest.parquet").set_index("item")
    colours = np.zeros((len(items), 3), dtype=np.float32)
    for item in items["item"]:
        pixels = np.asarray(Image.open(sample_root / "images" / manifest.loc[item, "file"]).convert("RGB"), np.float32)
        colours[item] = pixels[pixels.std(axis=2) > 25].mean(axis=0) / 255  # the product, not the grey background
    profile = profile_weights @ colours
    image_recall = _test_recall(dataset, -((profile[:, None, :] - colours[None]) ** 2).sum(axis=2))

    assert text_recall > 2.0 * popularity, (text_recall, popularity)
    assert image_recall > 1.3 * popularity, (image_recall, popularity)
