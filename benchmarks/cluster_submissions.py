"""Jobs and scheduler submissions of each preset under each workflow profile (Snakemake dry runs).

    python benchmarks/cluster_submissions.py [--presets quick,paper]

For each preset the project's workflow is copied into a scratch folder (``Snakefile``,
``workflow/``, ``src/`` linked) with ``searec preset use NAME`` there, and ``snakemake -n`` runs
under the local profile (``--workflow-profile workflow/profiles/default``) and under the SLURM
profile (``--profile workflow/profiles/slurm``; the plugin must be installed, ``.[cluster]``).
Printed per preset and profile: the jobs, and the submissions a cluster would see — each group
job (``Group job …`` in the dry run) once, every job outside a group once; locally every job is
its own process. Needs no cluster: a dry run submits nothing.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PROFILES = {"default": ["--workflow-profile", "workflow/profiles/default"],
            "slurm": ["--profile", "workflow/profiles/slurm"]}
GROUP_LINE = re.compile(r"^\[[^]]+\] Group job (\S+) ")
JOB_LINE = re.compile(r"^(\s*)(?:local)?rule (\w+):$")
NOT_SUBMITTED = {"all"}  # the target rule runs nothing


def scratch_project(root: Path, preset: str) -> Path:
    """The workflow's files in ``root`` with params.yaml := preset ``preset``."""
    for name in ("Snakefile", "params.yaml", "dvc.yaml"):
        shutil.copy2(PROJECT_ROOT / name, root / name)
    shutil.copytree(PROJECT_ROOT / "workflow", root / "workflow")
    (root / "src").symlink_to(PROJECT_ROOT / "src")
    subprocess.run([sys.executable, "-m", "searec", "preset", "use", preset, "--params", str(root / "params.yaml"),
                    "--force"], check=True, capture_output=True, text=True)
    return root


def dry_run(root: Path, profile: str) -> tuple[int, int, float]:
    """(jobs, submissions, seconds) of ``snakemake -n`` under ``profile`` in ``root``."""
    started = time.perf_counter()
    completed = subprocess.run([sys.executable, "-m", "snakemake", "-n", *PROFILES[profile]], cwd=root,
                               capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"snakemake -n ({profile}) failed:\n{completed.stderr[-3000:]}")
    jobs = groups = ungrouped = 0
    for line in (completed.stdout + completed.stderr).splitlines():
        if GROUP_LINE.match(line):
            groups += 1
        found = JOB_LINE.match(line)
        if found and found.group(2) not in NOT_SUBMITTED:
            jobs += 1
            ungrouped += not found.group(1)  # a group's member jobs are indented under it
    return jobs, (groups + ungrouped) if profile == "slurm" else jobs, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default="quick,paper")
    args = parser.parse_args()
    print("| preset | profile | jobs | submissions | dry run (s) |\n|---|---|---|---|---|")
    for preset in args.presets.split(","):
        with tempfile.TemporaryDirectory() as scratch:
            root = scratch_project(Path(scratch), preset)
            for profile in PROFILES:
                jobs, submissions, seconds = dry_run(root, profile)
                print(f"| {preset} | {profile} | {jobs} | {submissions} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
