"""PCA initialisation from calibration caches (post-RoPE keys, values)."""

import torch

from framework.llm.models import tiny
from fw_matryoshka_kv.attention import install_projections, mkv_modules
from fw_matryoshka_kv.pca import calibrate, init_from_pca

torch.set_num_threads(1)


def calibrated():
    m = tiny('llama')
    projs = install_projections(m)
    for p in projs:
        p.double()
    windows = torch.randint(0, 512, (6, 32), generator=torch.Generator().manual_seed(0))
    return m, calibrate(m, windows, batch_size=3), windows


def test_statistics_are_the_cached_post_rope_keys():
    from framework.llm.cache import DenseKVCache

    m, stats, windows = calibrated()
    cache = DenseKVCache.for_model(m)
    with torch.no_grad():
        m(input_ids=windows, cache=cache, use_cache=True)
    k = cache.layers[1].keys  # (B, g, T, d), post-RoPE
    assert stats.count == windows.numel()
    assert torch.allclose(stats.mean('K')[1], k.mean((0, 2)), atol=1e-12)
    x = k[:, 0].reshape(-1, 16) - k[:, 0].reshape(-1, 16).mean(0)
    assert torch.allclose(stats.covariance('K')[1, 0], x.T @ x / x.shape[0], atol=1e-10)


def test_pca_beats_random_bases_and_error_is_dropped_eigenvalues():
    m, stats, windows = calibrated()
    evals = init_from_pca(m, stats)
    from framework.llm.cache import DenseKVCache

    cache = DenseKVCache.for_model(m)
    with torch.no_grad():
        m(input_ids=windows, cache=cache, use_cache=True)
    att = mkv_modules(m)[0]
    U = att.proj.bases()[0][0]  # layer 0, head 0, keys
    x = cache.layers[0].keys[:, 0].reshape(-1, 16) - att.proj.mu_K[0].detach()
    r = 5

    def err(B):
        P = B[:, :r] @ B[:, :r].T
        return float(((x - x @ P) ** 2).sum(1).mean())

    pca_err = err(U.detach())
    assert abs(pca_err - float(evals['K'][0, 0, r:].sum())) / pca_err < 1e-8
    g = torch.Generator().manual_seed(0)
    for _ in range(10):
        Q, _ = torch.linalg.qr(torch.randn(16, 16, dtype=torch.float64, generator=g))
        assert pca_err < err(Q)


def test_pca_init_keeps_full_rank_exact():
    m, stats, windows = calibrated()
    from fw_matryoshka_kv.attention import set_mode

    set_mode(m, 'off')
    with torch.no_grad():
        ref = m(input_ids=windows).logits
        init_from_pca(m, stats)
        set_mode(m, 'truncate')
        out = m(input_ids=windows).logits
    assert (out - ref).abs().max() < 1e-10
