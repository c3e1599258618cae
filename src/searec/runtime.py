"""Process-level concerns shared by every stage: logging, seeding, threads, devices, progress, code version."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import platform
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

import searec
from searec.errors import SearecError

if TYPE_CHECKING:
    import torch

T = TypeVar("T")
CUBLAS_WORKSPACE = ":4096:8"
"""cuBLAS's workspace setting that makes its matmuls deterministic (PyTorch's reproducibility notes)."""


class EnvironmentProblem(SearecError):
    """The machine cannot do what was asked (no GPU for ``cuda``, no writable folder, no space)."""

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: int = logging.INFO, log_file: Path | None = None) -> None:
    """Log to stderr (and optionally a file) in one plain, greppable format."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="a", encoding="utf-8"))
    logging.basicConfig(level=level, format=LOG_FORMAT, handlers=handlers, force=True)


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch global generators (CPU and CUDA); optionally ask for deterministic algorithms.

    searec code draws from explicit generators wherever it can; this covers library code that
    uses the global ones (parameter initialisers, ``torch.randperm`` inside models). It also asks
    torch for deterministic algorithms: on CPU the backward of tensor indexing (``E[users]`` with
    repeated users: ``index_put_`` with accumulation) is otherwise free to sum in any order, which
    made one of two same-seed SEA runs differ in the 5th digit of NDCG in a full test run.

    On CUDA, deterministic mode makes every cuBLAS matmul raise unless ``CUBLAS_WORKSPACE_CONFIG``
    is set before the first cuBLAS call of the process; it is set here (unless the user set it),
    which is before the model is built and so before any CUDA work of a training run. An op with
    no deterministic CUDA kernel raises when first called: the trainer stops the run there,
    naming the op and ``training.deterministic``.
    """
    import torch

    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    # The same switch as torch.use_deterministic_algorithms, which in torch 2.14 also imports
    # torch._inductor (and with it dynamo: 2.7 s per process, paid by every training job) only to
    # set inductor's own flag; searec never compiles, so the documented alternative is used.
    torch.set_deterministic_debug_mode("error" if deterministic else "default")
    torch.backends.cudnn.benchmark = not deterministic


GLIBC_M_TRIM_THRESHOLD, GLIBC_M_MMAP_THRESHOLD, GLIBC_M_MMAP_MAX = -1, -3, -4
"""mallopt's parameter numbers (glibc's malloc.h)."""
GLIBC_DEFAULT_MMAP_MAX = 65_536
"""glibc's default for M_MMAP_MAX (DEFAULT_MMAP_MAX): how many blocks it may map at once."""
MALLOC_MMAP_THRESHOLD_BYTES = 32 << 20
"""Blocks below this come from the heap and are reused once freed: glibc's largest allowed value
(DEFAULT_MMAP_THRESHOLD_MAX on 64-bit). Larger per-step temporaries exist (SEA's 4096² projection
gradient at Baby, 64 MiB): :func:`large_blocks_from_heap` covers them during the training batches."""
MALLOC_TRIM_THRESHOLD_BYTES = 1 << 30
"""Free memory at the heap's top that glibc keeps instead of returning it to the kernel."""


