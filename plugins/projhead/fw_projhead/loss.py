"""Losses (spec §3, §5): spectral contrastive, NT-Xent (SimCLR), supervised contrastive (SupCon)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SpectralContrastiveLoss(nn.Module):
    """Unbiased minibatch spectral contrastive loss (HaoChen et al. 2021); z is NOT normalised.

    L = -(2/n) sum_i <z1_i, z2_i> + 1/(n(n-1)) sum_{i != j} <z1_i, z2_j>^2, the pair sum taken as
    tr((Z1^T Z1)(Z2^T Z2)) minus its diagonal, so no n x n matrix is formed.
    """

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        n = z1.shape[0]
        if n < 2:
            raise ValueError('SpectralContrastiveLoss needs at least 2 samples')
        pos = (z1 * z2).sum(1)
        all_pairs = ((z1.T @ z1) * (z2.T @ z2)).sum()
        neg = (all_pairs - (pos ** 2).sum()) / (n * (n - 1))
        return -2.0 * pos.mean() + neg


class NTXentLoss(nn.Module):
    """SimCLR's normalised-temperature cross entropy over 2n views (z L2-normalised)."""

    def __init__(self, tau: float = 0.5):
        super().__init__()
        self.tau = float(tau)

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        n = z1.shape[0]
        z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
        sim = z @ z.T / self.tau
        sim.fill_diagonal_(float('-inf'))
        target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
        return F.cross_entropy(sim, target)


class SupConLoss(nn.Module):
    """Supervised contrastive loss (Khosla et al. 2020, "L_out"), z L2-normalised.

    l_i = -1/|P(i)| sum_{p in P(i)} log[exp(z_i.z_p/tau) / sum_{a != i} exp(z_i.z_a/tau)], P(i) the
    other views with the same label. ``forward(z1, z2, labels)`` for two views per sample.
    """

    def __init__(self, tau: float = 0.5):
        super().__init__()
        self.tau = float(tau)

    def forward(self, z1: torch.Tensor, z2: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
        y = torch.cat([labels, labels])
        sim = z @ z.T / self.tau
        self_mask = torch.eye(len(y), dtype=torch.bool, device=z.device)
        sim = sim.masked_fill(self_mask, float('-inf'))
        log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
        pos = (y[:, None] == y[None, :]) & ~self_mask
        mean_log_pos = log_prob.masked_fill(~pos, 0.0).sum(1) / pos.sum(1).clamp_min(1)
        return -mean_log_pos.mean()
