from pathlib import Path

import pytest
import torch

from searec.data.mmrec import load_mmrec_folder
from searec.errors import ModelConfigError
from searec.models import ModelInputs, get_model_class, model_classes, resolve_params
from searec.models.lightgcn import LightGCN


@pytest.fixture(scope="module")
def inputs(tiny_synth: Path) -> ModelInputs:
    return ModelInputs.from_dataset(load_mmrec_folder(tiny_synth))


@pytest.mark.parametrize("name", sorted(model_classes()))
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


def test_every_model_declares_its_hyperparameters_once_with_a_meaning_and_a_reference_grid() -> None:
    for name, cls in model_classes().items():
        assert cls.default_params == {p.name: p.default for p in cls.hyperparameters}, name
        assert all(p.meaning for p in cls.hyperparameters), name
        assert cls.reference_grid, name  # MMRec's grid (BASELINES.md), searched when params.yaml gives none
        assert all(resolve_params(cls, {p.name: p.default}) == cls.default_params for p in cls.hyperparameters)


def test_out_of_range_and_unknown_values_are_refused_naming_what_is_accepted() -> None:
    lightgcn, sea = get_model_class("lightgcn"), get_model_class("sea")
    with pytest.raises(ModelConfigError, match=r"lightgcn.n_layers: -1 is out of range; expected >= 0"):
        resolve_params(lightgcn, {"n_layers": -1})
    with pytest.raises(ModelConfigError, match=r"lightgcn.embedding_size: 0 is out of range; expected \[1, 16384\]"):
        resolve_params(lightgcn, {"embedding_size": 0})
    with pytest.raises(ModelConfigError, match=r"reg_weight: -1.0 is out of range; expected >= 0"):
        resolve_params(lightgcn, {"reg_weight": -1})
    with pytest.raises(ModelConfigError, match=r"sea.split: expected one of input \| output, got 'middle'"):
        resolve_params(sea, {"split": "middle"})
    with pytest.raises(ModelConfigError, match=r"sea.tau: 0.0 is out of range; expected > 0"):
        resolve_params(sea, {"tau": 0})
    with pytest.raises(ModelConfigError, match=r"expected a finite number"):
        resolve_params(sea, {"alpha": float("nan")})
    with pytest.raises(ModelConfigError, match=r"has no hyper-parameter\(s\) \['alpah'\]; known: .*'alpha'"):
        resolve_params(sea, {"alpah": 0.1})


def test_presets_hold_only_deviations_from_the_declarations() -> None:
    import yaml

    from searec.presets import available_presets, preset_text

    for name in available_presets():
        params = yaml.safe_load(preset_text(name))
        for model, values in (params.get("models") or {}).items():
            cls = get_model_class(model)
            for key, value in values.items():
                assert key == "training" or resolve_params(cls, {key: value})[key] != cls.default_params[key], \
                    f"preset {name}: models.{model}.{key} repeats the declared default; remove it"


class _Interrupted(Exception):
    pass


@pytest.mark.parametrize("name", sorted(model_classes()))
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
                  on_epoch_end=stop_after_two, checkpoint_seconds=0)
    assert (tmp_path / "c" / "checkpoint.pt").exists()  # resumed below, not restarted
    resumed = train_run(dataset, name, {}, config, seed=3, run_dir=tmp_path / "c", graph_cache_dir=tmp_path / "g")
    assert comparable(resumed) == comparable(first)
