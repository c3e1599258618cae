"""Evaluation speed: searec's vectorised full ranking vs MMRec's evaluator logic.

Baby's shape (19,445 users × 7,050 items). Both evaluators receive the same score matrix, batch
by batch, mask the same training items and take the same top-50; they differ in what follows
(and in how the mask is prepared). The MMRec re-implementation below follows MMRec's
``EvalDataLoader`` (per-user mask lists), ``TopKEvaluator.evaluate`` (per-user Python membership
test ``i in m`` of top-K against held-out items) and ``utils/metrics.py`` (with its per-row
loops), faithfully but without its file output.

    python benchmarks/eval_speed.py [--data MMREC_FOLDER] [--repeats 3]

Prints seconds per full evaluation (and the part after top-K alone), the ratio, and the largest
metric difference between the two (must be ~0).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import baby_shaped_folder, best_of  # noqa: E402

from searec.data.mmrec import InteractionDataset, load_mmrec_folder  # noqa: E402
from searec.training.evaluation import RankingEvaluator, score_matrix_function  # noqa: E402

TOPK = [5, 10, 20, 50]


# ------------------------------------------------------------- MMRec, re-implemented faithfully
def mmrec_recall(pos_index: np.ndarray, pos_len: np.ndarray) -> np.ndarray:
    return (np.cumsum(pos_index, axis=1) / pos_len.reshape(-1, 1)).mean(axis=0)


def mmrec_ndcg(pos_index: np.ndarray, pos_len: np.ndarray) -> np.ndarray:
    len_rank = np.full_like(pos_len, pos_index.shape[1])
    idcg_len = np.where(pos_len > len_rank, len_rank, pos_len)
    iranks = np.zeros_like(pos_index, dtype=np.float64)
    iranks[:, :] = np.arange(1, pos_index.shape[1] + 1)
    idcg = np.cumsum(1.0 / np.log2(iranks + 1), axis=1)
    for row, idx in enumerate(idcg_len):
        idcg[row, idx:] = idcg[row, idx - 1]
    ranks = np.zeros_like(pos_index, dtype=np.float64)
    ranks[:, :] = np.arange(1, pos_index.shape[1] + 1)
    dcg = 1.0 / np.log2(ranks + 1)
    dcg = np.cumsum(np.where(pos_index, dcg, 0), axis=1)
    return (dcg / idcg).mean(axis=0)


def mmrec_map(pos_index: np.ndarray, pos_len: np.ndarray) -> np.ndarray:
    pre = pos_index.cumsum(axis=1) / np.arange(1, pos_index.shape[1] + 1)
    sum_pre = np.cumsum(pre * pos_index.astype(np.float64), axis=1)
    len_rank = np.full_like(pos_len, pos_index.shape[1])
    actual_len = np.where(pos_len > len_rank, len_rank, pos_len)
    result = np.zeros_like(pos_index, dtype=np.float64)
    for row, lens in enumerate(actual_len):
        ranges = np.arange(1, pos_index.shape[1] + 1)
        ranges[lens:] = ranges[lens - 1]
        result[row] = sum_pre[row] / ranges
    return result.mean(axis=0)


def mmrec_precision(pos_index: np.ndarray, pos_len: np.ndarray) -> np.ndarray:
    return (pos_index.cumsum(axis=1) / np.arange(1, pos_index.shape[1] + 1)).mean(axis=0)


class MMRecStyleEvaluator:
    """MMRec's EvalDataLoader + TopKEvaluator, on the same users as searec's evaluator."""

    def __init__(self, dataset: InteractionDataset, split: str, users: np.ndarray, batch_size: int = 4096) -> None:
        self.users = users
        self.batch_size = batch_size
        train_items = {}
        for u, i in zip(dataset.train.users.tolist(), dataset.train.items.tolist()):
            train_items.setdefault(u, []).append(i)
        held_out = {}
        part = dataset.splits[split]
        for u, i in zip(part.users.tolist(), part.items.tolist()):
            held_out.setdefault(u, []).append(i)
        # EvalDataLoader._get_pos_items_per_u: (row-in-eval, item) pairs of training items
        rows, cols = [], []
        for index, user in enumerate(users.tolist()):
            rows.extend([index] * len(train_items[user]))
            cols.extend(train_items[user])
        self.mask = torch.tensor([rows, cols])
        self.train_len = [len(train_items[u]) for u in users.tolist()]
        self.eval_items = [np.array(held_out[u]) for u in users.tolist()]
        self.eval_len = np.array([len(held_out[u]) for u in users.tolist()])

    def collect(self, score_users) -> np.ndarray:
        batches, inter_pr = [], 0
        for start in range(0, self.users.size, self.batch_size):
            users = torch.from_numpy(self.users[start:start + self.batch_size])
            count = sum(self.train_len[start:start + self.batch_size])
            mask = self.mask[:, inter_pr:inter_pr + count].clone()
            mask[0] -= start
            inter_pr += count
            scores = score_users(users)
            scores[mask[0], mask[1]] = -1e10
            _, topk_index = torch.topk(scores, max(TOPK), dim=-1)
            batches.append(topk_index)
        return torch.cat(batches, dim=0).cpu().numpy()

    def metrics(self, topk_index: np.ndarray) -> dict[str, float]:
        bool_rec_matrix = []
        for m, n in zip(self.eval_items, topk_index):
            bool_rec_matrix.append([True if i in m else False for i in n])
        bool_rec_matrix = np.asarray(bool_rec_matrix)
        out = {}
        for name, function in (("recall", mmrec_recall), ("ndcg", mmrec_ndcg), ("precision", mmrec_precision),
                               ("map", mmrec_map)):
            values = function(bool_rec_matrix, self.eval_len)
            for k in TOPK:
                out[f"{name}@{k}"] = float(values[k - 1])
        return out

    def evaluate(self, score_users) -> dict[str, float]:
        return self.metrics(self.collect(score_users))


# ------------------------------------------------------------------------------------ main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="MMRec folder (default: a Baby-shaped synthetic one)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "searec-bench")
    parser.add_argument("--split", default="test", choices=("valid", "test"))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    folder = args.data or baby_shaped_folder(args.work)
    dataset = load_mmrec_folder(folder)
    print(f"data: {dataset.summary()}; torch threads {torch.get_num_threads()}")

    started = time.perf_counter()
    ours = RankingEvaluator(dataset, args.split, TOPK, batch_size=4096)
    ours_setup = time.perf_counter() - started
    started = time.perf_counter()
    reference = MMRecStyleEvaluator(dataset, args.split, ours.users, batch_size=4096)
    mmrec_setup = time.perf_counter() - started
    print(f"evaluated users: {ours.users.size}; setup once per run: searec {ours_setup:.3f} s, "
          f"MMRec-style {mmrec_setup:.3f} s")

    generator = torch.Generator().manual_seed(0)
    user_repr = torch.randn(dataset.n_users, 64, generator=generator)
    item_repr = torch.randn(dataset.n_items, 64, generator=generator)
    matrix = (user_repr @ item_repr.T).numpy()
    scorers = {
        "embeddings (trainer: u @ i.T per batch)": lambda users: user_repr[users] @ item_repr.T,
        "score matrix (searec metrics: rows of a .npy)": score_matrix_function(matrix),
    }
    for label, score_users in scorers.items():
        ours_total, ours_result = best_of(args.repeats, lambda f=score_users: ours.evaluate(f).means())
        mmrec_total, mmrec_result = best_of(args.repeats, lambda f=score_users: reference.evaluate(f))
        ours_rank, ranked = best_of(args.repeats, lambda f=score_users: ours.rank(f))
        mmrec_rank, topk_index = best_of(args.repeats, lambda f=score_users: reference.collect(f))
        ours_logic, _ = best_of(args.repeats, lambda r=ranked: ours.metrics(r))
        mmrec_logic, _ = best_of(args.repeats, lambda top=topk_index: reference.metrics(top))
        difference = max(abs(ours_result[k] - mmrec_result[k]) for k in ours_result)
        print(f"\n{label}")
        print(f"  full evaluation (score, mask, top-50, metrics): searec {ours_total:.3f} s | MMRec-style "
              f"{mmrec_total:.3f} s | ratio {mmrec_total / ours_total:.1f}x")
        print(f"  scoring + mask + top-50 alone:       searec {ours_rank:.3f} s | MMRec-style {mmrec_rank:.3f} s")
        print(f"  evaluator logic after top-50 alone:  searec {ours_logic:.3f} s | MMRec-style {mmrec_logic:.3f} s | "
              f"ratio {mmrec_logic / ours_logic:.0f}x")
        print(f"  largest metric difference between the two: {difference:.1e}")


if __name__ == "__main__":
    main()
