"""Stage B: RoRoPE + FreqFold (and the two ablation baselines) as one orthogonal matrix Q
(g*d x g*d) per layer plus the list of RoPE frequencies of the d_R/2 kept components.

Rows of Q: [real parts of kept components ; imaginary parts of kept components ; all others],
so k_rope = (Q k)[:d_R] in HF half layout and k_nope = (Q k)[d_R:]."""

from __future__ import annotations

import torch

from framework import FwError


def collapse_of(d: int, rope_dim: int, g: int | None = None) -> int:
    """collapse = d / d_R (every collapse-th frequency keeps RoPE); 1 when d_R is a multiple of d
    (d_R = k*d keeps RoPE on k components per frequency, k <= g)."""
    if rope_dim <= 0 or rope_dim % 2 or (d % rope_dim and rope_dim % d):
        raise FwError(
            f'rope_dim (d_R) = {rope_dim}: must be even and divide head_dim={d} or be a multiple '
            f'of it (e.g. {d // 2}, {d} or {2 * d})'
        )
    if g is not None and rope_dim > g * d:
        raise FwError(f'rope_dim (d_R) = {rope_dim} exceeds the key width g*d = {g * d}')
    return max(d // rope_dim, 1)


def kept_per_group(d: int, rope_dim: int, M: int) -> int:
    """Components of a FreqFold group of M frequencies that keep RoPE: M * d_R / d (M / collapse
    for d_R <= d; k*M for d_R = k*d)."""
    if (M * rope_dim) % d:
        raise FwError(
            f'freqfold M={M} must be a multiple of collapse = head_dim/d_R = {d}/{rope_dim}'
        )
    return M * rope_dim // d


def freqfold_candidates(d: int, rope_dim: int) -> list[int]:
    """M = collapse, 2*collapse, ... up to d/2 (each divides d/2)."""
    c, out = collapse_of(d, rope_dim), []
    m = c
    while m <= d // 2:
        if (d // 2) % m == 0:
            out.append(m)
        m *= 2
    return out


def group_coords(g: int, d: int, M: int, m: int) -> tuple[list[int], list[int]]:
    """Flat indices of R_m = {(j, l)} and I_m = {(j, l + d/2)} for l in group m (same order)."""
    half = d // 2
    R = [j * d + l for j in range(g) for l in range(m * M, m * M + M)]
    return R, [r + half for r in R]


def _eigh_desc(H: torch.Tensor, damp: float) -> tuple[torch.Tensor, torch.Tensor]:
    H = H + damp * H.diagonal().mean() * torch.eye(H.shape[0], dtype=H.dtype)
    ev, U = torch.linalg.eigh(H)
    return ev.flip(0), U.flip(1)


def rorope(
    k_cov: torch.Tensor,
    g: int,
    d: int,
    M: int,
    n_keep: int | None = None,
    collapse: int = 1,
    damp: float = 0.01,
    rotations: dict | None = None,
) -> tuple[torch.Tensor, list[int]]:
    """RoRoPE with FreqFold M: one PCA per group of M adjacent frequencies over real+imag parts
    (same U for both). Keeps RoPE on ``n_keep`` components per group (default M / collapse),
    component c of group m at frequency m*M + (c*collapse) % M. ``rotations[m]`` (g*M x g*M
    orthogonal) overrides the PCA (tests). Returns (Q, freqs)."""
    half = d // 2
    if M <= 0 or half % M:
        raise FwError(f'freqfold M={M} must divide head_dim/2={half}')
    n_keep = M // collapse if n_keep is None else n_keep
    if n_keep > g * M:
        raise FwError(f'{n_keep} RoPE components per group > g*M = {g * M}: lower rope_dim')
    re, im, other, freqs = [], [], [], []
    for m in range(half // M):
        R, I = group_coords(g, d, M, m)
        if rotations is not None:
            U = rotations[m].to(torch.float64)
        else:
            _, U = _eigh_desc(k_cov[R][:, R] + k_cov[I][:, I], damp)
        for c in range(g * M):
            r_row = torch.zeros(g * d, dtype=torch.float64)
            i_row = torch.zeros(g * d, dtype=torch.float64)
            r_row[R] = U[:, c]
            i_row[I] = U[:, c]
            if c < n_keep:
                re.append(r_row)
                im.append(i_row)
                freqs.append(m * M + (c * collapse) % M)
            else:
                other += [r_row, i_row]
    return torch.stack(re + im + other), freqs


def _permutation(g: int, d: int, kept: list[tuple[int, int]]) -> tuple[torch.Tensor, list[int]]:
    half = d // 2
    re = [j * d + l for j, l in kept]
    im = [j * d + l + half for j, l in kept]
    rest = [i for i in range(g * d) if i not in set(re) | set(im)]
    order = re + im + rest
    Q = torch.zeros(g * d, g * d, dtype=torch.float64)
    Q[torch.arange(g * d), torch.tensor(order)] = 1.0
    return Q, [l for _, l in kept]


def no_rotation(g: int, d: int, rope_dim: int) -> tuple[torch.Tensor, list[int]]:
    """Baseline (i): RoPE kept on KV head 0's dims at every collapse-th frequency (heads
    0..k-1 for d_R = k*d)."""
    collapse = collapse_of(d, rope_dim, g)
    heads = max(rope_dim // d, 1)
    kept = [(j, l) for j in range(heads) for l in range(0, d // 2, collapse)]
    return _permutation(g, d, kept[: rope_dim // 2])


def norm_selection(qk_norm: torch.Tensor, rope_dim: int) -> tuple[torch.Tensor, list[int]]:
    """Baseline (ii), MHA2MLA-style: keep the d_R/2 (KV head, frequency) pairs with the largest
    mean ||q_l||*||k_l||; no rotation."""
    g, half = qk_norm.shape
    top = torch.topk(qk_norm.flatten(), rope_dim // 2).indices.tolist()
    kept = sorted((i // half, i % half) for i in top)
    return _permutation(g, 2 * half, kept)
