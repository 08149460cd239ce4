"""Losses of the three base methods (paper Table 1) and their AMCL forms (paper Table 2).

Every loss takes the multi-head projections ``z`` of shape [B, C, d'] (a [B, d'] tensor counts as C = 1)
and sums over heads (summing, not averaging: averaging would divide the effective learning rate by C).
The AMCL losses own the temperature network phi and run entirely in fp32, including the top-k on the
similarities and 1/tau (1/tau_min = 1e5 overflows fp16).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .head import BatchVectorTemperatureHead, TemperatureHead, TemperatureSummary, omega, upcast


def _heads(z: torch.Tensor) -> torch.Tensor:
    """[B, d'] -> [B, 1, d']; [B, C, d'] unchanged."""
    if z.dim() == 2:
        return z.unsqueeze(1)
    if z.dim() != 3:
        raise ValueError(
            f"expected projections of shape [B, C, d'] or [B, d'], got {tuple(z.shape)}"
        )
    return z


def _fp32(fn):
    """Run a loss forward with autocast off and every half-precision tensor argument cast to fp32."""

    def wrapper(self, *args, **kwargs):
        dev = next((a.device.type for a in args if torch.is_tensor(a)), 'cpu')
        args = [upcast(a) if torch.is_tensor(a) and a.is_floating_point() else a for a in args]
        with torch.autocast(device_type=dev, enabled=False):
            return fn(self, *args, **kwargs)

    wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
    return wrapper


def amcl_contrastive_terms(s_pos, tau_pos, s_neg, tau_neg, beta: float, dim: int) -> torch.Tensor:
    """Per-anchor AMCL loss, the reference's top-k form ("Eq. 5") of paper Eq. (2.1).

    l = -s+/tau+ + (1/k) sum_j s_j/tau_j + beta*Omega(tau+) - beta * sum_j (log tau_j + 1/tau_j)

    s_pos, tau_pos: [R]; s_neg, tau_neg: [R, k]. The reference's asymmetries are kept on purpose: the data
    term averages over the k negatives, the regulariser sums over them, and the negative regulariser has
    no d'/2 factor. Returns [R].
    """
    data = -s_pos / tau_pos + (s_neg / tau_neg).mean(-1)
    reg = beta * omega(tau_pos, dim) - beta * (torch.log(tau_neg) + 1.0 / tau_neg).sum(-1)
    return data + reg


# ----------------------------------------------------------------------------------------- SimCLR


class NTXentLoss(nn.Module):
    """SimCLR's NT-Xent: cross-entropy over the 2B-1 other views, the positive in the denominator (the
    paper's InfoNCE form (1.4), as in the reference). The mean over the 2B rows is (l(1->2) + l(2->1))/2.

    Args: ``temperature`` (0.5), ``loss_weight`` (1.0). Takes [B, C, d'] (summed over the C heads) or
    [B, d']; on [B, d'] it is the same loss, with the same arguments, as ``projhead.NTXentLoss``.
    """

    def __init__(self, temperature: float = 0.5, loss_weight: float = 1.0):
        super().__init__()
        self.temperature, self.loss_weight = temperature, loss_weight

    @_fp32
    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        z1, z2 = _heads(z1), _heads(z2)
        b = z1.shape[0]
        idx = torch.arange(2 * b, device=z1.device)
        target = (idx + b) % (2 * b)
        total = z1.new_zeros(())
        for c in range(z1.shape[1]):
            z = F.normalize(torch.cat([z1[:, c], z2[:, c]]), dim=-1)
            logits = (z @ z.t()) / self.temperature
            logits = logits.masked_fill(
                torch.eye(2 * b, dtype=torch.bool, device=z.device), float('-inf')
            )
            total = total + F.cross_entropy(logits, target)
        return self.loss_weight * total


class AMCLNTXentLoss(nn.Module):
    """AMCL for SimCLR: head-summed Eq. (2.1) in the top-k form, one phi shared by all heads.

    Per head, Z = normalize([z1; z2]) (2B x d'), S = Z Z^T, tau = map(phi(Z) phi(Z)^T); row r's positive
    is (r + B) mod 2B, its negatives are the other 2B - 2 rows; the k hardest (by similarity) are kept.
    This [2B x 2B] form is exactly the reference's gathered per-anchor form, B times cheaper in phi.
    ``fixed_tau`` replaces phi by a constant (the paper's ablation (a)).

    Args: ``dim`` (d'), ``topk`` (100), ``beta`` (1e-4), ``tau_min`` (1e-5), ``tau_max`` (2.0), ``hidden``
    (phi's width, 128), ``fixed_tau`` (None), ``loss_weight`` (1.0).
    """

    def __init__(
        self,
        dim: int = 128,
        topk: int = 100,
        beta: float = 1e-4,
        tau_min: float = 1e-5,
        tau_max: float = 2.0,
        hidden: int = 128,
        fixed_tau: float | None = None,
        loss_weight: float = 1.0,
    ):
        super().__init__()
        self.dim, self.topk, self.beta, self.loss_weight = dim, topk, beta, loss_weight
        self.fixed_tau = fixed_tau
        self.temperature = TemperatureHead(dim, hidden, tau_min, tau_max)
        self.summary = TemperatureSummary(tau_min, tau_max)
        self.last_stats: dict[str, torch.Tensor] = {}

    def _tau(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if self.fixed_tau is not None:
            return a.new_full((a.shape[0], b.shape[0]), float(self.fixed_tau))
        return self.temperature.pairwise(a, None if a is b else b)

    def head_terms(self, z1: torch.Tensor, z2: torch.Tensor):
        """One head: (s_pos [2B], tau_pos [2B], s_neg [2B, k], tau_neg [2B, k])."""
        b = z1.shape[0]
        z = F.normalize(torch.cat([z1, z2]), dim=-1)
        sim = z @ z.t()
        tau = self._tau(z, z)
        idx = torch.arange(2 * b, device=z.device)
        pos = (idx + b) % (2 * b)
        top = self.topk_negatives(sim, b, min(self.topk, 2 * b - 2))
        return sim[idx, pos], tau[idx, pos], sim.gather(1, top), tau.gather(1, top)

    @staticmethod
    def topk_negatives(sim: torch.Tensor, b: int, k: int) -> torch.Tensor:
        """Indices [2B, k] of the k most similar negatives of each row: the anchor itself (diagonal) and
        its positive ((r + B) mod 2B) are masked with -inf, leaving 2B - 2 candidates."""
        idx = torch.arange(2 * b, device=sim.device)
        masked = sim.detach().clone()
        masked[idx, idx] = float('-inf')
        masked[idx, (idx + b) % (2 * b)] = float('-inf')
        return masked.topk(k, dim=1).indices

    @_fp32
    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        z1, z2 = _heads(z1), _heads(z2)
        total, taus_p, taus_n = z1.new_zeros(()), [], []
        for c in range(z1.shape[1]):
            s_pos, tau_pos, s_neg, tau_neg = self.head_terms(z1[:, c], z2[:, c])
            total = (
                total
                + amcl_contrastive_terms(s_pos, tau_pos, s_neg, tau_neg, self.beta, self.dim).mean()
            )
            taus_p.append(tau_pos)
            taus_n.append(tau_neg)
        self.last_stats = {
            **self.summary(torch.cat(taus_p), 'tau_pos'),
            **self.summary(torch.cat([t.flatten() for t in taus_n]), 'tau_topk'),
        }
        return self.loss_weight * total

    @torch.no_grad()
    def temperatures(self, z1: torch.Tensor, z2: torch.Tensor):
        """tau+ [B*C*2] and top-k tau- [B*C*2*k] for logging, without computing the loss."""
        z1, z2 = _heads(upcast(z1)), _heads(upcast(z2))
        terms = [self.head_terms(z1[:, c], z2[:, c]) for c in range(z1.shape[1])]
        return torch.cat([t[1] for t in terms]), torch.cat([t[3].flatten() for t in terms])


# ----------------------------------------------------------------------------------------- MoCo


def _queue_keys(queue: torch.Tensor) -> torch.Tensor:
    """The queue [d', K] with every key L2-normalised along d' (a raw queue is accepted)."""
    return F.normalize(queue, dim=0)


def _directions(q1, k2, q2, k1):
    """The (query, key) pairs of the loss: (q1, k2) alone, or both directions when q2 and k1 are given."""
    if (q2 is None) != (k1 is None):
        raise ValueError('the symmetric MoCo loss needs both q2 and k1 (or neither)')
    pairs = [(q1, k2)] if q2 is None else [(q1, k2), (q2, k1)]
    return [(_heads(q), _heads(k)) for q, k in pairs]


class MoCoLoss(nn.Module):
    """MoCo v2 InfoNCE against the head's own queue, per head and summed over heads.

    Args: ``temperature`` (0.1), ``loss_weight`` (1.0).
    ``forward(q1, k2, queue, q2=None, k1=None)``: q1 [B, C, d'] online projections of view 1, k2 [B, C, d']
    momentum projections of view 2 (no grad), queue [C, d', K] keys (read only; normalised here, the model
    updates it after the optimiser step). With q2 and k1 the loss is symmetric: (l(q1, k2) + l(q2, k1)) / 2.
    """

    def __init__(self, temperature: float = 0.1, loss_weight: float = 1.0):
        super().__init__()
        self.temperature, self.loss_weight = temperature, loss_weight

    def _one(self, q, k, queue):
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        logits = (
            torch.cat([(q * k).sum(-1, keepdim=True), q @ _queue_keys(queue)], dim=1)
            / self.temperature
        )
        return F.cross_entropy(logits, torch.zeros(q.shape[0], dtype=torch.long, device=q.device))

    @_fp32
    def forward(self, q1, k2, queue, q2=None, k1=None) -> torch.Tensor:
        pairs = _directions(q1, k2, q2, k1)
        total = q1.new_zeros(())
        for c in range(pairs[0][0].shape[1]):
            total = total + sum(self._one(q[:, c], k[:, c], queue[c]) for q, k in pairs) / len(
                pairs
            )
        return self.loss_weight * total


class AMCLMoCoLoss(nn.Module):
    """AMCL for MoCo: Eq. (2.1) top-k form with the positive key from the momentum branch and the k
    hardest negatives from the head's own queue; summed over heads.

    Args: ``dim`` (d'), ``topk`` (100), ``beta`` (1e-4), ``tau_min`` (1e-5), ``tau_max`` (2.0), ``hidden``
    (phi's width, 128), ``fixed_tau`` (None: adaptive; a number: constant tau, ablation (a)),
    ``loss_weight`` (1.0). ``forward(q1, k2, queue, q2=None, k1=None)`` as :class:`MoCoLoss`; the queue's
    keys are L2-normalised here, so a raw queue gives the same loss as a normalised one.
    """

    def __init__(
        self,
        dim: int = 128,
        topk: int = 100,
        beta: float = 1e-4,
        tau_min: float = 1e-5,
        tau_max: float = 2.0,
        hidden: int = 128,
        fixed_tau: float | None = None,
        loss_weight: float = 1.0,
    ):
        super().__init__()
        self.dim, self.topk, self.beta, self.loss_weight = dim, topk, beta, loss_weight
        self.fixed_tau = fixed_tau
        self.temperature = TemperatureHead(dim, hidden, tau_min, tau_max)
        self.summary = TemperatureSummary(tau_min, tau_max)
        self.last_stats: dict[str, torch.Tensor] = {}

    def head_terms(self, q, k, queue):
        """One head, one direction: (s_pos [B], tau_pos [B], s_neg [B, k], tau_neg [B, k])."""
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        queue = _queue_keys(queue)
        keys = queue.t()  # [K, d']
        s_pos = (q * k).sum(-1)
        sim = q @ queue  # [B, K]
        top = sim.detach().topk(min(self.topk, keys.shape[0]), dim=1).indices
        if self.fixed_tau is not None:
            tau_pos = torch.full_like(s_pos, float(self.fixed_tau))
            tau_neg = torch.full(top.shape, float(self.fixed_tau), device=q.device)
        else:
            t = self.temperature
            pq = t.embed(q)
            tau_pos = t.score_to_tau((pq * t.embed(k)).sum(-1))
            tau_neg = t.score_to_tau(pq @ t.embed(keys).t()).gather(1, top)
        return s_pos, tau_pos, sim.gather(1, top), tau_neg

    @_fp32
    def forward(self, q1, k2, queue, q2=None, k1=None) -> torch.Tensor:
        pairs = _directions(q1, k2, q2, k1)
        total, taus_p, taus_n = q1.new_zeros(()), [], []
        for c in range(pairs[0][0].shape[1]):
            for q, k in pairs:
                s_pos, tau_pos, s_neg, tau_neg = self.head_terms(q[:, c], k[:, c], queue[c])
                total = total + amcl_contrastive_terms(
                    s_pos, tau_pos, s_neg, tau_neg, self.beta, self.dim
                ).mean() / len(pairs)
                taus_p.append(tau_pos)
                taus_n.append(tau_neg.flatten())
        self.last_stats = {
            **self.summary(torch.cat(taus_p), 'tau_pos'),
            **self.summary(torch.cat(taus_n), 'tau_topk'),
        }
        return self.loss_weight * total

    @torch.no_grad()
    def temperatures(self, q1, k2, queue, q2=None, k1=None):
        """tau+ and top-k tau- for logging, without computing the loss."""
        pairs = _directions(*(None if t is None else upcast(t) for t in (q1, k2, q2, k1)))
        terms = [
            self.head_terms(q[:, c], k[:, c], upcast(queue[c]))
            for c in range(pairs[0][0].shape[1])
            for q, k in pairs
        ]
        return torch.cat([t[1] for t in terms]), torch.cat([t[3].flatten() for t in terms])


# ----------------------------------------------------------------------------------------- Barlow Twins


def _standardise(z: torch.Tensor) -> torch.Tensor:
    """Batch-standardise each channel: unbiased std, +1e-9."""
    return (z - z.mean(0)) / (z.std(0, unbiased=True) + 1e-9)


def cross_correlation(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """C_lm = (1/N) sum_b zhat1_bl zhat2_bm, [d', d']."""
    return _standardise(z1).t() @ _standardise(z2) / z1.shape[0]


class BarlowTwinsLoss(nn.Module):
    """Eq. (1.3): sum_l (1 - C_ll)^2 + lambda * sum_{l != m} C_lm^2, summed over heads.

    Args: ``lambd`` (lambda, 5e-3), ``loss_weight`` (1.0).
    """

    def __init__(self, lambd: float = 5e-3, loss_weight: float = 1.0):
        super().__init__()
        self.lambd, self.loss_weight = lambd, loss_weight

    @_fp32
    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        z1, z2 = _heads(z1), _heads(z2)
        total = z1.new_zeros(())
        for c in range(z1.shape[1]):
            cc = cross_correlation(z1[:, c], z2[:, c])
            on = (1 - cc.diagonal()).pow(2).sum()
            off = cc.pow(2).sum() - cc.diagonal().pow(2).sum()
            total = total + on + self.lambd * off
        return self.loss_weight * total


class AMCLBarlowTwinsLoss(nn.Module):
    """AMCL for Barlow Twins, Eq. (2.3), summed over heads:

    sum_l (1 - C_ll/tau_l+)^2 + lambda sum_{l!=m} C_lm^2/tau_lm- + beta sum_l Omega(tau_l+)
      - beta sum_{l!=m} Omega(tau_lm-),   tau_lm = tau(z1_{:,l}, z2_{:,m})

    phi: R^N -> R^N acts on the raw per-head channel vectors (columns of the [N, d'] output), so the batch
    size N is fixed at construction (``batch_size``; a different batch raises). Omega uses d' for both the
    positive and the negative terms, as the reference does.

    Args: ``dim`` (d'), ``batch_size`` (N, phi's input size), ``lambd`` (5e-3), ``beta`` (1e-6), ``tau_min``,
    ``tau_max``, ``hidden`` (phi's width), ``fixed_tau`` (None), ``loss_weight`` (1.0).
    """

    def __init__(
        self,
        dim: int = 2048,
        batch_size: int = 512,
        lambd: float = 5e-3,
        beta: float = 1e-6,
        tau_min: float = 1e-5,
        tau_max: float = 2.0,
        hidden: int = 128,
        fixed_tau: float | None = None,
        loss_weight: float = 1.0,
    ):
        super().__init__()
        self.dim, self.lambd, self.beta, self.loss_weight = dim, lambd, beta, loss_weight
        self.fixed_tau = fixed_tau
        self.temperature = BatchVectorTemperatureHead(batch_size, hidden, tau_min, tau_max)
        self.summary = TemperatureSummary(tau_min, tau_max)
        self.last_stats: dict[str, torch.Tensor] = {}

    def head_terms(self, z1: torch.Tensor, z2: torch.Tensor):
        """One head: (C [d', d'], tau [d', d'])."""
        cc = cross_correlation(z1, z2)
        if self.fixed_tau is not None:
            self.temperature.embed(z1.t()[:1])  # still validates the batch size
            tau = torch.full_like(cc, float(self.fixed_tau))
        else:
            tau = self.temperature.pairwise(z1.t(), z2.t())
        return cc, tau

    @_fp32
    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        z1, z2 = _heads(z1), _heads(z2)
        d = z1.shape[-1]
        off_mask = ~torch.eye(d, dtype=torch.bool, device=z1.device)
        total, taus_p, taus_n = z1.new_zeros(()), [], []
        for c in range(z1.shape[1]):
            cc, tau = self.head_terms(z1[:, c], z2[:, c])
            tau_pos, tau_neg, c_off = tau.diagonal(), tau[off_mask], cc[off_mask]
            total = total + (
                (1 - cc.diagonal() / tau_pos).pow(2).sum()
                + self.lambd * (c_off.pow(2) / tau_neg).sum()
                + self.beta * omega(tau_pos, self.dim).sum()
                - self.beta * omega(tau_neg, self.dim).sum()
            )
            taus_p.append(tau_pos)
            taus_n.append(tau_neg)
        self.last_stats = {
            **self.summary(torch.cat(taus_p), 'tau_pos'),
            **self.summary(torch.cat(taus_n), 'tau_neg'),
        }
        return self.loss_weight * total

    @torch.no_grad()
    def temperatures(self, z1: torch.Tensor, z2: torch.Tensor):
        z1, z2 = _heads(upcast(z1)), _heads(upcast(z2))
        d = z1.shape[-1]
        off_mask = ~torch.eye(d, dtype=torch.bool, device=z1.device)
        taus = [self.head_terms(z1[:, c], z2[:, c])[1] for c in range(z1.shape[1])]
        return torch.cat([t.diagonal() for t in taus]), torch.cat([t[off_mask] for t in taus])
