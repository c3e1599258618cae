"""Known answers for the shared loss terms (searec.models.losses)."""

import numpy as np
import pytest
import torch

from searec.models import losses
from searec.models.losses import (
    GaussianVariationalNet,
    bpr_loss,
    half_squared_penalty,
    info_nce,
    mmrec_embedding_penalty,
    pairwise_bpr,
)


def test_bpr_loss_known_values() -> None:
    pos = torch.tensor([2.0, 0.0])
    neg = torch.tensor([0.0, 0.0])
    expected = -(np.log(1 / (1 + np.exp(-2.0))) + np.log(0.5)) / 2
    assert float(bpr_loss(pos, neg)) == pytest.approx(expected, rel=1e-6)


def test_mmrec_penalty_is_sum_of_frobenius_norms_over_batch_size() -> None:
    a = torch.tensor([[3.0, 4.0], [0.0, 0.0]])  # ‖a‖ = 5
    b = torch.tensor([[1.0, 0.0], [0.0, 0.0]])  # ‖b‖ = 1
    assert float(mmrec_embedding_penalty(a, b)) == pytest.approx((5 + 1) / 2)


def test_pairwise_bpr_in_base_2_is_the_natural_one_over_ln_2() -> None:
    torch.manual_seed(0)
    u, p, n = torch.randn(5, 4), torch.randn(5, 4), torch.randn(5, 4)
    natural = pairwise_bpr(u, p, n)
    margin = (u * p).sum(1) - (u * n).sum(1)
    assert float(natural) == pytest.approx(float(-torch.log(torch.sigmoid(margin)).mean()), rel=1e-5)
    assert float(pairwise_bpr(u, p, n, log_base=2)) == pytest.approx(float(natural) / np.log(2), rel=1e-6)


def test_half_squared_penalty_known_value() -> None:
    a = torch.tensor([[3.0, 4.0], [0.0, 0.0]])  # ‖a‖² = 25
    b = torch.tensor([[1.0, 0.0], [0.0, 0.0]])  # ‖b‖² = 1
    assert float(half_squared_penalty(a, b)) == pytest.approx((25 + 1) / 2 / 2)


def test_info_nce_with_targets_equals_the_definition() -> None:
    torch.manual_seed(0)
    anchors, candidates, targets = torch.randn(4, 3), torch.randn(7, 3), torch.tensor([6, 0, 2, 2])
    a = torch.nn.functional.normalize(anchors, dim=1)
    c = torch.nn.functional.normalize(candidates, dim=1)
    logits = a @ c.T / 0.5
    expected = -(logits[torch.arange(4), targets] - torch.logsumexp(logits, dim=1))
    assert float(info_nce(anchors, candidates, 0.5, targets, reduction="sum")) == pytest.approx(float(expected.sum()),
                                                                                              rel=1e-5)
    square = torch.randn(4, 3)
    assert float(info_nce(anchors, square, 0.5)) == pytest.approx(
        float(info_nce(anchors, square, 0.5, torch.arange(4))), rel=1e-6)


