from pathlib import Path

import pytest
import torch

from searec.data.mmrec import load_mmrec_folder
from searec.errors import ModelConfigError
from searec.models import MODEL_REGISTRY, ModelInputs, get_model_class, resolve_params
from searec.models.lightgcn import LightGCN


@pytest.fixture(scope="module")
def inputs(tiny_synth: Path) -> ModelInputs:
    return ModelInputs.from_dataset(load_mmrec_folder(tiny_synth))


@pytest.mark.parametrize("name", sorted(MODEL_REGISTRY))
def test_every_model_follows_the_interface(name: str, inputs: ModelInputs) -> None:
    torch.manual_seed(0)
    model = get_model_class(name)(inputs, {})
    users, pos, neg = torch.tensor([0, 1, 2, 3]), torch.tensor([0, 1, 2, 3]), torch.tensor([4, 5, 6, 7])
    terms = model.loss_terms(users, pos, neg)
    assert terms and all(t.ndim == 0 and torch.isfinite(t) for t in terms.values())
    torch.stack(list(terms.values())).sum().backward()
    grads = [p.grad for p in model.trainable_parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)
    model.eval()
    with torch.no_grad():
        user_repr, item_repr = model.ranking_representations()
    assert user_repr.shape[0] == inputs.n_users and item_repr.shape[0] == inputs.n_items
    assert model.after_backward() == {} or isinstance(model.after_backward(), dict)


def test_lightgcn_is_the_mean_of_propagated_layers(inputs: ModelInputs) -> None:
    torch.manual_seed(0)
    model = LightGCN(inputs, {"n_layers": 2})
    dense = model.adjacency.to_dense()
    ego = torch.cat([model.user_embedding, model.item_embedding]).detach()
    expected = (ego + dense @ ego + dense @ dense @ ego) / 3
    users, items = model.propagate()
    assert torch.allclose(torch.cat([users, items]), expected, atol=1e-5)


def test_lightgcn_with_zero_layers_is_matrix_factorisation(inputs: ModelInputs) -> None:
    model = LightGCN(inputs, {"n_layers": 0})
    users, items = model.propagate()
    assert torch.equal(users, model.user_embedding) and torch.equal(items, model.item_embedding)


def test_parameter_resolution_checks_names_and_types() -> None:
    cls = get_model_class("LightGCN")
    assert resolve_params(cls, {"n_layers": 3.0, "reg_weight": 1}) == {"embedding_size": 64, "n_layers": 3,
                                                                      "reg_weight": 1.0}
    with pytest.raises(ModelConfigError, match="no hyper-parameter"):
        resolve_params(cls, {"layers": 3})
    with pytest.raises(ModelConfigError, match="expected an integer"):
        resolve_params(cls, {"n_layers": 2.5})
    with pytest.raises(ModelConfigError, match="unknown model 'sea2'"):
        get_model_class("sea2")


def test_exponent_floats_written_without_a_dot_are_numbers() -> None:
    """PyYAML reads `1e-5` as a string; a hyper-parameter must still get the number."""
    assert resolve_params(get_model_class("bpr"), {"reg_weight": "1e-5"})["reg_weight"] == 1e-5


def test_params_yaml_declares_every_model_with_its_defaults_and_a_grid() -> None:
    import yaml

    from tests.conftest import PROJECT_ROOT

    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    for name, cls in MODEL_REGISTRY.items():
        assert resolve_params(cls, params["models"][name]) == cls.default_params, name
        assert params["grids"][name] and set(params["grids"][name]) <= set(cls.default_params), name


class _Interrupted(Exception):
    pass


@pytest.mark.parametrize("name", sorted(MODEL_REGISTRY))
def test_every_model_reproduces_its_run_from_a_seed_and_after_an_interruption(name: str, tiny_synth: Path,
                                                                               tmp_path: Path) -> None:
    """Same seed, same numbers; a run cut after epoch 2 and resumed from its checkpoint ends identically.

    Covers the models with state across batches or epochs: FREEDOM's pruned graph, LATTICE's
    epoch graph, LGMRec's Gumbel noise, SEA's inner optimiser, BM3's dropout targets.
    """
    from searec.training.config import TrainingConfig
    from searec.training.trainer import train_run

    dataset = load_mmrec_folder(tiny_synth)
    config = TrainingConfig(epochs=3, patience=100, batch_size=512, device="cpu")
    comparable = lambda result: {k: v for k, v in result.items() if k not in {"seconds", "code_version"}}  # noqa: E731
    first = train_run(dataset, name, {}, config, seed=3, run_dir=tmp_path / "a", graph_cache_dir=tmp_path / "g")
    second = train_run(dataset, name, {}, config, seed=3, run_dir=tmp_path / "b", graph_cache_dir=tmp_path / "g")
    assert comparable(first) == comparable(second)

    def stop_after_two(epoch: int) -> None:
        if epoch == 2:
            raise _Interrupted

    with pytest.raises(_Interrupted):
        train_run(dataset, name, {}, config, seed=3, run_dir=tmp_path / "c", graph_cache_dir=tmp_path / "g",
                  on_epoch_end=stop_after_two)
    resumed = train_run(dataset, name, {}, config, seed=3, run_dir=tmp_path / "c", graph_cache_dir=tmp_path / "g")
    assert comparable(resumed) == comparable(first)
