"""Projectors: identity at init, parameter counts, window locality, equivalences."""

import pytest
import torch

from framework import FwError
from fw_wiclp.neck import CLP, LinearSkip, MLPSkip, WiCLP


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_identity_at_init_is_exact():
    x = torch.randn(2, 77, 768)
    assert torch.equal(CLP(768)(x), x)
    assert torch.equal(WiCLP(768, window=5)(x), x)
    assert torch.equal(LinearSkip(768)(x), x)
    assert torch.equal(MLPSkip(64)(x[..., :64]), x[..., :64])


@pytest.mark.parametrize('dim,clp,wiclp', [(768, 590_592, 2_949_888), (1024, 1_049_600, 5_243_904)])
def test_parameter_counts(dim, clp, wiclp):
    assert n_params(CLP(dim)) == clp == dim * dim + dim
    assert n_params(WiCLP(dim, window=5)) == wiclp == 5 * dim * dim + dim


def test_wiclp_is_local_to_its_window():
    torch.manual_seed(1)
    m = WiCLP(16, window=5)
    torch.nn.init.normal_(m.conv.weight)
    torch.nn.init.normal_(m.conv.bias)
    x = torch.randn(1, 12, 16)
    y = m(x)
    j = 6
    x2 = x.clone()
    x2[0, j] += torch.randn(16)
    y2 = m(x2)
    changed = [t for t in range(12) if not torch.equal(y[0, t], y2[0, t])]
    assert changed == [t for t in range(12) if abs(t - j) <= 2]


def test_wiclp_matches_the_window_sum():
    """y_t = x_t + b + sum_k W_k x_{t+k}, taps j = k + r, zero outside [0, T)."""
    torch.manual_seed(2)
    m = WiCLP(8, window=3)
    torch.nn.init.normal_(m.conv.weight)
    torch.nn.init.normal_(m.conv.bias)
    x = torch.randn(2, 5, 8)
    W, b = m.conv.weight, m.conv.bias
    expected = x + b
    for t in range(5):
        for k in (-1, 0, 1):
            if 0 <= t + k < 5:
                expected[:, t] = expected[:, t] + x[:, t + k] @ W[:, :, k + 1].T
    assert torch.allclose(m(x), expected, atol=1e-5)


def test_window_one_equals_linear_skip():
    torch.manual_seed(3)
    a, b = torch.randn(32, 32), torch.randn(32)
    w1, skip = WiCLP(32, window=1), LinearSkip(32)
    with torch.no_grad():
        w1.conv.weight.copy_(a[:, :, None])
        w1.conv.bias.copy_(b)
        skip.proj.weight.copy_(a)
        skip.proj.bias.copy_(b)
    x = torch.randn(3, 10, 32)
    assert (w1(x) - skip(x)).abs().max() <= 1e-5


def test_even_window_and_unknown_init_raise():
    with pytest.raises(FwError, match='odd'):
        WiCLP(16, window=4)
    with pytest.raises(FwError, match='init'):
        CLP(16, init='orthogonal')


@pytest.mark.parametrize('T', [1, 3, 77])
def test_shape_dtype_contract(T):
    for m in (CLP(16, init='xavier'), WiCLP(16, 5)):
        x = torch.randn(2, T, 16, dtype=torch.float64)
        y = m.double()(x)
        assert y.shape == x.shape and y.dtype == x.dtype


def test_projectors_build_from_the_registry():
    from framework import NECKS

    m = NECKS.build(dict(type='wiclp.WiCLP', dim=16, window=3))
    assert isinstance(m, WiCLP) and m.window == 3