@pytest.mark.parametrize("chunk_elements", [1, 7, 20, 30, 1 << 21])  # a logit, a row, 3 rows, 5 + 4 rows, all
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("tau", [0.3, 0.01])  # |logits| ≤ 1/τ: summed as they are (3.3), max subtracted (100)
def test_info_nce_gradients_are_the_textbook_forms_in_any_chunking(monkeypatch: pytest.MonkeyPatch,
                                                                  chunk_elements: int, reduction: str,
                                                                  tau: float) -> None:
    """Value and gradients of the chunked InfoNCE equal autograd through −log_softmax(logits)[n, t_n], with
    repeated targets (LGMRec's batch ids) and rectangular logits, in both forms of its log-sum-exp."""
    monkeypatch.setattr(losses, "LOGITS_CHUNK_ELEMENTS", chunk_elements)
    monkeypatch.setattr(losses, "CPU_LOGITS_CHUNK_ELEMENTS", chunk_elements)
    generator = torch.Generator().manual_seed(2)
    anchors = torch.randn(9, 5, generator=generator, requires_grad=True)
    candidates = torch.randn(6, 5, generator=generator, requires_grad=True)
    with torch.no_grad():  # a candidate along an anchor: the logit 1/τ, which e^z alone overflows at τ = 0.01
        candidates[0] = 2 * anchors[0]
    targets = torch.tensor([5, 0, 2, 2, 1, 5, 3, 4, 0])
    a = torch.nn.functional.normalize(anchors, dim=1) / tau
    c = torch.nn.functional.normalize(candidates, dim=1)
    textbook = -torch.log_softmax(a @ c.T, dim=1)[torch.arange(9), targets]
    textbook = textbook.mean() if reduction == "mean" else textbook.sum()
    expected = torch.autograd.grad(textbook, [anchors, candidates])
    got = info_nce(anchors, candidates, tau, targets, reduction=reduction)
    assert float(got.detach()) == pytest.approx(float(textbook.detach()), rel=1e-6)
    for gradient, want in zip(torch.autograd.grad(got, [anchors, candidates]), expected):
        assert torch.allclose(gradient, want, rtol=1e-5, atol=1e-7)
    frozen = candidates.detach()  # a side that needs no gradient gets none, the other the same
    (only,) = torch.autograd.grad(info_nce(anchors, frozen, tau, targets, reduction=reduction), [anchors])
    assert torch.allclose(only, expected[0], rtol=1e-5, atol=1e-7)


def test_variational_net_fit_gradients_hold_where_the_log_variance_saturates() -> None:
    """fit_gradients takes ℓ = tanh(pre) as 2σ(2·pre) − 1 and its slope as 4σ(1 − σ): still autograd's
    gradients where |pre| is large and tanh saturates at ±1 (its slope underflowing towards 0)."""
    torch.manual_seed(3)
    net = GaussianVariationalNet(6, 6, 4)
    with torch.no_grad():
        net.log_variance[2].weight.mul_(40)
        net.log_variance[2].bias.mul_(40)
    x, y = torch.randn(64, 6), torch.randn(64, 6)
    pre = net.log_variance[2](net.log_variance[1](net.log_variance[0](x)))
    assert float(pre.abs().max()) > 10  # saturated: |tanh| rounds to 1
    log_likelihood = 2.0 * net.log_likelihood(x, y)
    expected = torch.autograd.grad(-log_likelihood, list(net.parameters()))
    gradients, value = net.fit_gradients(x.T.contiguous().T, y.T.contiguous().T, 2.0)
    assert float(value) == pytest.approx(float(log_likelihood.detach()), rel=1e-6)
    for (name, _), got, want in zip(net.named_parameters(), gradients, expected):
        assert torch.allclose(got, want, rtol=1e-5, atol=1e-6), name


@pytest.mark.parametrize("feature_major", [False, True], ids=["row-major", "feature-major"])
@pytest.mark.parametrize(("rows", "width", "hidden", "weight"), [(1, 1, 1, 1.0), (7, 5, 3, 2.0), (476, 32, 8, 2.0)])
def test_variational_net_fit_gradients_are_autograds(rows: int, width: int, hidden: int, weight: float,
                                                     feature_major: bool) -> None:
    """The written-out chain rule of the CLUB net's maximum-likelihood loss equals autograd's, value included,
    also where ReLUs are off (negative pre-activations are common with these inits) and for one row, with
    the inputs stored row-major or feature-major (x = xᵀ's transpose, as SEA's inner loop passes them)."""
    generator = torch.Generator().manual_seed(rows)
    torch.manual_seed(rows)
    net = GaussianVariationalNet(width, width, hidden)
    x, y = torch.randn(rows, width, generator=generator), 3 * torch.randn(rows, width, generator=generator)
    if feature_major:
        x, y = x.T.contiguous().T, y.T.contiguous().T
        assert x.stride() == (1, rows) or rows == 1
    log_likelihood = weight * net.log_likelihood(x, y)
    expected = torch.autograd.grad(-log_likelihood, list(net.parameters()))
    gradients, value = net.fit_gradients(x, y, weight)
    assert float(value) == pytest.approx(float(log_likelihood.detach()), rel=1e-6)
    assert [g.shape for g in gradients] == [p.shape for p in net.parameters()]
    for (name, _), got, want in zip(net.named_parameters(), gradients, expected):
        assert torch.allclose(got, want, rtol=1e-5, atol=1e-6), name
