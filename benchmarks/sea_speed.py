"""SEA training speed on this CPU at a chosen shape, with a breakdown and its arithmetic floor.

    python benchmarks/sea_speed.py [--shape small|sample|baby|clothing] [--batches 8] [--split input]
                                   [--projection auto|factored|direct] [--data MMREC_FOLDER]

A synthetic folder of the shape (users, items, interactions of benchmarks/_common.SHAPES; 4096-d
image and 384-d text features; ``small`` is issue 16's 2,000 × 1,000) is written once under
--work; ``--data`` times a real MMRec folder instead (e.g. ../shared/data/tiktok, image + audio).
The script measures this machine's fp32 matmul peak with a large torch.mm, then times
``--batches`` training batches (forward, backward, CLUB inner steps, optimiser step) as the
trainer runs them (fused Adam, torch's deterministic mode on as ``training.deterministic``, the
trainer's allocator setting) after one warm-up batch, and one full validation evaluation;
extrapolates to an epoch; splits the forward with the profiler labels of searec.models.sea over
as many further batches (profiled apart from the timed ones); times the batches again with the
deterministic mode off (its cost); and prints peak RSS.

The floor (issue 16's) is the dense arithmetic the exact math needs per batch, at the measured
peak: the projection path in the cheaper association order (forward + backward, see
searec.models.sea) and the all-items InfoNCE (I² · h multiply-adds forward, twice that backward).
The sparse propagation, the CLUB inner steps, Adam and the memory traffic over the I × I logits
(exp, log-sum-exp) are not in it: they are what the batch's multiple of the floor shows.

Beside it, every matrix product one batch runs is counted with torch.utils.flop_counter (a sparse
factor at 2 · stored entries · width, not its dense shape): the forward and backward, and apart
the CLUB inner steps, which that floor calls overhead but which are ``club_steps`` × 2,560
multiply-adds a row (at TikTok's 13,420 stacked rows 3.4 GFLOP a batch, as much as a third of
that floor). The batch's multiple of all its arithmetic at the peak is printed too.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHAPES, baby_shaped_folder, peak_rss_mib  # noqa: E402

from searec.data.mmrec import InteractionDataset, load_mmrec_folder  # noqa: E402
from searec.models import ModelInputs  # noqa: E402
from searec.models.sea import SEA  # noqa: E402
from searec.runtime import large_blocks_from_heap, reuse_freed_memory, seed_everything  # noqa: E402
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


SMALL_SHAPE = (2_000, 1_000, 40_000)
"""Issue 16's small shape: 2,000 users × 1,000 items (about 20 interactions a user)."""


def projection_gflop_per_batch(model: SEA, n_items: int, order: str) -> float:
    """Dense FLOPs (2 per multiply-add) of the E_m path per batch, forward + backward, in ``order``: direct,
    factored, or the cheaper of the two for each modality (the floor)."""
    total = 0
    for branch in model.branches.values():
        cost = branch.projection_multiply_adds(n_items)
        total += 2 * (min(cost.values()) if order == "cheapest" else cost[order])
    return total / 1e9


def info_nce_gflop_per_batch(model: SEA, n_items: int) -> float:
    """The all-items Solosim InfoNCE: the I × I logits forward (2 I² h FLOPs) and twice that backward."""
    return 3 * 2 * n_items * n_items * model.params["head_out"] / 1e9


def _product_flops(a: torch.Tensor, b: torch.Tensor) -> int:
    """FLOPs (2 per multiply-add) of a @ b; a sparse factor counts its stored entries, not its dense shape."""
    if a.layout != torch.strided:
        return 2 * a._nnz() * b.shape[-1]
    if b.layout != torch.strided:
        return 2 * b._nnz() * a.shape[0]
    return 2 * a.shape[0] * a.shape[1] * b.shape[1]


def _mm_flops(a: torch.Tensor, b: torch.Tensor, *_: object, out_val: object = None, **__: object) -> int:
    return _product_flops(a, b)


def _addmm_flops(bias: torch.Tensor, a: torch.Tensor, b: torch.Tensor, *_: object, out_val: object = None,
                 **__: object) -> int:
    return _product_flops(a, b)


