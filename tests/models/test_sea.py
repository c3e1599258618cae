from pathlib import Path

import numpy as np
import pytest
import torch

from searec.data.mmrec import load_mmrec_folder
from searec.errors import ModelConfigError
from searec.models import ModelInputs
from searec.models.layers import resolve_modalities
from searec.models.sea import SEA, ModalityBranch
from searec.training.config import TrainingConfig
from searec.training.trainer import train_run

BATCH = (torch.tensor([0, 1, 2, 3, 4]), torch.tensor([0, 1, 2, 3, 4]), torch.tensor([5, 6, 7, 8, 9]))


@pytest.fixture(scope="module")
def inputs(tiny_synth: Path) -> ModelInputs:
    return ModelInputs.from_dataset(load_mmrec_folder(tiny_synth))


def make(inputs: ModelInputs, **params) -> SEA:
    torch.manual_seed(0)
    return SEA(inputs, params)


@pytest.mark.parametrize("split", ["input", "output"])
def test_factored_projection_equals_the_direct_computation(inputs: ModelInputs, split: str) -> None:
    """SEA.md's shortcut: same outputs and same gradients as forming E_m = Linear(F_m)."""
    factored, direct = make(inputs, split=split, projection="factored"), make(inputs, split=split, projection="direct")
    direct.load_state_dict(factored.state_dict())
    torch.manual_seed(1)
    loss_f = sum(factored.loss_terms(*BATCH).values())
    torch.manual_seed(1)
    loss_d = sum(direct.loss_terms(*BATCH).values())
    assert float(loss_f.detach()) == pytest.approx(float(loss_d.detach()), rel=1e-5)
    loss_f.backward()
    loss_d.backward()
    for (name, p_f), (_, p_d) in zip(factored.named_parameters(), direct.named_parameters()):
        if p_f.grad is not None:
            assert torch.allclose(p_f.grad, p_d.grad, rtol=1e-4, atol=1e-6), name


def test_auto_projection_takes_the_cheaper_order_for_the_item_count(inputs: ModelInputs) -> None:
    branch = make(inputs).branches["image"]  # features of width d, stacked consumers of width w
    d = branch.projection.in_features
    width = sum(layer.out_features for layer, _ in branch._linear_consumers())
    assert not branch.factored_is_cheaper(1) and branch.factored_is_cheaper(100 * max(width, d))
    baby = ModalityBranch(19_445, 4096, make(inputs).params)  # SEA.md's shape: factoring pays there
    assert baby.factored_is_cheaper(7050) and not baby.factored_is_cheaper(238)


def test_each_ablation_switch_changes_exactly_its_terms(inputs: ModelInputs) -> None:
    def terms(**params) -> dict[str, float]:
        model = make(inputs, **params)
        torch.manual_seed(1)
        return {k: float(v.detach()) for k, v in model.loss_terms(*BATCH).items()}

    full = terms()
    assert set(full) == {"bpr", "solo", "club_image", "club_text"}
    no_club, no_solo, neither = terms(ureg=0.0), terms(alpha=0.0), terms(ureg=0.0, alpha=0.0)
    assert no_club["club_image"] == no_club["club_text"] == 0 and no_club["solo"] == full["solo"]
    assert no_solo["solo"] == 0 and no_solo["club_image"] == full["club_image"]
    assert neither["solo"] == neither["club_image"] == neither["club_text"] == 0
    assert full["bpr"] == no_club["bpr"] == no_solo["bpr"] == neither["bpr"]
    assert set(terms(distance="neg_l2")) == {"bpr", "solo", "neg_l2_image", "neg_l2_text"}


def test_variational_net_learns_only_in_the_hook(inputs: ModelInputs) -> None:
    model = make(inputs, club_steps=5)
    main_ids = {id(p) for p in model.trainable_parameters()}
    assert not any(id(p) in main_ids for p in model.variational_net.parameters())
    before = [p.detach().clone() for p in model.variational_net.parameters()]
    sum(model.loss_terms(*BATCH).values()).backward()
    logged = model.after_backward()
    assert set(logged) == {"club_net_loglik"}
    assert any(not torch.equal(a, p) for a, p in zip(before, model.variational_net.parameters()))
    assert make(inputs, distance="neg_l2").after_backward() == {}


