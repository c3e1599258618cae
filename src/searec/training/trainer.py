"""The training loop: seeded epochs, early stopping, atomic checkpoints, exact resume.

One loop for every model: it only calls the model interface of :mod:`searec.models.base`.
A run directory holds::

    config.yaml      the resolved configuration (model, params, training, data, seed)
    checkpoint.pt    state after the last complete epoch (deleted once the run completes)
    history.csv      one row per epoch: each loss term, validation metrics, seconds
    model.pt         best-validation state dict (load with torch.load(..., weights_only=True))
    test_per_user.parquet  every test user's metrics (column ``user`` + one per metric): the
                     paired samples of significance tests between models
    metrics.json     the result: best epoch, validation and test metrics, timings, provenance
                     (written last: its presence marks a finished run)
    train.log        this run's log (appended to on resume; not tracked)
    .lock            held while a process works in the folder: a second one is refused, naming it

Nothing is written before the folder's lock is held and the run's identity is checked against a
finished result or a checkpoint there, so a refused run leaves the folder as it was.

Resuming restores model, optimiser, both random generators and the early-stopping state from
``checkpoint.pt``, so an interrupted run finishes exactly as an uninterrupted one would.

A finished run elsewhere with the same identity (model, resolved parameters, training settings,
seed, data) is the same computation: ``reuse_from`` copies its files instead of training again
(the grid-search run of the selected point at the seed it was searched with), and its
``metrics.json`` says ``reused_from``.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import json
import logging
import math
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from searec.codedeps import source_hashes, training_sources
from searec.data.mmrec import FEATURE_SUFFIX, InteractionDataset
from searec.errors import RunConflictError, SearecError, TrainingDivergedError
from searec.fileio import (
    FolderLockedError,
    atomic_path,
    exclusive_lock,
    save_torch_atomic,
    write_json_atomic,
    write_text_atomic,
)
from searec.layout import (
    RUN_CHECKPOINT,
    RUN_CHECKPOINT_SECONDS,
    RUN_CONFIG,
    RUN_HISTORY,
    RUN_LOCK,
    RUN_LOG,
    RUN_METRICS,
    RUN_MODEL,
    RUN_PER_USER_TEST,
)
from searec.models import ModelInputs, Recommender, get_model_class, resolve_params
from searec.runtime import (
    LOG_FORMAT,
    EnvironmentProblem,
    code_version,
    large_blocks_from_heap,
    resolve_device,
    reuse_freed_memory,
    seed_everything,
    show_progress,
)
from searec.training.config import TrainingConfig
from searec.training.evaluation import RankingEvaluation, RankingEvaluator, ScoreFunction
from searec.training.sampling import NegativeSampler

log = logging.getLogger(__name__)

CHECKPOINT = RUN_CHECKPOINT
HISTORY = RUN_HISTORY
METRICS = RUN_METRICS
PER_USER_TEST = RUN_PER_USER_TEST
CONFIG = RUN_CONFIG
MODEL = RUN_MODEL
HEADLINE_METRICS = ("recall@10", "recall@20", "ndcg@10", "ndcg@20")


class RunFolderBusyError(SearecError):
    """Another process is training in the same run folder."""


class DeterminismUnavailableError(SearecError):
    """An op has no deterministic kernel on this device while ``training.deterministic`` is on."""


@dataclass(frozen=True)
class RunSpec:
    """Everything that determines a run's result."""

    model: str
    params: dict[str, Any]
    training: TrainingConfig
    seed: int
    dataset: str
    inputs: dict[str, str]
    threads: int = 1
    """torch's CPU threads: results differ in the 5th digit between counts (reductions split differently)."""

    def identity(self) -> dict[str, Any]:
        """The configuration a checkpoint or finished run must match to be reused."""
        return _identity(self.model, self.params, self.training.to_dict(), self.seed, self.dataset, self.inputs,
                         self.threads)


def _identity(model: str, params: dict[str, Any], training: dict[str, Any], seed: int, dataset: str,
              inputs: dict[str, str], threads: int | None) -> dict[str, Any]:
    training = {key: value for key, value in training.items() if key != "device"}  # where it runs is not what it is
    return {"model": model, "params": params, "training": training, "seed": seed, "dataset": dataset,
            "inputs": inputs, "threads": threads}


