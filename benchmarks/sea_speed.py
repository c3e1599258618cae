"""SEA training speed at Amazon-Baby scale on this CPU, with a breakdown and the matmul roofline.

    python benchmarks/sea_speed.py [--batches 8] [--split input] [--direct] [--data MMREC_FOLDER]

A Baby-shaped synthetic folder (19,445 users, 7,050 items, ~160k interactions, 4096-d image,
384-d text) is written once under --work. The script measures this machine's fp32 matmul peak
with a large torch.mm, then times ``--batches`` training batches (forward, backward, CLUB inner
steps, optimiser step) and one full validation evaluation, extrapolates to a 2048-batch epoch,
splits the forward with the profiler labels of searec.models.sea, counts the dense FLOPs of the
projection path, and prints peak RSS. ``--direct`` forms E_m = Linear(F_m) as the released code
does, for comparison with the default exact shortcut. ``--data`` times a real MMRec folder instead
(e.g. ../shared/data/tiktok, image + audio).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import baby_shaped_folder, peak_rss_mib  # noqa: E402

from searec.data.mmrec import load_mmrec_folder  # noqa: E402
from searec.models import ModelInputs  # noqa: E402
from searec.models.sea import SEA  # noqa: E402
from searec.training.evaluation import RankingEvaluator  # noqa: E402
from searec.training.sampling import NegativeSampler  # noqa: E402
from searec.training.trainer import ranking_score_function  # noqa: E402

LABELS = ("sea.encode", "sea.bpr", "sea.solosim", "sea.distance")


def matmul_peak_gflops(size: int = 4096, repeats: int = 3) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = min(_timed(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def _timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def projection_gflop_per_batch(model: SEA, n_items: int, direct: bool) -> float:
    """Dense FLOPs of the E_m path per batch (forward + backward), the part the shortcut changes."""
    total = 0.0
    for branch in model.branches.values():
        d = branch.projection.in_features
        width = sum(layer.out_features for layer, _ in branch._linear_consumers())
        if direct:  # E = F W_Eᵀ; consumers on E; backward: dE, dW_E, dW_consumers
            total += 2 * n_items * d * d * 2 + 2 * n_items * d * width * 3
        else:  # C = W_stack W_E; F Cᵀ; backward: dC = Gᵀ F, dW_E = W_stackᵀ dC, dW_stack = dC W_Eᵀ
            total += 2 * width * d * d * 3 + 2 * n_items * d * width * 2
    return total / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "searec-bench")
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--split", default="input", choices=("input", "output"))
    parser.add_argument("--direct", action="store_true", help="form E_m explicitly (released code's cost)")
    parser.add_argument("--data", type=Path, help="an MMRec folder to time instead of the Baby-shaped synthetic one")
    args = parser.parse_args()

    peak = matmul_peak_gflops()
    folder = args.data or baby_shaped_folder(args.work, image_dim=4096, text_dim=384)
    dataset = load_mmrec_folder(folder)
    print(f"data: {dataset.summary()}; torch threads {torch.get_num_threads()}")
    print(f"fp32 matmul peak (4096^3 torch.mm): {peak:.1f} GFLOP/s")

    torch.manual_seed(0)
    started = time.perf_counter()
    model = SEA(ModelInputs.from_dataset(dataset), {"split": args.split, "projection": "direct" if args.direct else "factored"})
    print(f"model construction (incl. two kNN item graphs): {time.perf_counter() - started:.1f} s")
    optimizer = torch.optim.Adam(model.trainable_parameters(), lr=1e-4)
    sampler = NegativeSampler(dataset.n_items, dataset.train.users, dataset.train.items)
    rng = np.random.default_rng(0)
    users = dataset.train.users[rng.permutation(len(dataset.train))][: args.batches * args.batch_size]
    order = rng.permutation(len(dataset.train))[: users.size]
    pos, neg = dataset.train.items[order], sampler.sample(users, rng)
    batches_per_epoch = math.ceil(len(dataset.train) / args.batch_size)

    phases = {"forward": 0.0, "backward": 0.0, "club_steps": 0.0, "optimizer": 0.0}
    model.train()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
        for index in range(args.batches):
            window = slice(index * args.batch_size, (index + 1) * args.batch_size)
            batch = [torch.from_numpy(a[window]) for a in (users, pos, neg)]
            t0 = time.perf_counter()
            loss = sum(model.loss_terms(*batch).values())
            t1 = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            t2 = time.perf_counter()
            model.after_backward()
            t3 = time.perf_counter()
            optimizer.step()
            t4 = time.perf_counter()
            for key, seconds in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                phases[key] += seconds
    labelled = {e.key: e.cpu_time_total / 1e6 for e in profiler.key_averages() if e.key in LABELS}
    evaluator = RankingEvaluator(dataset, "valid", (5, 10, 20, 50))
    evaluation = _timed(lambda: evaluator.evaluate(ranking_score_function(model)))

    per_batch = {key: value / args.batches for key, value in phases.items()}
    batch_seconds = sum(per_batch.values())
    epoch_seconds = batch_seconds * batches_per_epoch
    print(f"\n{'direct E_m (released code)' if args.direct else 'exact shortcut'}, split={args.split}, "
          f"{args.batches} batches of {args.batch_size} (profiled), epoch = {batches_per_epoch} batches")
    for key, value in per_batch.items():
        print(f"  {key:10s} {value:7.3f} s/batch  {value * batches_per_epoch:7.1f} s/epoch  "
              f"({value / batch_seconds:5.1%})")
    for key in LABELS:
        if key in labelled:
            print(f"    forward part {key:13s} {labelled[key] / args.batches:7.3f} s/batch")
    print(f"  evaluation (valid, full ranking): {evaluation:.2f} s")
    print(f"  training epoch ≈ {epoch_seconds:.1f} s + evaluation {evaluation:.1f} s")
    gflop = projection_gflop_per_batch(model, dataset.n_items, args.direct)
    achieved = gflop / (per_batch["forward"] + per_batch["backward"])
    print(f"  projection path: {gflop:.1f} GFLOP/batch -> {achieved:.1f} GFLOP/s over forward+backward "
          f"= {achieved / peak:.0%} of the measured matmul peak")
    print(f"  peak RSS: {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