def test_modalities_resolve_for_amazon_and_tiktok_layouts() -> None:
    assert resolve_modalities(["image", "text"], "auto", "auto") == ("image", "text")
    assert resolve_modalities(["audio", "image"], "auto", "auto") == ("image", "audio")
    assert resolve_modalities(["audio", "image"], "audio", "image") == ("audio", "image")
    with pytest.raises(ModelConfigError, match="two item modalities"):
        resolve_modalities(["image"], "auto", "auto")
    with pytest.raises(ModelConfigError, match="not in the dataset"):
        resolve_modalities(["image", "text"], "auto", "audio")


@pytest.mark.parametrize("split", ["input", "output"])
def test_both_readings_train_and_a_seed_reproduces_the_run(tiny_synth: Path, tmp_path: Path, split: str) -> None:
    dataset = load_mmrec_folder(tiny_synth)
    config = TrainingConfig(epochs=4, patience=100, batch_size=256, learning_rate=1e-3, device="cpu")
    params = {"split": split, "club_steps": 5, "alpha": 0.1}
    first = train_run(dataset, "sea", params, config, seed=3, run_dir=tmp_path / "a")
    second = train_run(dataset, "sea", params, config, seed=3, run_dir=tmp_path / "b")
    assert first["test"] == second["test"] and first["valid"] == second["valid"]
    history = (tmp_path / "a" / "history.csv").read_text().splitlines()
    header = history[0].split(",")
    assert {"loss_bpr", "loss_solo", "loss_club_image", "loss_club_text", "loss_club_net_loglik"} <= set(header)
    losses = [float(line.split(",")[header.index("loss")]) for line in history[1:]]
    assert losses[-1] < losses[0]
    assert set(first["inputs"]) == {"tiny.inter", "image_feat.npy", "text_feat.npy"}
    assert first["params"]["split"] == split and first["params"]["knn_k"] == 10


def test_interrupted_sea_run_resumes_exactly(tiny_synth: Path, tmp_path: Path) -> None:
    """The CLUB net's own optimiser state travels in the checkpoint (as module extra state)."""
    dataset = load_mmrec_folder(tiny_synth)
    config = TrainingConfig(epochs=4, patience=100, batch_size=256, device="cpu")
    params = {"club_steps": 3}
    reference = train_run(dataset, "sea", params, config, seed=1, run_dir=tmp_path / "whole")

    class Stop(Exception):
        pass

    def stop_after_two(epoch: int) -> None:
        if epoch == 2:
            raise Stop

    with pytest.raises(Stop):
        train_run(dataset, "sea", params, config, seed=1, run_dir=tmp_path / "cut", on_epoch_end=stop_after_two,
                  checkpoint_seconds=0)
    assert (tmp_path / "cut" / "checkpoint.pt").exists()  # resumed below, not restarted
    resumed = train_run(dataset, "sea", params, config, seed=1, run_dir=tmp_path / "cut")
    assert resumed["test"] == reference["test"] and resumed["valid"] == reference["valid"]
    state = torch.load(tmp_path / "whole" / "model.pt", weights_only=True)
    assert "_extra_state" in state and np.isfinite(float(state["user_modality_weight"].sum()))


def test_stacked_club_likelihood_equals_the_per_modality_sum(inputs: ModelInputs) -> None:
    model = make(inputs)
    generator = torch.Generator().manual_seed(0)
    pairs = [(torch.randn(60, 32, generator=generator), torch.randn(60, 32, generator=generator)) for _ in range(2)]
    separate = sum(model.variational_net.log_likelihood(a, b) for a, b in pairs)
    stacked = 2 * model.variational_net.log_likelihood(torch.cat([a for a, _ in pairs]), torch.cat([b for _, b in pairs]))
    assert float(separate.detach()) == pytest.approx(float(stacked.detach()), rel=1e-6)