_mm_flops._get_raw = _addmm_flops._get_raw = True  # type: ignore[attr-defined]  # FlopCounterMode: tensors, not shapes
PRODUCT_FLOPS = {torch.ops.aten.mm: _mm_flops, torch.ops.aten.addmm: _addmm_flops,
                 torch.ops.aten.addmm_: _addmm_flops}
"""torch.utils.flop_counter formulas for the products SEA runs (its own mm/addmm formulas count a sparse
factor as dense, and it has none for the in-place addmm_ of the InfoNCE's candidate gradient)."""


def counted_gflop(step: Callable[[], object]) -> float:
    """GFLOPs of every matrix product ``step`` runs (:data:`PRODUCT_FLOPS`), counted by torch.utils.flop_counter."""
    with FlopCounterMode(display=False, custom_mapping=PRODUCT_FLOPS) as counter:
        step()
    return counter.get_total_flops() / 1e9


def timed_batches(dataset: InteractionDataset, args: argparse.Namespace, deterministic: bool
                  ) -> tuple[dict[str, float], dict[str, float], float, SEA, list[torch.Tensor]]:
    """Seconds per phase over ``args.batches`` training batches of a fresh SEA (seed 0), as the trainer runs
    them (fused Adam; the CLUB net at the training rate; torch's deterministic mode as
    ``training.deterministic``), after one untimed warm-up batch; the profiler's seconds per label of the
    forward over as many more batches (profiled apart: its per-op bookkeeping would be timed too); the
    warm-up batch's seconds (Adam's state, the allocator's first pages: once a run, not an epoch); and
    the next batch of the same passes (untouched: :func:`batch_arithmetic` counts it).

    Batches are cut from consecutive shuffled passes over the train split, so each holds
    ``args.batch_size`` interactions even where one epoch has fewer (the sample's 3,008)."""
    seed_everything(0, deterministic=deterministic)
    reuse_freed_memory()  # as the trainer
    started = time.perf_counter()
    model = SEA(ModelInputs.from_dataset(dataset), {"split": args.split, "projection": args.projection})
    print(f"model construction (incl. two kNN item graphs): {time.perf_counter() - started:.1f} s")
    model.use_training_learning_rate(1e-4)  # as the trainer: the CLUB net learns at the training rate
    optimizer = torch.optim.Adam(model.trainable_parameters(), lr=1e-4, fused=True)  # the trainer's optimiser
    sampler = NegativeSampler(dataset.n_items, dataset.train.users, dataset.train.items)
    rng = np.random.default_rng(0)
    needed = (2 + 2 * args.batches) * args.batch_size
    order = np.concatenate([rng.permutation(len(dataset.train)) for _ in range(-(-needed // len(dataset.train)))])
    users, pos = dataset.train.users[order], dataset.train.items[order]
    neg = sampler.sample(users, rng)
    phases = {"forward": 0.0, "backward": 0.0, "club_steps": 0.0, "optimizer": 0.0}
    model.train()

    def batch_tensors(index: int) -> list[torch.Tensor]:
        window = slice(index * args.batch_size, (index + 1) * args.batch_size)
        return [torch.from_numpy(a[window]) for a in (users, pos, neg)]

    def run_batch(index: int) -> tuple[float, ...]:
        batch = batch_tensors(index)
        t0 = time.perf_counter()
        loss = sum(model.loss_terms(*batch).values())
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        model.after_backward()
        t3 = time.perf_counter()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)  # as the trainer: right after the step
        t4 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t2, t4 - t3

    with large_blocks_from_heap():  # as the trainer's batch loop
        warm_up = sum(run_batch(0))
        for index in range(1, 1 + args.batches):
            for key, seconds in zip(phases, run_batch(index)):
                phases[key] += seconds
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
            for index in range(1 + args.batches, 1 + 2 * args.batches):
                run_batch(index)
    labelled = {e.key: e.cpu_time_total / 1e6 for e in profiler.key_averages() if e.key in LABELS}
    return phases, labelled, warm_up, model, batch_tensors(1 + 2 * args.batches)


def batch_arithmetic(model: SEA, batch: list[torch.Tensor]) -> dict[str, float]:
    """GFLOPs of the matrix products of one training batch: its forward + backward, then its CLUB steps.

    Run after the peak RSS is read: under the counter every op passes through Python, which can
    hold temporaries longer than a plain batch does."""
    model.train()  # the evaluation left it in eval mode
    return {"forward_backward": counted_gflop(lambda: sum(model.loss_terms(*batch).values()).backward()),
            "club_steps": counted_gflop(model.after_backward)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "searec-bench")
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--split", default="input", choices=("input", "output"))
    parser.add_argument("--projection", default="auto", choices=("auto", "factored", "direct"),
                        help="SEA's projection order (direct: E_m formed, the released code's cost)")
    parser.add_argument("--shape", default="baby", choices=("small", *SHAPES))
    parser.add_argument("--data", type=Path, help="an MMRec folder to time instead of a synthetic one")
    args = parser.parse_args()

    peak = matmul_peak_gflops()
    SHAPES.setdefault("small", SMALL_SHAPE)
    folder = args.data or baby_shaped_folder(args.work, image_dim=4096, text_dim=384, shape=args.shape)
    dataset = load_mmrec_folder(folder)
    print(f"data: {dataset.summary()}; torch threads {torch.get_num_threads()}")
    print(f"fp32 matmul peak (4096^3 torch.mm): {peak:.1f} GFLOP/s")

    phases, labelled, warm_up, model, next_batch = timed_batches(dataset, args, deterministic=True)  # as training
    evaluator = RankingEvaluator(dataset, "valid", (5, 10, 20, 50))
    evaluation = _timed(lambda: evaluator.evaluate(ranking_score_function(model)))
    rss = peak_rss_mib()  # before the second model below
    arithmetic = batch_arithmetic(model, next_batch)
    loose = sum(timed_batches(dataset, args, deterministic=False)[0].values()) / args.batches

    batches_per_epoch = math.ceil(len(dataset.train) / args.batch_size)
    per_batch = {key: value / args.batches for key, value in phases.items()}
    batch_seconds = sum(per_batch.values())
    epoch_seconds = batch_seconds * batches_per_epoch
    order = {name: "factored" if branch.uses_factored_order(dataset.n_items) else "direct"
             for name, branch in model.branches.items()}
    print(f"\nprojection {args.projection} (per modality: {order}), split={args.split}, "
          f"{args.batches} batches of {args.batch_size} after a warm-up batch of {warm_up:.2f} s, "
          f"epoch = {batches_per_epoch} batches")
    for key, value in per_batch.items():
        print(f"  {key:10s} {value:7.3f} s/batch  {value * batches_per_epoch:7.1f} s/epoch  "
              f"({value / batch_seconds:5.1%})")
    for key in LABELS:
        if key in labelled:
            print(f"    forward part {key:13s} {labelled[key] / args.batches:7.3f} s/batch (profiled batches)")
    print(f"  evaluation (valid, full ranking): {evaluation:.2f} s")
    print(f"  training epoch ≈ {epoch_seconds:.1f} s + evaluation {evaluation:.1f} s")
    cheapest = projection_gflop_per_batch(model, dataset.n_items, "cheapest")
    floor_gflop = cheapest + info_nce_gflop_per_batch(model, dataset.n_items)
    floor_seconds = floor_gflop / peak
    print(f"  floor: {cheapest:.2f} GFLOP projection (cheaper order) + "
          f"{info_nce_gflop_per_batch(model, dataset.n_items):.2f} GFLOP InfoNCE per batch = "
          f"{floor_seconds:.3f} s/batch at the peak; this batch takes {batch_seconds / floor_seconds:.2f}x the floor")
    counted = sum(arithmetic.values())
    print(f"  all matrix products of a batch (torch.utils.flop_counter): {arithmetic['forward_backward']:.2f} GFLOP "
          f"forward + backward, {arithmetic['club_steps']:.2f} GFLOP in the CLUB steps = {counted / peak:.3f} s/batch "
          f"at the peak; this batch takes {batch_seconds / (counted / peak):.2f}x that")
    print(f"  deterministic algorithms off (training.deterministic: false): {loose:.3f} s/batch, "
          f"{loose / batch_seconds:.2f}x the deterministic batch")
    print(f"  peak RSS (one model, before the deterministic-off timing): {rss:.0f} MiB")


if __name__ == "__main__":
    main()
