"""Points where the conversion must follow the paper's procedure (and the authors' converter):
the joint K/V PCA is calibrated on the partial-RoPE model, the BKV ratio's direction, d_R = 2*d
(float64, sdpa, tiny random models)."""

import copy

import pytest
import torch

from framework import FwError
from framework.llm.models import tiny
from fw_transmla.calibrate import calibrate
from fw_transmla.convert import convert_mla, convert_with_search
from fw_transmla.pca import balance_alpha

torch.set_num_threads(1)
ARCHS = ['llama', 'qwen2']


def _ids(model, B, T, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, model.config.vocab_size, (B, T), generator=g)


def _logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids, use_cache=False).logits


def _latent_projector(model, Ys, X, layer):
    """P_r P_r^T recovered from a converted layer: kv_a(x) = P_r^T [k_nope/alpha ; v](x)."""
    with torch.no_grad():
        C = model.model.layers[layer].self_attn.kv_a(X)
    P = torch.linalg.lstsq(Ys, C).solution
    return P @ P.T


@pytest.mark.parametrize('arch', ARCHS)
def test_kv_pca_is_calibrated_on_the_partial_rope_model(arch):
    """The last layer's latent basis and alpha must be the BKV + PCA of [k_nope ; v] measured on
    the stage-B (partial-RoPE) model, whose earlier layers already lost RoPE on most
    coordinates; statistics of the original model give a different basis."""
    ref = tiny(arch)
    calib = _ids(ref, 4, 64, seed=7)
    dr, M, r = 8, 2, 20
    stats = calibrate(ref, calib)
    kw = dict(kv_rank=r, rope_dim=dr, freqfold=M, stats=stats, log=lambda s: None)
    paper, _ = convert_with_search(copy.deepcopy(ref), calib, **kw)
    old = convert_mla(copy.deepcopy(ref), stats, kv_rank=r, rope_dim=dr, freqfold=M)
    assert paper.config.transmla['pca_calibration'] == 'partial_rope'

    # independent reference: run the stage-B model, take the last layer's input and [k_nope ; v]
    stage_b = convert_mla(copy.deepcopy(ref), stats, kv_rank=None, rope_dim=dr, freqfold=M)
    last = len(ref.model.layers) - 1
    seen = {}
    hook = stage_b.model.layers[last].self_attn.kv_a.register_forward_hook(
        lambda mod, inp, out: seen.update(x=inp[0], y=out)
    )
    _logits(stage_b, calib)
    hook.remove()
    X = seen['x'].reshape(-1, seen['x'].shape[-1])
    Y = seen['y'].reshape(-1, seen['y'].shape[-1])
    n_nope = (Y.shape[1] + dr) // 2 - dr  # Y has 2gd - d_R columns, the first gd - d_R are K
    norms = Y.norm(dim=0)
    alpha = float(norms[:n_nope].mean() / norms[n_nope:].mean())
    assert abs(paper.config.transmla['alphas'][last] - alpha) <= 1e-9 * alpha
    Ys = torch.cat((Y[:, :n_nope] / alpha, Y[:, n_nope:]), 1)
    H = Ys.T @ Ys
    H = H + 0.01 * H.diagonal().mean() * torch.eye(H.shape[0], dtype=H.dtype)
    P = torch.linalg.eigh(H).eigenvectors.flip(1)[:, :r]
    want = P @ P.T
    assert (_latent_projector(paper, Ys, X, last) - want).abs().max() <= 1e-8
    # the original model's statistics (the former behaviour) give another basis
    assert (_latent_projector(old, Ys, X, last) - want).abs().max() > 1e-4


def test_balance_kv_ratio_direction():
    """After K_nope / alpha the mean K column norm is ratio x the mean V column norm: a larger
    ``balance_kv_ratio`` keeps more of K in the joint PCA (as the authors' converter)."""
    norms = torch.tensor([10.0, 30.0, 2.0, 2.0], dtype=torch.float64)  # 2 K cols, 2 V cols
    cov = torch.diag(norms**2)
    for ratio in (0.5, 1.0, 3.0):
        alpha = balance_alpha(cov, 2, ratio)
        assert abs((norms[:2] / alpha).mean() / norms[2:].mean() - ratio) <= 1e-12
    ref = tiny('llama')
    stats = calibrate(ref, _ids(ref, 4, 64, seed=7))
    a1, a2 = (
        convert_mla(
            copy.deepcopy(ref), stats, kv_rank=20, rope_dim=8, freqfold=2, balance_kv_ratio=q
        ).config.transmla['alphas']
        for q in (1.0, 2.0)
    )
    assert all(abs(x2 - x1 / 2) <= 1e-12 * x1 for x1, x2 in zip(a1, a2))


@pytest.mark.parametrize('arch', ARCHS)
def test_rope_dim_twice_head_dim(arch):
    """d_R = 2d keeps RoPE on 2 components per frequency; with g = 2 that is every coordinate, so
    RoRoPE (M = 1) reproduces the original model exactly."""
    ref = tiny(arch)
    ids = _ids(ref, 2, 24, seed=1)
    stats = calibrate(ref, _ids(ref, 4, 64, seed=7))
    m = convert_mla(copy.deepcopy(ref), stats, kv_rank=None, rope_dim=32, freqfold=1)
    assert (_logits(m, ids) - _logits(ref, ids)).abs().max() <= 1e-10
    assert m.config.transmla['freqs'][0] == sorted(list(range(8)) * 2)
    # g = 4: d_R = 2d < g*d is lossy but runs (every stage-B variant), PCA at full rank is exact
    ref4 = tiny(arch, num_key_value_heads=4)
    stats4 = calibrate(ref4, _ids(ref4, 4, 64, seed=7))
    for rot in ('none', 'norm', 'rorope'):
        b = convert_mla(
            copy.deepcopy(ref4), stats4, kv_rank=None, rope_dim=32, freqfold=2, rotation=rot
        )
        assert torch.isfinite(_logits(b, ids)).all()
    full = convert_mla(copy.deepcopy(ref4), stats4, kv_rank=2 * 64 - 32, rope_dim=32, freqfold=2)
    assert (_logits(full, ids) - _logits(b, ids)).abs().max() <= 1e-10


@pytest.mark.parametrize('rope_dim', [24, 64, 0, 7])
def test_unusable_rope_dim_is_one_clear_error(rope_dim):
    ref = tiny('llama')  # d = 16, g = 2: 24 neither divides nor is a multiple of d, 64 > g*d
    stats = calibrate(ref, _ids(ref, 2, 32, seed=7))
    with pytest.raises(FwError, match='rope_dim'):
        convert_mla(copy.deepcopy(ref), stats, kv_rank=None, rope_dim=rope_dim, freqfold=1)
