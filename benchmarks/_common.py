"""Helpers shared by the benchmark scripts: Baby-shaped synthetic data, timing, peak memory."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BABY_USERS, BABY_ITEMS = 19_445, 7_050
BABY_MEAN_INTERACTIONS = 160_792 / 19_445
SHAPES = {  # users, items, interactions: the embedded sample, and PROTOCOL.md's Amazon 2014 5-core datasets
    "sample": (300, 238, 3_904),
    "baby": (BABY_USERS, BABY_ITEMS, 160_792),
    "clothing": (39_387, 23_033, 278_677),
}


def baby_shaped_folder(root: Path, image_dim: int = 4, text_dim: int = 4, seed: int = 0, shape: str = "baby") -> Path:
    """A synthetic MMRec folder shaped like Amazon Baby (or ``shape``: clothing), written once and reused."""
    from searec.data.synth import SynthConfig, write_synthetic_folder

    users, items, interactions = SHAPES[shape]
    folder = root / f"{shape}-shaped-{image_dim}-{text_dim}-{seed}"
    if not (folder / "manifest.json").exists():
        write_synthetic_folder(folder, SynthConfig(n_users=users, n_items=items, image_dim=image_dim,
                                                   text_dim=text_dim, seed=seed, mean_interactions=interactions / users))
    return folder


def best_of(repeats: int, function: Callable[[], Any]) -> tuple[float, Any]:
    """Minimum wall time over ``repeats`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - started)
    return best, result


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
