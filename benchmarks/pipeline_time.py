"""Where `make run`'s time goes: every process of one local pipeline run, its CPU and wall time.

    python benchmarks/pipeline_time.py [--work DIR] [--cores N]

The committed HEAD is cloned into --work (a clean tree, as `make run` sees it on a fresh clone)
and run with the local profile (``snakemake --workflow-profile workflow/profiles/default``) with
this interpreter's ``bin/`` first on PATH. A ``sitecustomize.py`` on PYTHONPATH makes every
Python process of the run (Snakemake, each ``searec`` stage, a data loader's workers) append its
command, start, wall time and CPU time (its own and its children's) to ``usage.jsonl`` when it
exits. Printed: the run's wall time and CPU time; per command (per model for the training
batches) the processes, CPU and wall seconds; and for the trainings the seconds their runs report
in ``metrics.json`` (``seconds.total``) against their processes' CPU: the difference is process
start (Python, torch, torch.optim's import of dynamo), loading and writing. Several minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
USAGE_HOOK = '''import atexit, json, os, resource, sys, time
_started = time.time()
def _record():
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(os.environ["SEAREC_USAGE_FILE"], "a", encoding="utf-8") as out:
        out.write(json.dumps({"argv": sys.argv, "start": _started, "wall": time.time() - _started,
                              "own_cpu": own.ru_utime + own.ru_stime,
                              "children_cpu": children.ru_utime + children.ru_stime}) + "\\n")
atexit.register(_record)
'''
MODEL_OPTION = re.compile(r"--model (\w+)")


def command_name(argv: list[str]) -> str:
    """``snakemake``, ``train-batch <model>`` or the searec command (with its subcommand)."""
    if "snakemake" in (Path(argv[0]).name, Path(argv[0]).parent.name):  # its script, or python -m snakemake
        return "snakemake"
    words = argv[1:]
    if not words:
        return Path(argv[0]).name
    if words[0] in ("train", "train-batch"):
        found = MODEL_OPTION.search(" ".join(words))
        return f"{words[0]} {found.group(1) if found else '?'}"
    if words[0] in ("data", "features") and len(words) > 1:
        return " ".join(words[:2])
    return words[0]


def in_run_seconds(tree: Path) -> dict[str, float]:
    """Seconds the trained runs report (``seconds.total``), per model; reused runs (copies) count nothing."""
    seconds: dict[str, float] = defaultdict(float)
    for metrics in [*tree.glob("runs/*/*/*/seed-*/metrics.json"), *tree.glob("search/*/grid/*/*/seed-*/metrics.json")]:
        record = json.loads(metrics.read_text(encoding="utf-8"))
        if "reused_from" not in record:
            seconds[record["model"]] += float(record["seconds"]["total"])
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a new temporary one)")
    parser.add_argument("--cores", default=None, help="Snakemake's --cores (default: the profile's, all)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="searec-pipeline-time-"))
    tree, hook = work / "tree", work / "hook"
    subprocess.run(["git", "clone", "--quiet", str(PROJECT_ROOT), str(tree)], check=True)
    hook.mkdir(parents=True, exist_ok=True)
    (hook / "sitecustomize.py").write_text(USAGE_HOOK, encoding="utf-8")
    usage = work / "usage.jsonl"
    usage.unlink(missing_ok=True)
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                        "PYTHONPATH": f"{hook}{os.pathsep}{tree / 'src'}", "SEAREC_USAGE_FILE": str(usage)}
    command = [sys.executable, "-m", "snakemake", "--workflow-profile", "workflow/profiles/default"]
    command += ["--cores", args.cores] if args.cores else []
    started = time.perf_counter()
    subprocess.run(command, cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)

    records = [json.loads(line) for line in usage.read_text(encoding="utf-8").splitlines()]
    by_command: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for record in records:
        name = command_name(record["argv"])
        row = by_command[name]
        row[0] += 1
        # a job's CPU with its children's (a data loader's workers); Snakemake's own only (its children are the jobs)
        row[1] += record["own_cpu"] + (0.0 if name == "snakemake" else record["children_cpu"])
        row[2] += record["wall"]
    print(f"tree: {tree} (HEAD of {PROJECT_ROOT})")
    print(f"wall {wall:.0f} s ({wall / 60:.1f} min); CPU {children.ru_utime + children.ru_stime:.0f} s (user+sys of "
          f"the run); {len(records)} Python processes")
    print("\n| command | processes | CPU s | wall s |\n|---|---|---|---|")
    for name, (count, cpu, seconds) in sorted(by_command.items(), key=lambda item: -item[1][1]):
        print(f"| {name} | {count} | {cpu:.1f} | {seconds:.1f} |")
    trained = in_run_seconds(tree)
    print("\n| model | runs' own seconds | processes | their CPU s | start, load, write per process s |")
    print("|---|---|---|---|---|")
    for model, seconds in sorted(trained.items(), key=lambda item: -item[1]):
        count, cpu, _ = next((row for name, row in by_command.items() if name.endswith(f" {model}")), (0, 0.0, 0.0))
        print(f"| {model} | {seconds:.1f} | {count} | {cpu:.1f} | {(cpu - seconds) / max(count, 1):.1f} |")


if __name__ == "__main__":
    main()
