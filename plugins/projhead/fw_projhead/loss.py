"""Losses: spectral contrastive (the theory), NT-Xent (SimCLR), supervised contrastive (SupCon)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SpectralContrastiveLoss(nn.Module):
    """Unbiased minibatch spectral contrastive loss (HaoChen et al. 2021); z is NOT normalised.

    L = -(2/n) sum_i <z1_i, z2_i> + 1/(n(n-1)) sum_{i != j} <z1_i, z2_j>^2, the pair sum taken as
    tr((Z1^T Z1)(Z2^T Z2)) minus its diagonal, so no n x n matrix is formed. No constructor arguments.
    """

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        n = z1.shape[0]
        if n < 2:
            raise ValueError('SpectralContrastiveLoss needs at least 2 samples')
        pos = (z1 * z2).sum(1)
        all_pairs = ((z1.T @ z1) * (z2.T @ z2)).sum()
        neg = (all_pairs - (pos**2).sum()) / (n * (n - 1))
        return -2.0 * pos.mean() + neg


class NTXentLoss(nn.Module):
    """SimCLR's normalised-temperature cross entropy over the 2n - 1 other views (z L2-normalised,
    the positive in the denominator), mean over the 2n rows.

    Args: ``temperature`` (0.5), ``loss_weight`` (1.0). The same loss, with the same arguments, as
    ``amcl.NTXentLoss`` on one head ([n, d] inputs).
    """

    def __init__(self, temperature: float = 0.5, loss_weight: float = 1.0):
        super().__init__()
        self.temperature, self.loss_weight = float(temperature), float(loss_weight)

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        n = z1.shape[0]
        z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
        sim = z @ z.T / self.temperature
        sim.fill_diagonal_(float('-inf'))
        target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
        return self.loss_weight * F.cross_entropy(sim, target)


class SupConLoss(nn.Module):
    """Supervised contrastive loss (Khosla et al. 2020, "L_out"), z L2-normalised.

    l_i = -1/|P(i)| sum_{p in P(i)} log[exp(z_i.z_p/tau) / sum_{a != i} exp(z_i.z_a/tau)], P(i) the
    other views with the same label. ``forward(z1, z2, labels)`` for two views per sample.

    Args: ``temperature`` (tau, 0.5).
    """

    uses_labels = True

    def __init__(self, temperature: float = 0.5):
        super().__init__()
        self.temperature = float(temperature)

    def forward(self, z1: torch.Tensor, z2: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
        y = torch.cat([labels, labels])
        sim = z @ z.T / self.temperature
        self_mask = torch.eye(len(y), dtype=torch.bool, device=z.device)
        sim = sim.masked_fill(self_mask, float('-inf'))
        log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
        pos = (y[:, None] == y[None, :]) & ~self_mask
        mean_log_pos = log_prob.masked_fill(~pos, 0.0).sum(1) / pos.sum(1).clamp_min(1)
        return -mean_log_pos.mean()
