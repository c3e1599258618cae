"""Atomic writes and content hashes: the two habits every stage relies on.

Every output is written to a temporary file in the destination folder and renamed into place,
so an interrupted stage never leaves a half-written file that a later stage could trust.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
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
    except OSError as error:
        if error.filename is None:  # a failed write through a handle names no file: name the destination
            error.filename = str(destination)
        raise
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

    Written straight to the temporary file, not serialised in memory first (a checkpoint of SEA at
    4096-d features is ~250 MB: that copy was the peak of a training's memory). A write that fails
    inside torch's zip writer comes out as its RuntimeError ("enforce fail at inline_container.cc")
    raised while handling the file's OSError; that OSError (a full disk, a read-only file system)
    is what is raised here, so the caller reports the cause.
    """
    import torch

    with atomic_path(destination) as tmp:
        with open(tmp, "wb") as handle:
            try:
                torch.save(payload, handle)
            except RuntimeError as error:
                if isinstance(error.__context__, OSError):
                    raise error.__context__ from None
                raise


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's content, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(HASH_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


class FolderLockedError(Exception):
    """Another process holds the lock of a folder (see :func:`exclusive_lock`)."""

    def __init__(self, lock_file: Path, holder: str) -> None:
        super().__init__(f"{lock_file.parent} is in use by {holder}")
        self.lock_file = lock_file
        self.holder = holder


@contextlib.contextmanager
def exclusive_lock(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_file`` for the block, or raise :class:`FolderLockedError` at once.

    The file records the holder (host, pid) so that the refusal can name it. The kernel releases
    the lock when the process ends, however it ends, so a killed holder never leaves a stale lock.
    """
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock_file, "a+", encoding="utf-8")  # noqa: SIM115 (held for the block)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise FolderLockedError(lock_file, handle.read().strip() or "another process") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        yield
    finally:
        handle.close()