def _difference(recorded: dict[str, Any], wanted: dict[str, Any]) -> str:
    """The identity entries that differ, ``key: recorded -> wanted`` (one level into params and training)."""
    changes = []
    for key in sorted(set(recorded) | set(wanted)):
        old, new = recorded.get(key), wanted.get(key)
        if isinstance(old, dict) and isinstance(new, dict) and key != "inputs":
            changes += [f"{key}.{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(set(old) | set(new))
                        if old.get(k) != new.get(k)]
        elif old != new:
            changes.append(f"{key}: changed" if key == "inputs" else f"{key}: {old!r} -> {new!r}")
    return "; ".join(changes) or "no difference found"


def write_per_user(path: Path, evaluation: RankingEvaluation) -> None:
    """One row per evaluated user: ``user`` and every metric (float64), written atomically."""
    import pandas as pd

    frame = pd.DataFrame({"user": evaluation.users.astype(np.int64)}
                         | {key: values.astype(np.float64) for key, values in evaluation.per_user.items()})
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def result_identity(result: dict[str, Any]) -> dict[str, Any]:
    """The identity of a finished run, read back from its ``metrics.json``."""
    params = {key: value for key, value in result["params"].items() if key != "training"}
    return _identity(result["model"], params, result["params"]["training"], result["seed"], result["dataset"],
                     result["inputs"], result.get("threads"))


def _not_deterministic(error: RuntimeError) -> DeterminismUnavailableError | None:
    """torch's refusal of an op without a deterministic kernel, as an error naming the op and the switch."""
    text = str(error)
    if "deterministic" not in text or "use_deterministic_algorithms" not in text:
        return None
    op = text.split(" does not have a deterministic implementation")[0].strip().splitlines()[-1]
    return DeterminismUnavailableError(
        f"{op} has no deterministic implementation on this device, and training.deterministic is on. Set "
        f"training.deterministic: false (results then vary in the last digits between same-seed runs) or "
        f"train on another device.")


def ranking_score_function(model: Recommender) -> ScoreFunction:
    """Fresh eval-mode representations, scored batch by batch as inner products."""
    model.eval()
    with torch.no_grad():
        user_repr, item_repr = model.ranking_representations()
        user_repr, item_repr = user_repr.detach(), item_repr.detach()

    def score_users(users: torch.Tensor) -> torch.Tensor:
        return user_repr[users] @ item_repr.T

    return score_users


