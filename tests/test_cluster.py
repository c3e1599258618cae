"""The tiny workflow through a real SLURM with the project's profile (``make test-cluster``).

Brings up a single-node SLURM (tests/slurm_cluster.py), runs the tiny workflow configuration with
``snakemake --profile workflow/profiles/slurm``, and checks that the jobs went through SLURM, that
the tracked outputs equal a local run's, that a second run submits nothing, and that a job
cancelled with ``scancel`` is reported as failed and completed by a rerun. Skipped (saying why)
without root, apt, free SLURM ports or the executor plugin.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from searec.plan import Plan
from searec.resources import job_group
from tests.slurm_cluster import single_node_slurm
from tests.test_workflow import TINY_PARAMS, _env, _run, _workspace

pytestmark = pytest.mark.cluster

SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+)")
SUBMITTED_LOG = re.compile(r"submitted with SLURM jobid \d+ \(log: (\S+)\)")
TIMINGS = {"seconds", "code_version"}  # a run's execution facts, not its result
UNTRACKED_SUFFIXES = (".log", ".run.json", ".lock")  # logs, run records, a run folder's lock (names its holder)


NODE_CPUS = min(os.cpu_count() or 1, 8)
"""The one node's CPUs: a group job may ask for no more (the profile's 8 is for real nodes)."""


def slurm_command(*extra: str) -> list[str]:
    """The user's command, with what a throwaway one-node cluster needs: no account, quick status checks."""
    return [sys.executable, "-m", "snakemake", "--profile", "workflow/profiles/slurm", "--slurm-no-account",
            "--slurm-init-seconds-before-status-checks", "5", "--latency-wait", "5", "--jobs", "4",
            "--cores", str(NODE_CPUS), *extra]


def expected_submissions(params: dict) -> set[str]:
    """One per group (its pattern filled with a job's fields), one per job outside a group."""
    submissions = set()
    for stage in Plan(params).stages:
        models = sorted({job.fields["model"] for job in stage.jobs.values() if "model" in job.fields})
        group = job_group(params, stage.name, models)
        for key, job in stage.jobs.items():
            submissions.add(group.format(**job.fields) if group else f"{stage.name}:{key}")
    return submissions


def run_on(cluster_env: dict[str, str], cwd: Path, timeout: int = 1500) -> subprocess.CompletedProcess[str]:
    return subprocess.run(slurm_command(), cwd=cwd, env=cluster_env, capture_output=True, text=True, timeout=timeout)


def tracked_files(root: Path) -> dict[str, bytes | dict]:
    """Every output file of the workflow, by path: bytes, or a metrics.json without its timings."""
    files: dict[str, bytes | dict] = {}
    for top in ("data", "search", "runs", "results"):
        for path in sorted((root / top).rglob("*")):
            if not path.is_file() or path.name.endswith(UNTRACKED_SUFFIXES) or path.name == "history.csv":
                continue
            name = str(path.relative_to(root))
            if path.name == "metrics.json":
                files[name] = {k: v for k, v in json.loads(path.read_text()).items() if k not in TIMINGS}
            else:
                files[name] = path.read_bytes()
    return files


def test_the_tiny_workflow_runs_through_slurm_as_it_runs_locally(tmp_path: Path) -> None:
    pytest.importorskip("snakemake_executor_plugin_slurm", reason="pip install -e '.[cluster]'")
    local = _workspace(tmp_path / "local")
    _run([sys.executable, "-m", "snakemake", "--cores", "2"], local)
    with single_node_slurm(tmp_path / "slurm") as cluster:
        env = _env() | {"SLURM_CONF": str(cluster.config)}
        project = _workspace(tmp_path / "on-slurm")
        first = run_on(env, project)
        assert first.returncode == 0, first.stderr[-4000:]
        submitted = SUBMITTED.findall(first.stderr + first.stdout)
        states = cluster.jobs()
        assert submitted and all(states.get(job) == "COMPLETED" for job in submitted), (submitted, states)
        assert tracked_files(project) == tracked_files(local)
        # short trainings travelled in groups: one submission per model x dataset x experiment, far fewer than jobs
        # (the plugin names each submission's SLURM log: logs/slurm/group_<id>_<rules>/<jobid>.log for a group)
        slurm_logs = SUBMITTED_LOG.findall(first.stderr + first.stdout)
        # (bpr's search: a grid group and a main group; SEA's: one job; test_workflow.TINY_PARAMS)
        for group in ("search-toy-bpr_", "main-toy-bpr_", "search-toy-sea_", "ablation-toy-sea_",
                      "sensitivity-toy-sea_", "report_"):
            assert any(f"/group_{group}" in log for log in slurm_logs), (group, slurm_logs)
        assert len(submitted) == len(expected_submissions(TINY_PARAMS))  # fewer than the jobs (the plan's groups)

        again = run_on(env, project)  # everything is up to date: nothing goes to the queue
        assert again.returncode == 0 and not SUBMITTED.findall(again.stderr + again.stdout)
        assert "Nothing to be done" in again.stderr + again.stdout
        assert cluster.jobs().keys() == states.keys()

        # a lost run and the table that reads it (Snakemake does not remake a missing intermediate file
        # whose consumers are up to date): the rerun trains it again, on the cluster
        run = project / "runs" / "toy" / "bpr" / "default" / "seed-1"
        for path in [*run.iterdir(), project / "results" / "tables" / "main.csv"]:
            path.unlink()
        before = set(cluster.jobs())
        # --retries 0: the profile would resubmit the cancelled job itself (retries: 2)
        cancelled = subprocess.Popen(slurm_command("--retries", "0"), cwd=project, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        deadline, victim = time.monotonic() + 300, None
        while victim is None and time.monotonic() < deadline:
            running = [job for job, state in cluster.jobs().items() if job not in before and state == "RUNNING"]
            victim = running[0] if running else None
            time.sleep(0.2)
        assert victim is not None, "the rerun of the training job never started on the cluster"
        cluster.run("scancel", victim)
        output, _ = cancelled.communicate(timeout=600)
        assert cancelled.returncode != 0, output[-3000:]
        # the failure names the group and the cancelled job's SLURM log, which SLURM's own line ends
        failed = re.search(rf"Error in group main-toy-bpr\s+log: (\S+/{victim}\.log)", output)
        assert failed, output[-3000:]
        assert f"JOB {victim} ON localhost CANCELLED" in Path(failed.group(1)).read_text()
        assert not (run / "metrics.json").exists()
        rerun = run_on(env, project)
        assert rerun.returncode == 0, rerun.stderr[-4000:]
        assert tracked_files(project) == tracked_files(local)
