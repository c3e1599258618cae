"""Process-level helpers: the CPUs a process may use, progress lines off a terminal, run records, the
allocator setting of training processes."""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from searec.runtime import RUN_FACTS, available_cpus, configure_threads, progress, run_record_path, split_run_facts


def test_available_cpus_respects_affinity_and_scheduler_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLURM_CPUS_PER_TASK", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    allowed = len(os.sched_getaffinity(0))
    assert 1 <= available_cpus() <= allowed
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "1")
    assert available_cpus() == 1
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "not-a-number")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert available_cpus() == 1


def test_configure_threads_sets_and_reports_the_count() -> None:
    import torch

    before = torch.get_num_threads()
    try:
        assert configure_threads(1) == 1 == torch.get_num_threads()
        assert configure_threads(0) == available_cpus()
    finally:
        torch.set_num_threads(before)


def test_progress_off_a_terminal_is_plain_lines_with_rate_and_time_left(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="searec.progress")
    assert list(progress(range(5), 5, "images of x", "image", interval=0.0)) == [0, 1, 2, 3, 4]
    lines = [record.getMessage() for record in caplog.records]
    assert lines[0].startswith("images of x: 1 / 5 images (20%)") and "s left" in lines[0]
    assert lines[-1].startswith("images of x: 5 images in")


def test_run_facts_go_beside_the_output_not_into_it(tmp_path: Path) -> None:
    output = tmp_path / "processed" / "sample"
    summary = {"dataset": "sample", "counts": [1, 2], "seconds": 1.5, "code_version": "x", "device": "cpu"}
    tracked = split_run_facts(output, summary)
    assert tracked == {"dataset": "sample", "counts": [1, 2]}
    record = json.loads(run_record_path(output).read_text())
    assert run_record_path(output) == tmp_path / "processed" / "sample.run.json"
    assert record["seconds"] == 1.5 and record["device"] == "cpu" and {"host", "finished", "code_version"} <= set(record)
    assert set(RUN_FACTS) >= {"seconds", "items_per_second", "device", "cached", "fetched", "code_version"}


_FAULTS_OF_REPEATED_STEPS = """
import contextlib, resource, sys, torch
from searec.models.losses import info_nce
from searec.runtime import large_blocks_from_heap, reuse_freed_memory
mode, workload = sys.argv[1:]
setting = contextlib.nullcontext(True)
if mode == "reuse":  # as the trainer: process-wide, and around its batches
    assert reuse_freed_memory()
    setting = large_blocks_from_heap()
torch.set_num_threads(1)
if workload == "info_nce":
    anchors = torch.randn(7_050, 32, requires_grad=True)
    candidates = torch.randn(7_050, 32, requires_grad=True)
    step = lambda: info_nce(anchors, candidates, 0.2).backward()
else:  # a 4096² gradient as two 32 MiB row blocks put together: SEA's Baby projection
    step = lambda: torch.cat([torch.ones(2_048, 4_096), torch.ones(2_048, 4_096)]).sum()
with setting as took:
    assert took
    for _ in range(2):
        step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        step()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the allocator setting is glibc's mallopt")
@pytest.mark.parametrize("workload", ["info_nce", "projection_gradient"])
def test_reuse_freed_memory_ends_most_page_faults_of_repeated_temporaries(workload: str) -> None:
    """Temporaries allocated again every step fault their pages in every step under glibc's defaults;
    with the trainer's settings (:func:`reuse_freed_memory`, and :func:`large_blocks_from_heap` around the
    batches) the freed blocks are reused. Measured over these 10 steps on an AMD EPYC host: SEA's
    all-items InfoNCE at Baby's shape (7,050 items: 2 MiB logit chunks, 7,050 × 32 gradients) 46,800-
    139,300 faults by default, 660-950 with the settings; blocks of 32 MiB and more, which glibc maps
    afresh whatever its mmap threshold (capped at 32 MiB) unless mmap is off, 327,710 by default or with
    the threshold alone, 0-8,192 with both. (The CLUB inner steps, this test's first workload until their
    temporaries became feature-major 16 × 14,100 and 32 × 14,100 arrays, now fault 220-2,500 times in
    20 steps even by default: too few and too variable to show the setting.)"""
    def faults(mode: str) -> int:
        done = subprocess.run([sys.executable, "-c", _FAULTS_OF_REPEATED_STEPS, mode, workload],
                              capture_output=True, text=True, check=True)
        return int(done.stdout.split()[-1])

    default, reused = faults("default"), faults("reuse")
    assert default > 3_000  # the churn: 10 steps of temporaries
    assert reused * 3 < default
