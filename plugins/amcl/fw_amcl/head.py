"""Adaptive temperature of AMCL: the regulariser Omega and the temperature network phi (paper Eq. 3).

tau(a, b) = tau_min + (tau_max - tau_min) * sigmoid(-<phi(a), phi(b)>): symmetric in (a, b), and a higher
score gives a lower temperature. One phi is shared by all heads, positives and negatives; it is owned by the
loss module, which is a submodule of the model, so phi is optimised.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def upcast(x: torch.Tensor) -> torch.Tensor:
    """fp16 / bf16 -> fp32; fp32 and fp64 stay as they are (tests run the loss in fp64)."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def omega(tau: torch.Tensor, dim: int) -> torch.Tensor:
    """Omega(tau) = (d'/2) log tau + 1/tau; minimised at tau* = 2/d'."""
    return 0.5 * dim * torch.log(tau) + 1.0 / tau


def omega_argmin(dim: int) -> float:
    """Closed-form minimiser of :func:`omega`: tau* = 2/d'."""
    return 2.0 / dim


def omega_min(dim: int) -> float:
    """Omega(tau*) = (d'/2)(1 + log(2/d'))."""
    return 0.5 * dim * (1.0 + math.log(2.0 / dim))


class _PairTemperature(nn.Module):
    """phi = Linear(d, hidden) -> ReLU -> Linear(hidden, d) and the score->tau map shared by both heads."""

    def __init__(self, dim: int, hidden: int = 128, tau_min: float = 1e-5, tau_max: float = 2.0):
        super().__init__()
        if not 0 < tau_min < tau_max:
            raise ValueError(
                f'need 0 < tau_min < tau_max, got tau_min={tau_min}, tau_max={tau_max}'
            )
        self.dim, self.tau_min, self.tau_max = dim, float(tau_min), float(tau_max)
        self.phi = nn.Sequential(
            nn.Linear(dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, dim)
        )

    def score_to_tau(self, score: torch.Tensor) -> torch.Tensor:
        """sigma(r) = iota / (1 + e^r) + eta with iota = tau_max - tau_min, eta = tau_min."""
        return self.tau_min + (self.tau_max - self.tau_min) * torch.sigmoid(-score)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """phi(x) in fp32 (the whole AMCL loss runs in fp32, also under autocast)."""
        with torch.autocast(device_type=x.device.type, enabled=False):
            return self.phi(upcast(x).to(self.phi[0].weight.dtype))

    def pairwise(self, a: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
        """tau for every pair: [Na, d], [Nb, d] -> [Na, Nb]."""
        pa = self.embed(a)
        pb = pa if b is None else self.embed(b)
        return self.score_to_tau(pa @ pb.t())

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """tau for matched pairs (a_i, b_i): [..., d], [..., d] -> [...]."""
        return self.score_to_tau((self.embed(a) * self.embed(b)).sum(-1))


class TemperatureHead(_PairTemperature):
    """Adaptive per-pair temperature for SimCLR / MoCo (paper Eq. 3): phi acts on L2-normalised head
    outputs in R^d'.

    Args: ``dim`` (d'), ``hidden`` (phi's width, 128), ``tau_min`` (1e-5), ``tau_max`` (2.0).
    """

    def __init__(self, dim: int, hidden: int = 128, tau_min: float = 1e-5, tau_max: float = 2.0):
        super().__init__(dim, hidden, tau_min, tau_max)


class BatchVectorTemperatureHead(_PairTemperature):
    """Barlow Twins variant: phi acts on R^N channel vectors z_{l:} (N = batch size, which must be fixed).

    Args: ``batch_size`` (N), ``hidden`` (phi's width, 128), ``tau_min`` (1e-5), ``tau_max`` (2.0).
    """

    def __init__(
        self, batch_size: int, hidden: int = 128, tau_min: float = 1e-5, tau_max: float = 2.0
    ):
        super().__init__(batch_size, hidden, tau_min, tau_max)
        self.batch_size = batch_size

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.batch_size:
            raise ValueError(
                f'AMCL Barlow Twins: the temperature network was built for batch size {self.batch_size} '
                f'but got a batch of {x.shape[-1]}; use drop_last=True and the same batch size everywhere '
                f'(per rank under DDP).'
            )
        return super().embed(x)


class TemperatureSummary:
    """Summary of a temperature tensor: mean, median, and the fraction within 1% (relative) of either bound."""

    def __init__(self, tau_min: float, tau_max: float):
        self.tau_min, self.tau_max = tau_min, tau_max

    def __call__(self, tau: torch.Tensor, prefix: str) -> dict[str, torch.Tensor]:
        t = tau.detach().float().flatten()
        at_min = (t <= 1.01 * self.tau_min).float().mean()
        at_max = (t >= 0.99 * self.tau_max).float().mean()
        return {
            f'{prefix}_mean': t.mean(),
            f'{prefix}_median': t.median(),
            f'{prefix}_at_min': at_min,
            f'{prefix}_at_max': at_max,
        }
