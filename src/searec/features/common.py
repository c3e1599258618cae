"""What every feature file shares: mean imputation, weight checksums, atomic writes with a manifest.

A feature file is ``data/features/<dataset>/<modality>-<encoder>.npy`` (float32, row = item
index) with ``<same name>.json`` beside it: encoder id and weight checksum, dimension,
normalisation, items encoded, items imputed, seconds and items per second.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from searec.errors import SearecError
from searec.fileio import HASH_CHUNK_BYTES, save_npy_atomic, write_json_atomic
from searec.runtime import split_run_facts

log = logging.getLogger(__name__)


class FeatureError(SearecError):
    """An encoder cannot be loaded or features cannot be computed as asked."""


def impute_missing_rows(matrix: np.ndarray, present: np.ndarray, what: str) -> int:
    """Fill rows where ``present`` is False with the mean of the present rows (MMRec / LATTICE); return how many.

    Imputed rows are items without the input (no text, no image, no CNN record); the count
    goes into the manifest and the log, never silently.
    """
    missing = int((~present).sum())
    if missing == present.size:
        raise FeatureError(f"{what}: no item has an input to encode ({present.size} items); check the previous stage")
    if missing:
        matrix[~present] = matrix[present].mean(axis=0)
        log.warning("%s: %d of %d items had no input; imputed with the mean of the others", what, missing, present.size)
    return missing


def weights_checksum(paths: Iterable[Path]) -> str:
    """SHA-256 over the bytes of the encoder's weight files (sorted by name): which weights made these features."""
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        digest.update(path.name.encode())
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(HASH_CHUNK_BYTES), b""):
                digest.update(chunk)
    return digest.hexdigest()


def encoder_slug(name: str) -> str:
    """A file-name-safe form of an encoder name (``sentence-transformers/x`` -> ``sentence-transformers_x``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name if Path(name).is_absolute() else name)


def feature_path(root: Path, dataset: str, modality: str, encoder: str) -> Path:
    from searec.layout import features_dir

    return features_dir(dataset, root) / f"{modality}-{encoder_slug(encoder)}.npy"


def feature_settings(params: dict[str, Any], modality: str) -> dict[str, Any]:
    """params.yaml ``features.<modality>`` over the declared defaults (``searec.sections``), each checked."""
    from searec.sections import section

    return section(params, f"features.{modality}")


def set_cpu_threads(settings: dict[str, Any]) -> None:
    """A fixed intra-op thread count: CPU kernels may pick different summation orders for different
    counts (measured: EfficientNet-Lite0 on a 14-image batch differs by ~3e-6 between 1 and 2
    threads), so features are bitwise reproducible only for the same ``threads`` setting."""
    import torch

    torch.set_num_threads(int(settings["threads"]))


def configured_encoder(params: dict[str, Any], modality: str) -> str:
    """The encoder id a modality's feature file is named after (``amazon2014-cnn``: Amazon's CNN features)."""
    return str(feature_settings(params, modality)["encoder"])


def write_feature_file(path: Path, matrix: np.ndarray, manifest: dict[str, Any]) -> None:
    """The matrix (float32) and its manifest, each atomically; the manifest last, so it marks completion."""
    if not np.isfinite(matrix).all():
        raise FeatureError(f"{path}: the encoder produced non-finite values; nothing was written")
    path.with_suffix(".json").unlink(missing_ok=True)
    save_npy_atomic(path, np.ascontiguousarray(matrix, dtype=np.float32))
    tracked = split_run_facts(path, manifest)  # timings and the device go to <file>.run.json, untracked
    write_json_atomic(path.with_suffix(".json"), tracked | {"shape": list(matrix.shape), "file": path.name})
