"""Seconds of ``searec status`` on the paper preset with every output present (1,081 jobs).

    python benchmarks/status_speed.py [--preset paper]

A scratch project holds the preset's params.yaml, a copy of ``src/`` (the code inputs) and an
empty file or folder for every input and output the plan names, outputs newer than inputs (all
jobs done: the most files to look at). ``searec status`` then runs in a fresh process, three
times; printed: the jobs counted and the best wall time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def fill(root: Path, preset: str) -> None:
    """Every input and output of the preset's plan under ``root``, outputs 10 s newer."""
    from searec.params import read_params
    from searec.plan import Plan

    subprocess.run([sys.executable, "-m", "searec", "preset", "use", preset, "--params", str(root / "params.yaml")],
                   check=True, capture_output=True)
    shutil.copytree(PROJECT_ROOT / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    plan = Plan(read_params(root / "params.yaml"))
    later = time.time() + 10
    for stage in plan.stages:
        for job in stage.jobs.values():
            for path in job.snakemake_inputs:
                target = root / path
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.touch()
            for path in job.snakemake_outputs:
                target = root / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.touch()
                os.utime(target, (later, later))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="paper")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        fill(root, args.preset)
        best, last = float("inf"), ""
        for _ in range(3):
            started = time.perf_counter()
            last = subprocess.run([sys.executable, "-m", "searec", "status"], cwd=root, check=True,
                                  capture_output=True, text=True).stdout
            best = min(best, time.perf_counter() - started)
        print(last.splitlines()[-1])
        print(f"searec status, {args.preset} preset: {best:.2f} s (best of 3, fresh process each)")


if __name__ == "__main__":
    main()
