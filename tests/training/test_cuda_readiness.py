"""The CUDA path, checked where no GPU is: the ops every model and the evaluator run against torch's
list of ops that have no deterministic CUDA kernel, every tensor a model holds moving with it, and
determinism's environment set before CUDA work. ``benchmarks/gpu_check.py`` is the check on a GPU.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from searec.data.mmrec import load_mmrec_folder
from searec.models import ModelInputs, get_model_class, model_classes
from searec.runtime import CUBLAS_WORKSPACE, seed_everything
from searec.training.evaluation import RankingEvaluator
from searec.training.trainer import _not_deterministic, ranking_score_function

# torch.use_deterministic_algorithms' list of ops that RAISE on CUDA in deterministic mode (torch
# 2.14's docstring), each with the aten ops it dispatches to. A torch upgrade that adds an entry
# fails test_the_list_covers_torchs_docstring until the entry is mapped here.
THROWS_ON_CUDA: dict[str, tuple[str, ...]] = {
    "torch.nn.AvgPool3d": ("avg_pool3d_backward",),
    "torch.nn.AdaptiveAvgPool2d": ("_adaptive_avg_pool2d_backward",),
    "torch.nn.AdaptiveAvgPool3d": ("_adaptive_avg_pool3d_backward",),
    "torch.nn.AdaptiveMaxPool2d": ("adaptive_max_pool2d_backward",),
    "torch.nn.FractionalMaxPool2d": ("fractional_max_pool2d_backward",),
    "torch.nn.FractionalMaxPool3d": ("fractional_max_pool3d_backward",),
    "torch.nn.MaxUnpool1d": ("max_unpool2d",),
    "torch.nn.MaxUnpool2d": ("max_unpool2d",),
    "torch.nn.MaxUnpool3d": ("max_unpool3d",),
    "torch.nn.functional.interpolate": ("upsample_linear1d_backward", "upsample_bilinear2d_backward",
                                        "upsample_bicubic2d_backward", "upsample_trilinear3d_backward"),
    "torch.nn.ReflectionPad1d": ("reflection_pad1d_backward",),
    "torch.nn.ReflectionPad2d": ("reflection_pad2d_backward",),
    "torch.nn.ReflectionPad3d": ("reflection_pad3d_backward",),
    "torch.nn.NLLLoss": ("nll_loss_forward", "nll_loss2d_forward"),
    "torch.nn.CTCLoss": ("_ctc_loss_backward",),
    "torch.nn.EmbeddingBag": ("_embedding_bag_backward", "_embedding_bag_dense_backward"),
    "torch.Tensor.put_": ("put_", "put"),
    "torch.histc": ("histc",),
    "torch.bincount": ("bincount",),
    "torch.median": ("median",),
    "torch.nn.functional.grid_sample": ("grid_sampler_2d_backward", "grid_sampler_3d_backward"),
    "torch.Tensor.scatter_reduce": ("scatter_reduce.prod", "scatter_reduce_.prod"),  # sum/mean/amax/amin are fine
    "torch.Tensor.resize_": (),  # only with a quantized tensor: none here
}


class OpRecorder(TorchDispatchMode):
    """Every aten op (its overload packet's name) dispatched inside the block, forward and backward."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        name = func.overloadpacket.__name__
        if name.startswith("scatter_reduce"):  # only reduce="prod" lacks a deterministic CUDA kernel
            name = f"{name}.{(kwargs or {}).get('reduce', args[3] if len(args) > 3 else '?')}"
        self.ops.add(name)
        return func(*args, **(kwargs or {}))


def _throwing_section() -> str:
    doc = torch.use_deterministic_algorithms.__doc__ or ""
    start = doc.index("operations will throw a")
    return doc[start:doc.index("In addition", start)]


def test_the_list_covers_torchs_docstring() -> None:
    named = set(re.findall(r":(?:class|func):`(torch\.[\w.]+)`", _throwing_section()))
    assert named, "torch's docstring changed shape: re-read use_deterministic_algorithms"
    assert named <= set(THROWS_ON_CUDA), f"new ops to map: {sorted(named - set(THROWS_ON_CUDA))}"


@pytest.fixture(scope="module")
def dataset(tiny_synth: Path):  # type: ignore[no-untyped-def]
    return load_mmrec_folder(tiny_synth)


@pytest.mark.parametrize("name", sorted(model_classes()))
def test_no_model_runs_an_op_without_a_deterministic_cuda_kernel(name: str, dataset) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    model = get_model_class(name)(ModelInputs.from_dataset(dataset), {})
    optimizer = torch.optim.Adam(model.trainable_parameters(), lr=1e-3)
    evaluator = RankingEvaluator(dataset, "valid", (10, 20), 64)
    users, pos, neg = torch.tensor([0, 1, 2, 3]), torch.tensor([0, 1, 2, 3]), torch.tensor([4, 5, 6, 7])
    recorder = OpRecorder()
    with recorder:
        model.train()
        model.before_epoch()
        loss = torch.stack(list(model.loss_terms(users, pos, neg).values())).sum()
        optimizer.zero_grad()
        loss.backward()
        model.after_backward()
        optimizer.step()
        evaluator.evaluate(ranking_score_function(model))
    forbidden = {op: entry for entry, ops in THROWS_ON_CUDA.items() for op in ops if op in recorder.ops}
    assert not forbidden, f"{name} runs ops that raise on CUDA in deterministic mode: {forbidden}"
    assert "mm" in recorder.ops or "addmm" in recorder.ops or "bmm" in recorder.ops  # the recorder saw the work


@pytest.mark.parametrize("name", sorted(model_classes()))
def test_every_tensor_a_model_holds_moves_with_it(name: str, dataset) -> None:  # type: ignore[no-untyped-def]
    """A plain tensor attribute would stay on the CPU when the trainer calls ``model.to(device)``:
    every tensor a module holds must be a parameter or a buffer (or be rebuilt on the buffers'
    device each epoch, as FREEDOM's pruned graph is)."""
    model = get_model_class(name)(ModelInputs.from_dataset(dataset), {})
    model.before_epoch()
    rebuilt_each_epoch = {"pruned_adjacency"}
    loose = [f"{module_name or type(model).__name__}.{attribute}"
             for module_name, module in model.named_modules()
             for attribute, value in vars(module).items()
             if isinstance(value, torch.Tensor) and not attribute.startswith("_") and attribute not in rebuilt_each_epoch]
    assert not loose, f"{name} holds tensors that .to(device) does not move: {loose}"


def test_seeding_sets_cublas_workspace_before_cuda_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    seed_everything(0)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == CUBLAS_WORKSPACE
    assert torch.are_deterministic_algorithms_enabled()
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")  # a user's own choice is kept
    seed_everything(0)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"
    seed_everything(0, deterministic=False)
    assert not torch.are_deterministic_algorithms_enabled()
    seed_everything(0)


def test_torchs_refusal_of_an_op_becomes_an_error_naming_it_and_the_setting() -> None:
    message = ("adaptive_max_pool2d_backward_cuda does not have a deterministic implementation, but you set "
               "'torch.use_deterministic_algorithms(True)'. You can turn off determinism just for this operation...")
    problem = _not_deterministic(RuntimeError(message))
    assert problem is not None
    assert "adaptive_max_pool2d_backward_cuda" in str(problem) and "training.deterministic: false" in str(problem)
    assert _not_deterministic(RuntimeError("CUDA out of memory")) is None


def test_a_cuda_device_without_a_gpu_is_one_clear_error() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    from searec.runtime import EnvironmentProblem, resolve_device

    with pytest.raises(EnvironmentProblem, match=r"training.device is 'cuda' but .*use training.device=cpu or auto"):
        resolve_device("cuda")
    assert resolve_device("auto") == torch.device("cpu")
