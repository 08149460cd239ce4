"""Heads, losses and the encoder: exact equivalences with reference formulas."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fw_projhead.head import FixedReweightHead, IdentityHead, LinearHead, MLPHead
from fw_projhead.loss import NTXentLoss, SpectralContrastiveLoss, SupConLoss
from fw_projhead.model import EncoderWithHead
from fw_projhead.theory import reweight_diag


def test_fixed_head_kappa_one_is_identity():
    h = torch.randn(7, 16)
    assert torch.equal(FixedReweightHead(16, 1.0)(h), h)
    assert torch.equal(IdentityHead()(h), h)


def test_fixed_head_weights_buffer_not_parameter():
    head = FixedReweightHead(2048, 1.05)
    assert list(head.parameters()) == []
    assert 'D' in dict(head.named_buffers())
    assert np.allclose(head.D.numpy(), reweight_diag(2048, 1.05), rtol=1e-6)
    assert head.D.dtype == torch.float32 and head.D[-1] > 0  # fp32: no underflow at k = 2047
    h = torch.ones(3, 2048)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        z = head(h)
    assert z.dtype == torch.float32
    assert torch.allclose(z[0], head.D)


def test_fixed_head_narrows_torch_gradient_to_far_coordinates():
    """The gradient reaching coordinate k is scaled by kappa^-k."""
    h = torch.randn(5, 8, requires_grad=True)
    FixedReweightHead(8, 2.0)(h).sum().backward()
    assert torch.allclose(h.grad[0], torch.tensor([2.0**-k for k in range(8)]))


def test_mlp_head_layers_and_shapes():
    head = MLPHead(32, 64, 16, n_layers=3, bn=True)
    outs = head.forward_layers(torch.randn(4, 32))
    assert [o.shape[1] for o in outs] == [64, 64, 16]
    assert (outs[0] >= 0).all() and (outs[1] >= 0).all()  # hidden outputs after ReLU
    assert LinearHead(8, 3)(torch.randn(2, 8)).shape == (2, 3)


def test_encoder_returns_pre_and_post():
    from framework import BACKBONES

    model = EncoderWithHead(
        dict(type='projhead.ColourDigitConvNet', widths=(4, 8)),
        dict(type='projhead.MLPHead', in_dim=8, hidden_dim=8, out_dim=5),
        num_classes=3,
    )
    out = model(torch.randn(2, 3, 12, 12))
    assert out['feats'].shape == (2, 8) and out['z'].shape == (2, 5)
    assert out['logits'].shape == (2, 3) and len(out['z_layers']) == 2
    assert torch.equal(out['z'], model.head(out['feats']))
    nohead = EncoderWithHead(
        dict(type='projhead.ColourDigitConvNet', widths=(4, 8)),
        loss=dict(type='projhead.NTXentLoss'),
    )
    o = nohead(torch.randn(2, 3, 12, 12))
    assert torch.equal(o['feats'], o['z'])
    rows = nohead.eval()(
        torch.randn(2, 3, 12, 12), dict(label=torch.tensor([1, 2])), mode='predict'
    )
    assert set(rows[0]) >= {'pre', 'post'}
    r = BACKBONES.build(dict(type='projhead.ResNet18CIFAR', widths=(8, 16, 32, 64)))
    assert r(torch.randn(2, 3, 32, 32)).shape == (2, 64)


def test_dropdigit_second_view_loses_the_digit():
    """With p_drop = 1 the second view is the digit-free image: its z differs from the first view's
    only through the digit (augmentation off), and the loss uses it."""
    model = EncoderWithHead(
        dict(type='projhead.ColourDigitConvNet', widths=(4, 8)),
        loss=dict(type='projhead.NTXentLoss'),
        p_drop=1.0,
    )
    x, blank = torch.rand(4, 3, 12, 12), torch.zeros(4, 3, 12, 12)
    seen = []
    model.features = lambda v: seen.append(v) or {'z': torch.randn(len(v), 8, requires_grad=True)}
    model.loss(x, dict(label=torch.arange(4), no_digit=blank))
    assert torch.equal(seen[0][:4], x) and torch.equal(seen[0][4:], blank)


def _naive_spectral(z1, z2):
    n = len(z1)
    pos = sum(z1[i] @ z2[i] for i in range(n)) / n
    neg = sum((z1[i] @ z2[j]) ** 2 for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    return -2 * pos + neg


def test_spectral_loss_matches_pairwise_formula():
    z1, z2 = torch.randn(9, 4, dtype=torch.float64), torch.randn(9, 4, dtype=torch.float64)
    assert torch.allclose(SpectralContrastiveLoss()(z1, z2), _naive_spectral(z1, z2), atol=1e-12)


def _naive_supcon(z1, z2, y, tau):
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    y = torch.cat([y, y])
    total = 0.0
    for i in range(len(z)):
        others = [a for a in range(len(z)) if a != i]
        denom = torch.logsumexp(torch.stack([z[i] @ z[a] / tau for a in others]), 0)
        pos = [p for p in others if y[p] == y[i]]
        total += -sum(z[i] @ z[p] / tau - denom for p in pos) / len(pos)
    return total / len(z)


def test_supcon_matches_definition_and_reduces_to_ntxent():
    torch.manual_seed(0)
    z1, z2 = torch.randn(6, 5), torch.randn(6, 5)
    y = torch.tensor([0, 1, 0, 2, 1, 0])
    assert torch.allclose(SupConLoss(0.5)(z1, z2, y), _naive_supcon(z1, z2, y, 0.5), atol=1e-5)
    distinct = torch.arange(6)  # one positive per anchor: SimCLR's NT-Xent
    assert torch.allclose(SupConLoss(0.3)(z1, z2, distinct), NTXentLoss(0.3)(z1, z2), atol=1e-5)


def test_spectral_loss_needs_two_samples():
    with pytest.raises(ValueError):
        SpectralContrastiveLoss()(torch.randn(1, 3), torch.randn(1, 3))
