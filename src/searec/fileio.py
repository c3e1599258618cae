"""Atomic writes and content hashes: the two habits every stage relies on.

Every output is written to a temporary file in the destination folder and renamed into place,
so an interrupted stage never leaves a half-written file that a later stage could trust.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

HASH_CHUNK_BYTES = 1 << 20


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(destination: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``destination``; rename it into place on success.

    The temporary file lives in the same folder so that ``os.replace`` is atomic. On any
    exception (including KeyboardInterrupt) it is removed and ``destination`` is untouched.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".tmp", dir=destination.parent)
    os.close(fd)
    tmp_path = Path(tmp_name)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_current_umask())
        os.replace(tmp_path, destination)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(destination: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``destination`` atomically."""
    with atomic_path(destination) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(destination: str | os.PathLike[str], payload: Any) -> None:
    """Write ``payload`` as indented, key-sorted JSON, atomically."""
    write_text_atomic(destination, json.dumps(payload, indent=2, sort_keys=True, allow_nan=True) + "\n")


def save_npy_atomic(destination: str | os.PathLike[str], array: np.ndarray) -> None:
    """Save ``array`` as ``.npy`` atomically (never pickled)."""
    with atomic_path(destination) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, array, allow_pickle=False)


def save_torch_atomic(destination: str | os.PathLike[str], payload: Any) -> None:
    """``torch.save`` atomically, through a file object.

    Given a path, ``torch.save`` names the zip archive's records after the file (here a random
    temporary name), so equal tensors would give different bytes; through a file object the
    records are ``archive/...``, and equal state dicts give equal files (equal content hashes
    for DVC and ``searec lineage``).
    """
    import torch

    with atomic_path(destination) as tmp:
        with open(tmp, "wb") as handle:
            torch.save(payload, handle)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's content, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(HASH_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()
