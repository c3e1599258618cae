"""CLUB (upper bound) and InfoNCE (lower bound) behave as mutual-information estimators should."""

import math

import pytest
import torch

from searec.models.losses import GaussianVariationalNet, info_nce

DIM = 4


def correlated_gaussians(rho: float, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """x ~ N(0, I), y = ρx + sqrt(1 − ρ²)ε: per-dimension correlation ρ, I(x; y) = −½·d·log(1 − ρ²)."""
    x = torch.randn(n, DIM, generator=generator)
    y = rho * x + math.sqrt(1 - rho**2) * torch.randn(n, DIM, generator=generator)
    return x, y


def trained_club_estimate(rho: float) -> float:
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    x, y = correlated_gaussians(rho, 4000, generator)
    net = GaussianVariationalNet(DIM, DIM, hidden=16)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(400):
        optimizer.zero_grad()
        (-net.log_likelihood(x, y)).backward()
        optimizer.step()
    x_test, y_test = correlated_gaussians(rho, 4000, generator)
    with torch.no_grad():
        return float(net.club(x_test, y_test, torch.randperm(4000, generator=generator)))


@pytest.fixture(scope="module")
def estimates() -> dict[float, float]:
    return {rho: trained_club_estimate(rho) for rho in (0.0, 0.5, 0.9)}


def test_club_is_near_zero_for_independent_variables(estimates: dict[float, float]) -> None:
    assert abs(estimates[0.0]) < 0.05


def test_club_grows_with_correlation_and_bounds_the_true_mi(estimates: dict[float, float]) -> None:
    assert estimates[0.0] < estimates[0.5] < estimates[0.9]
    for rho in (0.5, 0.9):
        true_mi = -0.5 * DIM * math.log(1 - rho**2)
        assert estimates[rho] > true_mi - 0.05, (rho, estimates[rho], true_mi)
        # With q's mean ρx and variance σ², CLUB = d·ρ²/σ². The best σ² is 1 − ρ², but SEA's Tanh
        # keeps log σ² in (−1, 1): σ² = max(1 − ρ², e⁻¹) (at ρ = 0.9 the bound binds).
        best_variance = max(1 - rho**2, math.exp(-1))
        assert estimates[rho] == pytest.approx(DIM * rho**2 / best_variance, rel=0.1)


def test_info_nce_of_aligned_views_is_far_below_log_n_and_of_random_views_about_log_n() -> None:
    generator = torch.Generator().manual_seed(0)
    n = 512
    views = torch.randn(n, 32, generator=generator)
    aligned = float(info_nce(views, views.clone(), tau=0.2))
    unrelated = float(info_nce(views, torch.randn(n, 32, generator=generator), tau=0.2))
    assert aligned < 0.5 * math.log(n)
    assert unrelated == pytest.approx(math.log(n), rel=0.15)