def _history_csv(rows: list[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _rng_state_to_torch_safe(rng: np.random.Generator) -> dict[str, Any]:
    # Large Python ints survive ``weights_only=True`` loading; NumPy scalars would not.
    state = rng.bit_generator.state
    return {"bit_generator": state["bit_generator"],
            "state": {k: int(v) for k, v in state["state"].items()},
            "has_uint32": int(state["has_uint32"]), "uinteger": int(state["uinteger"])}


class Trainer:
    """Trains one model on one dataset with one seed into one run directory."""

    def __init__(self, dataset: InteractionDataset, spec: RunSpec, run_dir: Path,
                 on_epoch_end: Callable[[int], None] | None = None, graph_cache_dir: Path | None = None,
                 reuse_from: Path | None = None, annotations: dict[str, Any] | None = None,
                 checkpoint_seconds: float = RUN_CHECKPOINT_SECONDS) -> None:
        self.dataset = dataset
        self.checkpoint_seconds = checkpoint_seconds
        self.annotations = dict(annotations or {})  # written into metrics.json; not part of the identity
        self.reuse_from = None if reuse_from is None else Path(reuse_from)
        self.graph_cache_dir = graph_cache_dir
        self.spec = spec
        self.config = spec.training
        self.run_dir = Path(run_dir)
        self.on_epoch_end = on_epoch_end
        self.device = resolve_device(self.config.device)
        self._valid_users: tuple[int, int] = (0, 0)  # (evaluated, dropped cold users), set in run()

    # ------------------------------------------------------------------ public
    def run(self) -> dict[str, Any]:
        """Train (or resume, or return the finished result) and write the run directory.

        The folder's lock is taken first and the identity checked before anything is written.
        """
        self.dataset.require_evaluation_users()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            with exclusive_lock(self.run_dir / RUN_LOCK):
                return self._run_locked()
        except FolderLockedError as error:
            raise RunFolderBusyError(f"{self.run_dir} is in use by {error.holder} (lock {error.lock_file}); "
                                     f"wait for it to finish, or give this run another --out") from None

    def _run_locked(self) -> dict[str, Any]:
        finished = self._finished_result()
        if finished is not None:
            log.info("%s is complete (best epoch %d); nothing to do", self.run_dir, finished["best_epoch"])
            return finished
        checkpoint = self._checkpoint()
        with self._run_log(resumed=checkpoint is not None):
            if checkpoint is None:
                reused = self._reuse_identical_run()
                if reused is not None:
                    return reused
            try:
                return self._train(checkpoint)
            except (MemoryError, RuntimeError) as error:  # torch.OutOfMemoryError is a RuntimeError
                problem = self._explained(error)
                if problem is None:
                    raise
                raise problem from None

    def _explained(self, error: BaseException) -> SearecError | None:
        """A failure the user can act on, as one message: no memory, or an op without a deterministic kernel."""
        text = str(error)
        if isinstance(error, MemoryError | torch.OutOfMemoryError) or "can't allocate memory" in text:
            return EnvironmentProblem(f"{self.run_dir}: out of memory on {self.device} ({text[:160]}); lower "
                                      f"training.batch_size / eval_batch_size or the model's sizes, or run where "
                                      f"there is more memory")
        return _not_deterministic(error) if isinstance(error, RuntimeError) else None

    @contextlib.contextmanager
    def _run_log(self, resumed: bool) -> Iterator[None]:
        """Log into ``train.log`` for the block: a fresh run starts a fresh log, a resumed one appends."""
        handler = logging.FileHandler(self.run_dir / RUN_LOG, mode="a" if resumed else "w", encoding="utf-8")
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root = logging.getLogger()
        root.addHandler(handler)
        try:
            yield
        finally:
            root.removeHandler(handler)
            handler.close()

    def _train(self, checkpoint: dict[str, Any] | None) -> dict[str, Any]:
        # the configuration only (what the run is): where and from which commit it ran is in metrics.json
        write_text_atomic(self.run_dir / CONFIG, yaml.safe_dump(
            self.spec.identity() | {"training": self.config.to_dict()}, sort_keys=False))
        log.info("%s: %s on %s with seed %d, %d CPU thread(s), device %s%s", self.run_dir, self.spec.model,
                 self.spec.dataset, self.spec.seed, self.spec.threads, self.device,
                 "" if self.config.deterministic else ", deterministic algorithms off")
        seed_everything(self.spec.seed, self.config.deterministic)
        reuse_freed_memory()  # the same temporaries every step: no page faults for them (see there)
        model_cls = get_model_class(self.spec.model)
        model = model_cls(ModelInputs.from_dataset(self.dataset, self.graph_cache_dir), self.spec.params).to(self.device)
        model.use_training_learning_rate(self.config.learning_rate)
        # fused: Adam's update of every parameter in one kernel (CPU and CUDA), instead of ~10 passes over
        # each tensor (foreach) or a Python loop. The same formulas, rounded in another order (fused
        # multiply-adds); SEA on the sample: 13 % less time an epoch (its CLUB net takes 50 steps a batch)
        optimizer = torch.optim.Adam(model.trainable_parameters(), lr=self.config.learning_rate,
                                     weight_decay=self.config.weight_decay, fused=True)
        rng = np.random.default_rng(self.spec.seed)
        state = {"epoch": 0, "best_score": -math.inf, "best_epoch": -1, "evals_without_improvement": 0,
                 "history": [], "best_model": None}
        if checkpoint is not None:
            self._restore(checkpoint, model, optimizer, rng, state)

        sampler = NegativeSampler(self.dataset.n_items, self.dataset.train.users, self.dataset.train.items)
        valid_evaluator = RankingEvaluator(self.dataset, "valid", self.config.topk, self.config.eval_batch_size,
                                           self.device)
        self._valid_users = (int(valid_evaluator.users.size), valid_evaluator.cold_users_dropped)
        last_saved = time.monotonic()
        while state["epoch"] < self.config.epochs and not self._patience_exhausted(state):
            epoch = state["epoch"] + 1
            row = self._train_epoch(model, optimizer, sampler, rng, epoch)
            if epoch % self.config.eval_every == 0 or epoch == self.config.epochs:
                started = time.perf_counter()
                valid = valid_evaluator.evaluate(ranking_score_function(model)).means()
                row["eval_seconds"] = time.perf_counter() - started
                row.update({f"valid_{key}": value for key, value in valid.items()})
                score = valid[self.config.valid_metric]
                if score > state["best_score"]:
                    state["best_model"] = None  # released before the new copy: one copy in memory, not two
                    state.update(best_score=score, best_epoch=epoch, evals_without_improvement=0,
                                 best_model=copy.deepcopy(model.state_dict()))
                else:
                    state["evals_without_improvement"] += 1
            self._log_epoch(row, state)
            state["history"].append(row)
            state["epoch"] = epoch
            if time.monotonic() - last_saved >= self.checkpoint_seconds:
                self._save_checkpoint(model, optimizer, rng, state)
                last_saved = time.monotonic()
            if self.on_epoch_end is not None:
                self.on_epoch_end(epoch)
        if self._patience_exhausted(state):
            log.info("early stop at epoch %d: %s did not improve for %d evaluations (best %.4f at epoch %d)",
                     state["epoch"], self.config.valid_metric, state["evals_without_improvement"],
                     state["best_score"], state["best_epoch"])
        return self._finish(model, state)

    def _patience_exhausted(self, state: dict[str, Any]) -> bool:
        """MMRec's rule: stop once more than ``patience`` evaluations in a row brought no improvement.

        Read from the (possibly restored) state, so a run interrupted right after its stopping
        epoch stops on resume instead of training on.
        """
        return state["evals_without_improvement"] > self.config.patience

    # ----------------------------------------------------------------- epochs
    def _train_epoch(self, model: Recommender, optimizer: torch.optim.Optimizer, sampler: NegativeSampler,
                     rng: np.random.Generator, epoch: int) -> dict[str, Any]:
        started = time.perf_counter()
        model.train()
        model.before_epoch()
        train = self.dataset.train
        order = rng.permutation(len(train))
        users = train.users[order]
        pos_items = train.items[order]
        neg_items = sampler.sample(users, rng)
        sums: dict[str, float] = {}
        n_batches = math.ceil(len(train) / self.config.batch_size)
        batches = range(n_batches)
        if show_progress():
            from tqdm import tqdm

            batches = tqdm(batches, desc=f"epoch {epoch}", leave=False, unit="batch")
        with large_blocks_from_heap():  # the same large temporaries every batch: reused, not mapped afresh
            for index in batches:
                window = slice(index * self.config.batch_size, (index + 1) * self.config.batch_size)
                batch = [torch.from_numpy(a[window]).to(self.device) for a in (users, pos_items, neg_items)]
                terms = model.loss_terms(*batch)
                loss = torch.stack(list(terms.values())).sum()
                if not torch.isfinite(loss):
                    values = {k: float(v) for k, v in terms.items()}
                    raise TrainingDivergedError(f"epoch {epoch}, batch {index}: non-finite loss {values}; lower the "
                                             f"learning rate or check the input features")
                loss.backward()
                extra = model.after_backward()
                optimizer.step()
                # freed at once, not at the next batch: no gradient beside the next forward or the evaluation
                optimizer.zero_grad(set_to_none=True)
                for key, value in terms.items():
                    sums[key] = sums.get(key, 0.0) + float(value.detach())
                for key, value in extra.items():
                    sums[key] = sums.get(key, 0.0) + float(value)
                sums["loss"] = sums.get("loss", 0.0) + float(loss.detach())
        row: dict[str, Any] = {"epoch": epoch}
        row.update({f"loss_{key}" if key != "loss" else "loss": value / n_batches for key, value in sums.items()})
        row["train_seconds"] = time.perf_counter() - started
        return row

    def _log_epoch(self, row: dict[str, Any], state: dict[str, Any]) -> None:
        terms = ", ".join(f"{k[5:]} {v:.4g}" for k, v in row.items() if k.startswith("loss_"))
        message = f"epoch {row['epoch']}: loss {row['loss']:.4f} ({terms}) {row['train_seconds']:.2f}s"
        key = f"valid_{self.config.valid_metric}"
        if key in row:
            message += (f" | valid {self.config.valid_metric} {row[key]:.4f} {row['eval_seconds']:.2f}s"
                        f" | best {state['best_score']:.4f} @ {state['best_epoch']}")
        log.info(message)

    # ------------------------------------------------------------ persistence
    def _save_checkpoint(self, model: Recommender, optimizer: torch.optim.Optimizer, rng: np.random.Generator,
                         state: dict[str, Any]) -> None:
        payload = {
            "identity": self.spec.identity(),
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "numpy_rng": _rng_state_to_torch_safe(rng),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            **state,
        }
        save_torch_atomic(self.run_dir / CHECKPOINT, payload)
        write_text_atomic(self.run_dir / HISTORY, _history_csv(state["history"]))

    def _checkpoint(self) -> dict[str, Any] | None:
        """The folder's checkpoint when there is one, refused unless it belongs to this run."""
        path = self.run_dir / CHECKPOINT
        if not path.exists():
            return None
        try:
            payload = torch.load(path, map_location=self.device, weights_only=True)
        except (RuntimeError, EOFError, OSError, ValueError) as error:
            raise RunConflictError(f"{path}: not a readable checkpoint ({error}); it cannot be resumed. Delete "
                                   f"it to restart the run from epoch 0.") from None
        if payload["identity"] != self.spec.identity():
            raise RunConflictError(
                f"{path} belongs to a run with a different configuration, data or thread count "
                f"({_difference(payload['identity'], self.spec.identity())}); use another --out directory, "
                f"or delete {self.run_dir} to start over")
        return payload

    def _restore(self, payload: dict[str, Any], model: Recommender, optimizer: torch.optim.Optimizer,
                 rng: np.random.Generator, state: dict[str, Any]) -> None:
        model.load_state_dict(payload["model"])
        optimizer.load_state_dict(payload["optimizer"])
        rng.bit_generator.state = payload["numpy_rng"]
        torch.set_rng_state(payload["torch_rng"].cpu())
        if payload["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in payload["cuda_rng"]])
        for key in state:
            state[key] = payload[key]
        log.info("resuming %s after epoch %d (best %s %.4f at epoch %d)", self.run_dir, state["epoch"],
                 self.config.valid_metric, state["best_score"], state["best_epoch"])

    def _finished_result(self) -> dict[str, Any] | None:
        path = self.run_dir / METRICS
        if not path.exists():
            return None
        result = json.loads(path.read_text(encoding="utf-8"))
        if result_identity(result) != self.spec.identity():
            raise RunConflictError(f"{path} holds a finished run with a different configuration, data or thread "
                                   f"count ({_difference(result_identity(result), self.spec.identity())}); use "
                                   f"another --out directory, or delete {self.run_dir} to rerun")
        return result

    def _reuse_identical_run(self) -> dict[str, Any] | None:
        """Copy ``reuse_from``'s finished run when its identity equals this run's (else ``None``: train)."""
        if self.reuse_from is None or (self.run_dir / CHECKPOINT).exists():
            return None
        source = self.reuse_from / METRICS
        if not source.exists():
            log.info("%s has no finished run to reuse; training", self.reuse_from)
            return None
        result = json.loads(source.read_text(encoding="utf-8"))
        if result_identity(result) != self.spec.identity():
            log.info("%s differs from this run's configuration or data; training", self.reuse_from)
            return None
        for name in (CONFIG, HISTORY, MODEL, PER_USER_TEST):
            with atomic_path(self.run_dir / name) as tmp:
                shutil.copyfile(self.reuse_from / name, tmp)
        result.update(self.annotations, reused_from=str(self.reuse_from))
        write_json_atomic(self.run_dir / METRICS, result)
        log.info("%s reuses %s: the same model, parameters, training settings, seed and data", self.run_dir,
                 self.reuse_from)
        return result

    def _finish(self, model: Recommender, state: dict[str, Any]) -> dict[str, Any]:
        if state["best_model"] is None:  # every evaluation scored NaN (no evaluable user is refused earlier)
            raise TrainingDivergedError(f"{self.run_dir}: no validation evaluation gave a number for "
                                        f"{self.config.valid_metric}; the scores are not finite")
        model.load_state_dict(state["best_model"])
        save_torch_atomic(self.run_dir / MODEL, state["best_model"])
        test_evaluator = RankingEvaluator(self.dataset, "test", self.config.topk, self.config.eval_batch_size,
                                          self.device)
        started = time.perf_counter()
        test = test_evaluator.evaluate(ranking_score_function(model))
        test_seconds = time.perf_counter() - started
        history = state["history"]
        best_row = next(row for row in history if row["epoch"] == state["best_epoch"])
        valid = {key[len("valid_"):]: value for key, value in best_row.items() if key.startswith("valid_")}
        train_seconds = [row["train_seconds"] for row in history]
        eval_seconds = [row["eval_seconds"] for row in history if "eval_seconds" in row]
        result = {
            "model": self.spec.model,
            "dataset": self.spec.dataset,
            "seed": self.spec.seed,
            "best_epoch": state["best_epoch"],
            "epochs_run": state["epoch"],
            "valid_metric": self.config.valid_metric,
            "valid": valid,
            "test": test.means(),
            "evaluated_users": {"valid": self._valid_users[0], "test": int(test.users.size)},
            "cold_users_dropped": {"valid": self._valid_users[1], "test": test.cold_users_dropped},
            "seconds": {
                "train_epoch_mean": float(np.mean(train_seconds)),
                "eval_mean": float(np.mean(eval_seconds)),
                "total": float(np.sum(train_seconds) + np.sum(eval_seconds) + test_seconds),
            },
            "params": self.spec.params | {"training": self.config.to_dict()},
            "inputs": self.spec.inputs,
            "code_version": code_version(),
            "code": source_hashes(training_sources(self.spec.model)),  # the files this run ran, by content
            "device": str(self.device),
            "threads": self.spec.threads,
        } | self.annotations
        write_per_user(self.run_dir / PER_USER_TEST, test)
        write_text_atomic(self.run_dir / HISTORY, _history_csv(history))
        write_json_atomic(self.run_dir / METRICS, result)
        (self.run_dir / CHECKPOINT).unlink(missing_ok=True)
        headline = ", ".join(f"{k} {result['test'][k]:.4f}" for k in HEADLINE_METRICS if k in result["test"])
        log.info("%s done: best epoch %d; test %s", self.run_dir, state["best_epoch"], headline)
        return result


def train_run(dataset: InteractionDataset, model: str, params: dict[str, Any], training: TrainingConfig,
              seed: int, run_dir: Path, on_epoch_end: Callable[[int], None] | None = None,
              graph_cache_dir: Path | None = None, reuse_from: Path | None = None,
              annotations: dict[str, Any] | None = None, threads: int | None = None,
              checkpoint_seconds: float = RUN_CHECKPOINT_SECONDS) -> dict[str, Any]:
    """Resolve the model's parameters and train one run (see :class:`Trainer`).

    ``annotations`` (e.g. the grid-search selection the parameters came from) are added to
    ``metrics.json``; they do not change what the run is. ``threads``: torch's CPU thread count
    the caller set (default: the current one), recorded and part of the run's identity.
    ``checkpoint_seconds``: see :data:`searec.layout.RUN_CHECKPOINT_SECONDS`; how often a run saves is not what it is.
    """
    model_cls = get_model_class(model)
    inputs = {name: digest for name, digest in dataset.source_files.items()
              if model_cls.uses_features or not name.endswith(FEATURE_SUFFIX)}
    spec = RunSpec(model=model_cls.name, params=resolve_params(model_cls, params), training=training, seed=seed,
                   dataset=dataset.name, inputs=inputs, threads=threads or torch.get_num_threads())
    return Trainer(dataset, spec, run_dir, on_epoch_end, graph_cache_dir, reuse_from, annotations,
                   checkpoint_seconds).run()
