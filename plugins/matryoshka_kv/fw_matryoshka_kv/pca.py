"""PCA initialisation (paper Sec. 3.4): statistics of the post-RoPE keys and the values that the
base model caches on calibration text, per layer and KV head, in float64.

``mu = E[x]``, ``C = E[x x^T] - mu mu^T`` (centred), eigenvectors by descending eigenvalue give
``U``; ``X = inverse_cayley(U)`` after the sign fix (columns flipped so the Cayley map reaches U).
At rank r the PCA basis minimises the mean squared reconstruction error of ``x - mu``, and that
error equals the sum of the dropped eigenvalues.
"""

from __future__ import annotations

import torch

from framework.llm.cache import DenseKVCache

from .attention import mkv_modules, set_mode
from .cayley import inverse_cayley


class KVStatistics:
    """Running float64 count, sum and sum of outer products of the cached keys and values,
    each (L, g, d) / (L, g, d, d)."""

    def __init__(self, L: int, g: int, d: int):
        self.count = 0
        self.sum = {w: torch.zeros(L, g, d, dtype=torch.float64) for w in 'KV'}
        self.outer = {w: torch.zeros(L, g, d, d, dtype=torch.float64) for w in 'KV'}

    def add(self, layer: int, which: str, x: torch.Tensor) -> None:
        """``x``: (B, g, T, d) cached tensor of one layer (no padding positions)."""
        x = x.detach().to('cpu', torch.float64)
        self.sum[which][layer] += x.sum((0, 2))
        self.outer[which][layer] += torch.einsum('bgti,bgtj->gij', x, x)

    def mean(self, which: str) -> torch.Tensor:
        return self.sum[which] / self.count

    def covariance(self, which: str) -> torch.Tensor:
        mu = self.mean(which)
        return self.outer[which] / self.count - mu[..., :, None] * mu[..., None, :]

    def pca(self, which: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(eigenvalues (L, g, d) descending, eigenvectors (L, g, d, d) as columns)."""
        C = self.covariance(which)
        C = (C + C.transpose(-1, -2)) / 2
        evals, evecs = torch.linalg.eigh(C)
        return evals.flip(-1), evecs.flip(-1)


@torch.no_grad()
def calibrate(lm, windows: torch.Tensor, batch_size: int = 4, log=None) -> KVStatistics:
    """Run the base model (attention mode ``off``) over ``windows`` (N, T) with a dense cache and
    accumulate the cached post-RoPE keys and values of every layer."""
    mods = mkv_modules(lm)
    modes = [m.mode for m in mods]
    set_mode(lm, 'off')
    stats = KVStatistics(len(mods), mods[0].g, mods[0].d)
    device = lm.get_input_embeddings().weight.device
    try:
        for i in range(0, windows.shape[0], batch_size):
            ids = windows[i : i + batch_size].to(device)
            cache = DenseKVCache.for_model(lm)
            lm(input_ids=ids, cache=cache, use_cache=True)
            for layer, cl in enumerate(cache.layers):
                stats.add(layer, 'K', cl.keys)
                stats.add(layer, 'V', cl.values)
            stats.count += ids.numel()
            if log:
                log(f'calibration: {min(i + batch_size, len(windows))}/{len(windows)} windows')
    finally:
        for m, mode in zip(mods, modes):
            m.mode = mode
    return stats


@torch.no_grad()
def init_from_pca(lm, stats: KVStatistics) -> dict:
    """Set every layer's ``X_K, X_V, mu_K, mu_V`` from the PCA of ``stats``; returns the
    eigenvalues {'K': (L, g, d), 'V': (L, g, d)}."""
    eigenvalues = {}
    for which in 'KV':
        evals, evecs = stats.pca(which)
        mu = stats.mean(which)
        eigenvalues[which] = evals
        for layer, m in enumerate(mkv_modules(lm)):
            X = getattr(m.proj, f'X_{which}')
            for j in range(m.g):
                Xj = inverse_cayley(evecs[layer, j], where=f'(layer {layer}, KV head {j}, {which})')
                X[j].copy_(Xj.to(X.dtype))
            getattr(m.proj, f'mu_{which}').copy_(mu[layer].to(X.dtype))
    return eigenvalues
