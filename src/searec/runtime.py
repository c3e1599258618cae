"""Process-level concerns shared by every stage: logging, seeding, code version."""

from __future__ import annotations

import logging
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np

import searec

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: int = logging.INFO, log_file: Path | None = None) -> None:
    """Log to stderr (and optionally a file) in one plain, greppable format."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="a", encoding="utf-8"))
    logging.basicConfig(level=level, format=LOG_FORMAT, handlers=handlers, force=True)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch global generators (CPU and CUDA).

    searec code draws from explicit generators wherever it can; this covers library code that
    uses the global ones (parameter initialisers, ``torch.randperm`` inside models). It also asks
    torch for deterministic algorithms: on CPU the backward of tensor indexing (``E[users]`` with
    repeated users: ``index_put_`` with accumulation) is otherwise free to sum in any order, which
    made one of two same-seed SEA runs differ in the 5th digit of NDCG in a full test run.
    """
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)


def show_progress() -> bool:
    """Progress bars only on an interactive terminal; plain log lines in CI and pipelines."""
    return sys.stderr.isatty() and os.environ.get("CI", "").lower() not in {"1", "true"}


def code_version() -> str:
    """The package version plus, inside a git checkout, the commit (``+dirty`` if modified)."""
    version = searec.__version__
    source_root = Path(__file__).resolve().parents[2]
    if not (source_root / ".git").exists():
        return version
    try:
        commit = subprocess.run(
            ["git", "-C", str(source_root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(source_root), "status", "--porcelain", "--untracked-files=no", "--", "src"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return version
    return f"{version}+g{commit}{'.dirty' if dirty else ''}"