def test_item_graphs_are_built_once_per_feature_content(tiny_synth: Path, tmp_path: Path) -> None:
    dataset = load_mmrec_folder(tiny_synth)
    first = SEA(ModelInputs.from_dataset(dataset, graph_cache_dir=tmp_path), {})
    assert len(list(tmp_path.glob("knn-*-k10.npz"))) == 2  # one per modality
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.glob("*.npz")}
    second = SEA(ModelInputs.from_dataset(dataset, graph_cache_dir=tmp_path), {})
    assert {p: p.stat().st_mtime_ns for p in tmp_path.glob("*.npz")} == stamps  # read, not rebuilt
    assert torch.equal(first.item_graph.to_dense(), second.item_graph.to_dense())
    SEA(ModelInputs.from_dataset(dataset, graph_cache_dir=tmp_path), {"knn_k": 5})
    assert len(list(tmp_path.glob("*.npz"))) == 4


@pytest.mark.slow
def test_sea_finds_the_planted_content_signal_that_bpr_misses(small_synth: Path, tmp_path: Path) -> None:
    """On planted data where content decides preferences, SEA beats BPR-MF trained to early stopping."""
    dataset = load_mmrec_folder(small_synth)
    bpr = train_run(dataset, "bpr", {}, TrainingConfig(learning_rate=5e-3, patience=20, device="cpu"), seed=0,
                    run_dir=tmp_path / "bpr")
    sea_config = TrainingConfig(epochs=30, patience=10, learning_rate=5e-3, device="cpu")
    sea = train_run(dataset, "sea", {"alpha": 0.1}, sea_config, seed=0, run_dir=tmp_path / "sea",
                    graph_cache_dir=tmp_path / "graphs")
    assert sea["valid"]["recall@20"] > 1.15 * bpr["valid"]["recall@20"]


