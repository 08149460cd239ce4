"""Data: CIFAR loader on a tiny sample in torchvision's exact on-disk format, the fixed split, the
augmentations, and the static plugin files (manifest imports, configs build)."""

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from fw_amcl.augment import AugFamily, DigitAugment
from fw_amcl.data import CIFAR10, CIFAR100, stratified_split

PKG = Path(__file__).resolve().parents[1] / 'fw_amcl'


def _write_cifar10(root: Path, n=6):
    base = root / 'cifar-10-batches-py'
    base.mkdir(parents=True)
    rng = np.random.RandomState(0)
    for name in [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']:
        data = rng.randint(0, 256, size=(n, 3072), dtype=np.uint8)
        with open(base / name, 'wb') as f:
            pickle.dump(
                {b'data': data, b'labels': list(rng.randint(0, 10, n)), b'batch_label': b'x'}, f
            )
    return data


def test_cifar10_on_disk_format(tmp_path):
    last = _write_cifar10(tmp_path)
    tr, te, al = (CIFAR10(str(tmp_path), s) for s in ('train', 'test', 'all'))
    assert (len(tr), len(te), len(al)) == (30, 6, 36)
    item = te[0]
    assert item['inputs'].shape == (3, 32, 32) and item['inputs'].dtype == torch.float32
    # channel-major rows of 1024 (R, G, B planes) as torchvision stores them
    assert torch.allclose(
        item['inputs'], torch.tensor(last[0].reshape(3, 32, 32) / 255.0, dtype=torch.float32)
    )
    assert al.is_train.sum() == 30 and not te.is_train.any()


def test_cifar_missing_names_expected_files(tmp_path):
    from framework import FwError

    with pytest.raises(FwError, match='cifar-100-python'):
        CIFAR100(str(tmp_path), 'train')
    with pytest.raises(FwError, match='data_batch_1'):
        CIFAR10(str(tmp_path / 'nowhere'), 'train')


def test_stratified_split_is_fixed_and_stratified():
    labels = np.repeat(np.arange(10), 50)
    a, b = stratified_split(labels), stratified_split(labels)
    assert np.array_equal(a, b)
    for c in range(10):
        assert (~a[labels == c]).sum() == 15  # 30% of each class in the test part
    assert not np.array_equal(
        a, stratified_split(labels, split_seed=1) if False else stratified_split(labels, seed=1)
    )


def test_mnist5k_split():
    from framework import FwError
    from fw_amcl.data import MlxtendMNIST

    try:
        tr, te, al = MlxtendMNIST('train'), MlxtendMNIST('test'), MlxtendMNIST('all')
    except FwError as e:
        pytest.skip(str(e))
    assert (len(tr), len(te), len(al)) == (3500, 1500, 5000)
    x = tr[0]['inputs']
    assert x.shape == (1, 28, 28) and 0 <= x.min() and x.max() <= 1 and x.max() > 0.5
    assert int(al.is_train.sum()) == 3500


def test_augmentations_shapes_ranges_and_randomness():
    torch.manual_seed(0)
    x = torch.rand(8, 3, 32, 32)
    aug = AugFamily('acde', 32)
    y1, y2 = aug(x), aug(x)
    assert y1.shape == x.shape and torch.isfinite(y1).all() and not torch.allclose(y1, y2)
    assert torch.allclose(aug.normalize(x) * aug.std + aug.mean, x, atol=1e-6)
    blur = AugFamily('b', 32)._blur(x)
    assert blur.shape == x.shape and blur.std() < x.std()  # blurring smooths
    assert torch.allclose(
        AugFamily('b')._blur(torch.full((2, 3, 32, 32), 0.3)), torch.full((2, 3, 32, 32), 0.3)
    )
    gray = torch.rand(4, 1, 1, 1).expand(4, 3, 32, 32)  # jitter keeps grey grey (hue/saturation)
    j = AugFamily._jitter(gray.contiguous(), b=0.0, c=0.0, s=0.4, h=0.1)
    assert torch.allclose(j, gray, atol=1e-5)
    with pytest.raises(ValueError):
        AugFamily('xyz')
    d = torch.rand(5, 1, 28, 28)
    out = DigitAugment()(d)
    assert out.shape == d.shape and not torch.allclose(out, d)
    ident = DigitAugment(rotation=0, scale=0, translate_px=0, intensity=(1, 1), dropout=0, noise=0)(
        d
    )
    assert torch.allclose(ident, d, atol=1e-5)


def test_package_init_does_not_import_torch():
    # (that every manifest entry imports is the core contract test's: tests/test_plugin_contract.py)
    assert 'torch' not in (PKG / '__init__.py').read_text().replace('not import torch', '')


CPU_CONFIGS = sorted(p.stem for p in (PKG / 'configs').glob('*.py'))
GPU_CONFIGS = sorted('cifar/' + p.stem for p in (PKG / 'configs' / 'cifar').glob('*.py'))
BUILT_GPU = [
    f'cifar/{m}_{v}_r18_cifar10' for m in ('simclr', 'moco', 'barlow') for v in ('base', 'amcl')
]


@pytest.mark.parametrize('cfg', CPU_CONFIGS + BUILT_GPU)
def test_configs_build_their_model(cfg):
    from mmengine.config import Config

    from framework import MODELS

    c = Config.fromfile(str(PKG / 'configs' / f'{cfg}.py'))
    m = MODELS.build(c.model)
    x = torch.rand(
        2, *((3, 32, 32) if 'cifar' in cfg else (1, 28, 28) if 'mnist' in cfg else (1, 8, 8))
    )
    with torch.no_grad():
        assert m.eval()(x, mode='tensor').shape == (2, m.backbone.out_dim)
    assert m.neck.num_heads == (3 if c.model.amcl else 1) and m.amcl == c.model.amcl
    assert c.train_dataloader.drop_last is True
    if 'barlow' in cfg and c.model.amcl:
        assert c.model.loss.batch_size == c.train_dataloader.batch_size


def test_all_gpu_configs_load_with_the_paper_settings():
    from mmengine.config import Config

    lr = {'simclr': 0.06, 'moco': 0.08, 'barlow': 0.11}
    assert len(GPU_CONFIGS) == 31
    for cfg in GPU_CONFIGS:
        c = Config.fromfile(str(PKG / 'configs' / f'{cfg}.py'))
        if cfg.endswith('eval_linear_r18'):
            assert (
                c.test_evaluator[0].type == 'amcl.LinearProbe' and c.test_evaluator[0].epochs == 100
            )
            continue
        method = cfg.split('/')[1].split('_')[0]
        assert (
            c.optim_wrapper.optimizer.lr == lr[method] and c.optim_wrapper.clip_grad.max_norm == 1.0
        )
        assert c.train_dataloader.batch_size == 512 and c.train_dataloader.drop_last
        epochs = 200 if cfg.endswith('_200e') else 1000
        assert c.train_cfg.max_epochs == epochs and c.param_scheduler[0].T_max == epochs
        assert c.model.augment.spec == (cfg.rsplit('_aug_', 1)[1] if '_aug_' in cfg else 'acde')
        heads = int(cfg[-1]) if '_heads' in cfg else (3 if c.model.amcl else 1)
        assert c.model.num_heads == heads
        if c.model.amcl:
            assert c.model.loss.beta == (1e-6 if method == 'barlow' else 1e-4)
