"""Stage C: balanced K/V scaling (BKV) and joint PCA of [k_nope / alpha, v] to a latent of rank
r."""

from __future__ import annotations

import torch

from framework import FwError


def nope_value_cov(kv_cov: torch.Tensor, Q: torch.Tensor, rope_dim: int) -> torch.Tensor:
    """Second moment of [k_nope ; v] = T [k ; v] with T = blockdiag(Q[d_R:], I)."""
    gd = Q.shape[0]
    T = torch.zeros(2 * gd - rope_dim, 2 * gd, dtype=torch.float64)
    T[: gd - rope_dim, :gd] = Q[rope_dim:]
    T[gd - rope_dim :, gd:] = torch.eye(gd, dtype=torch.float64)
    return T @ kv_cov @ T.T


def balance_alpha(cov: torch.Tensor, n_nope: int, ratio: float = 1.0) -> float:
    """alpha = mean column norm of K_nope / (``ratio`` * mean column norm of V), column norms over
    the calibration tokens. After K_nope / alpha the mean K column norm is ``ratio`` times the V
    one: ``ratio`` > 1 gives the keys more weight in the joint PCA (the official converter's
    ``--balance-kv-ratio``, same direction)."""
    norms = cov.diagonal().clamp_min(0).sqrt()
    return float(norms[:n_nope].mean() / (norms[n_nope:].mean() * ratio))


def joint_pca(H: torch.Tensor, damp: float = 0.01) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvectors of H + damp*mean(diag)*I, eigenvalues descending: (P, eigenvalues of H+damp)."""
    H = H + damp * H.diagonal().mean() * torch.eye(H.shape[0], dtype=H.dtype)
    ev, P = torch.linalg.eigh(H)
    return P.flip(1), ev.flip(0)


def latent_basis(
    kv_cov: torch.Tensor,
    Q: torch.Tensor,
    rope_dim: int,
    kv_rank: int | None,
    balance: bool = True,
    ratio: float = 1.0,
    damp: float = 0.01,
    latent_cov: torch.Tensor | None = None,
):
    """(P_r, alpha): P_r ((2gd-d_R) x r); ``kv_rank=None`` -> identity (stage B, no PCA).
    ``latent_cov``: the second moment of [k_nope ; v] measured on the partial-RoPE (stage-B)
    model; without it, it is derived from the original model's ``kv_cov`` through Q."""
    gd = Q.shape[0]
    n = 2 * gd - rope_dim
    if kv_rank is None:
        return torch.eye(n, dtype=torch.float64), 1.0
    if not 0 < kv_rank <= n:
        raise FwError(
            f'kv_rank={kv_rank} must be in 1..2*g*d-d_R={n} (g*d={gd}, d_R={rope_dim}); '
            'pass a smaller --kv-rank'
        )
    cov = nope_value_cov(kv_cov, Q, rope_dim) if latent_cov is None else latent_cov
    alpha = balance_alpha(cov, gd - rope_dim, ratio) if balance and gd > rope_dim else 1.0
    s = torch.ones(n, dtype=torch.float64)
    s[: gd - rope_dim] /= alpha
    P, _ = joint_pca(cov * s[:, None] * s[None, :], damp)
    return P[:, :kv_rank], alpha