def _released_loglik(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The released CLUB's ``loglikeli`` written out from its formula: mean_n Σ_d [−(μ − y)² / (2 e^ℓ) − ℓ / 2]."""
    (w1, b1), (w2, b2) = [(layer.weight, layer.bias) for layer in (net.mean[0], net.mean[2])]
    (v1, c1), (v2, c2) = [(layer.weight, layer.bias) for layer in (net.log_variance[0], net.log_variance[2])]
    mu = torch.relu(x @ w1.T + b1) @ w2.T + b2
    log_var = torch.tanh(torch.relu(x @ v1.T + c1) @ v2.T + c2)
    return (-(mu - y) ** 2 / (2 * torch.exp(log_var)) - log_var / 2).sum(dim=1).mean()


def _adam_by_hand(params: list[torch.Tensor], grads_at, lr: float, steps: int) -> list[torch.Tensor]:
    """``steps`` Adam updates (β = 0.9, 0.999, ε = 1e-8, bias-corrected), the gradient at each step from ``grads_at``."""
    params = [p.detach().clone() for p in params]
    first = [torch.zeros_like(p) for p in params]
    second = [torch.zeros_like(p) for p in params]
    for t in range(1, steps + 1):
        for p, g, m, v in zip(params, grads_at(params), first, second):
            m.mul_(0.9).add_(0.1 * g)
            v.mul_(0.999).add_(0.001 * g * g)
            p.sub_(lr * (m / (1 - 0.9**t)) / ((v / (1 - 0.999**t)).sqrt() + 1e-8))
    return params


@pytest.mark.parametrize("fit", ["cross_modal", "within_modality"])
def test_club_inner_steps_are_the_released_updates_on_the_chosen_pairs(inputs: ModelInputs, fit: str) -> None:
    """cross_modal: Adam on −[loglik(a_t → a_v) + loglik(b_t → b_v)] (released trainer.py:192-201);
    within_modality: on −Σ_m loglik(a_m → b_m). Expected parameters built by hand from the formulas."""
    model = make(inputs, club_fit=fit, club_steps=3, club_learning_rate=0.01)
    generator = torch.Generator().manual_seed(5)
    parts = {m: (torch.randn(40, 32, generator=generator), torch.randn(40, 32, generator=generator))
             for m in model.modalities}
    (a_t, b_t), (a_v, b_v) = parts[model.textual], parts[model.visual]
    pairs = [(a_t, a_v), (b_t, b_v)] if fit == "cross_modal" else [parts[m] for m in model.modalities]
    net = model.variational_net
    start = [p.detach().clone() for p in net.parameters()]

    def gradients(values: list[torch.Tensor]) -> list[torch.Tensor]:
        with torch.no_grad():
            for p, value in zip(net.parameters(), values):
                p.copy_(value)
        loss = -sum(_released_loglik(net, x, y) for x, y in pairs)
        return list(torch.autograd.grad(loss, list(net.parameters())))

    before_last = _adam_by_hand(start, gradients, lr=0.01, steps=2)
    gradients(before_last)  # the net at the last step's start: what the logged log-likelihood is taken at
    with torch.no_grad():
        logged_expected = float(sum(_released_loglik(net, x, y) for x, y in pairs))
    expected = _adam_by_hand(start, gradients, lr=0.01, steps=3)
    with torch.no_grad():
        for p, value in zip(net.parameters(), start):
            p.copy_(value)
    model._club_inputs = model.club_fit_pairs(parts)
    logged = model.after_backward()
    assert logged["club_net_loglik"] == pytest.approx(logged_expected, rel=1e-5)  # the sum over pairs, not a mean
    for name, (got, want) in zip([n for n, _ in net.named_parameters()], zip(net.parameters(), expected)):
        assert torch.allclose(got, want, rtol=1e-5, atol=1e-6), name
    other = make(inputs, club_fit="within_modality" if fit == "cross_modal" else "cross_modal")
    assert [tuple(map(id, pair)) for pair in other.club_fit_pairs(parts)] != [tuple(map(id, p)) for p in pairs]


def test_the_club_steps_are_the_optimisers_own_updates(inputs: ModelInputs) -> None:
    """``_club_adam_step`` (the optimiser's update function on its state) moves the net bitwise as
    ``variational_optimizer.step()`` does with the same gradients, and leaves the same optimiser state."""
    direct, stepped = make(inputs), make(inputs)
    generator = torch.Generator().manual_seed(3)
    for _ in range(4):
        gradients = [torch.randn(p.shape, generator=generator) for p in direct.variational_net.parameters()]
        direct._club_adam_step([g.clone() for g in gradients])
        for parameter, gradient in zip(stepped.variational_net.parameters(), gradients):
            parameter.grad = gradient
        stepped.variational_optimizer.step()
    for got, want in zip(direct.variational_net.parameters(), stepped.variational_net.parameters()):
        assert torch.equal(got, want)
    got_state, want_state = direct.variational_optimizer.state_dict(), stepped.variational_optimizer.state_dict()
    assert got_state["param_groups"] == want_state["param_groups"]
    for index, state in want_state["state"].items():
        assert all(torch.equal(got_state["state"][index][key], value) for key, value in state.items())


def test_the_club_net_learns_at_the_training_rate_unless_given_its_own(tiny_synth: Path, tmp_path: Path) -> None:
    dataset = load_mmrec_folder(tiny_synth)
    config = TrainingConfig(epochs=1, patience=100, batch_size=512, learning_rate=0.02, device="cpu")
    for params, rate in (({"club_steps": 1}, 0.02), ({"club_steps": 1, "club_learning_rate": 1e-4}, 1e-4)):
        run = tmp_path / str(rate)
        train_run(dataset, "sea", params, config, seed=0, run_dir=run)
        state = torch.load(run / "model.pt", weights_only=True)["_extra_state"]
        assert [group["lr"] for group in state["variational_optimizer"]["param_groups"]] == [rate]