def reuse_freed_memory() -> bool:
    """Make glibc's malloc keep freed blocks for reuse instead of handing them back to the kernel.

    By default glibc serves a block from 128 KiB upwards (its threshold rising with use) with fresh
    mmap pages and returns free heap tops to the kernel, so a training step that allocates the same
    temporaries every time pays a page fault per 4 KiB page on their first touch, every time: SEA's
    CLUB inner step at Baby's 14,100 × 32 rows took ~1,400–4,000 faults a step, and one subtraction
    of two such arrays 800 µs instead of 290 µs. A fixed mmap threshold (no rising) of 32 MiB and a
    high trim threshold keep the blocks; peak RSS stays as it was (benchmarks/sea_speed.py prints
    it). Process-wide, as glibc's own ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_``
    environment variables would set it. Returns False (nothing done) where the C library is not glibc.
    """
    if platform.libc_ver()[0] != "glibc":
        return False
    mallopt = _glibc_mallopt()
    return bool(mallopt(GLIBC_M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(GLIBC_M_TRIM_THRESHOLD, MALLOC_TRIM_THRESHOLD_BYTES))


@contextlib.contextmanager
def large_blocks_from_heap() -> Iterator[bool]:
    """Within the block, glibc serves even blocks of 32 MiB and more from its heap (``M_MMAP_MAX`` 0),
    so that a loop that frees and allocates the same large temporaries reuses their pages; mmap is
    allowed again (glibc's default count) on leaving. Yields whether the setting took (glibc only).

    :func:`reuse_freed_memory` cannot cover these blocks: glibc caps the mmap threshold at 32 MiB
    (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit), so every larger block is mapped afresh and faulted in page
    by page. At Baby, SEA's 4096² projection gradient (two 32 MiB row blocks and their 64 MiB
    concatenation) was mapped afresh every backward: 32,771 faults, the backward 0.77 s against 0.57 s
    without them (one Baby-shaped batch timed with and without the faults; benchmarks/sea_speed.py
    runs its batches inside this block, as the trainer does). Only around the training batches, not
    process-wide: the evaluation's score blocks (4,096 users × 7,050 items, 110 MiB) have small
    results allocated after them, which strands each freed block in the heap (one Baby evaluation
    raised peak RSS by 420 MiB with mmap off, by 150 MiB with it on).
    """
    if platform.libc_ver()[0] != "glibc":
        yield False
        return
    mallopt = _glibc_mallopt()
    took = bool(mallopt(GLIBC_M_MMAP_MAX, 0))
    try:
        yield took
    finally:
        mallopt(GLIBC_M_MMAP_MAX, GLIBC_DEFAULT_MMAP_MAX)


def _glibc_mallopt() -> Callable[[int, int], int]:
    """glibc's ``mallopt(param, value)``."""
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt


def available_cpus() -> int:
    """The CPUs this process may use: its affinity mask, a cgroup CPU quota, SLURM's allocation.

    torch's default thread count is the machine's physical cores, whatever a container quota or a
    scheduler granted; beside another job that oversubscribes the CPUs (SEA on the sample ran
    25–50× slower beside one other job than with one thread).
    """
    counts = [len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)]
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text(encoding="utf-8").split()[:2]
        if quota != "max":
            counts.append(max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    for variable in ("SLURM_CPUS_PER_TASK", "OMP_NUM_THREADS"):
        value = os.environ.get(variable, "")
        if value.isdigit() and int(value) > 0:
            counts.append(int(value))
    return max(1, min(counts))


def configure_threads(requested: int) -> int:
    """Set torch's intra-op threads to ``requested`` (0: :func:`available_cpus`); returns the count in use."""
    import torch

    threads = requested if requested > 0 else available_cpus()
    torch.set_num_threads(threads)
    return torch.get_num_threads()


def resolve_device(name: str, setting: str = "training.device") -> torch.device:
    """The torch device of a ``device`` setting (auto, cpu, cuda[:N]), refused when the machine has no such device."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            reason = ("this torch build has no CUDA support" if torch.version.cuda is None
                      else "no NVIDIA GPU or driver is visible (torch.cuda.is_available() is False)")
            raise EnvironmentProblem(f"{setting} is {name!r} but {reason}; use {setting}=cpu or auto, or run "
                                     f"on a machine with a GPU")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise EnvironmentProblem(f"{setting} is {name!r} but this machine has {count} CUDA device(s) "
                                     f"(cuda:0..cuda:{count - 1})")
    return device


PROGRESS_INTERVAL_SECONDS = 15.0


def progress(items: Iterable[T], total: int, what: str, unit: str = "item",
             interval: float = PROGRESS_INTERVAL_SECONDS) -> Iterator[T]:
    """Iterate ``items`` showing progress: a bar on a terminal, else a plain log line every ``interval`` s.

    Stages run under Snakemake and DVC write only their logs; a line ``what: done / total (pct),
    rate, about N s left`` lets a user see a long stage move and when it will end.
    """
    if show_progress():
        from tqdm import tqdm

        yield from tqdm(items, total=total, desc=what, unit=unit)
        return
    logger = logging.getLogger("searec.progress")
    started = last = time.monotonic()
    done = 0
    for item in items:
        yield item
        done += 1
        now = time.monotonic()
        if now - last >= interval and done < total:
            last = now
            rate = done / max(now - started, 1e-9)
            logger.info("%s: %d / %d %ss (%.0f%%), %.1f/s, about %.0f s left", what, done, total, unit,
                        100 * done / max(total, 1), rate, (total - done) / rate)
    logger.info("%s: %d %ss in %.1f s", what, done, unit, time.monotonic() - started)


def show_progress() -> bool:
    """Progress bars only on an interactive terminal; plain log lines in CI and pipelines."""
    return sys.stderr.isatty() and os.environ.get("CI", "").lower() not in {"1", "true"}


RUN_FACTS = ("seconds", "seconds_load", "seconds_forward", "items_per_second", "device", "fetched", "cached",
             "code_version")
"""Facts of one execution of a stage rather than of its inputs: timings, the device it ran on, what
happened to be cached, the git commit. They never enter a tracked output (which must be a function
of the stage's inputs, so that reruns and other machines give the same bytes and hashes)."""


def run_record_path(output: Path) -> Path:
    """Where the untracked record of the stage that wrote ``output`` goes: ``<output>.run.json`` beside it."""
    return output.with_name(output.name + ".run.json")


def split_run_facts(output: Path, summary: dict[str, object]) -> dict[str, object]:
    """Write ``summary``'s :data:`RUN_FACTS` (with host, time and code version) to the untracked record
    of ``output`` and return the rest: what the stage's tracked manifest may hold."""
    import datetime
    import json
    import socket

    from searec.fileio import write_text_atomic

    facts = {key: summary[key] for key in RUN_FACTS if key in summary}
    facts |= {"host": socket.gethostname(), "code_version": code_version(),
              "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}
    write_text_atomic(run_record_path(output), json.dumps(facts, indent=2, sort_keys=True) + "\n")
    return {key: value for key, value in summary.items() if key not in RUN_FACTS}


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
