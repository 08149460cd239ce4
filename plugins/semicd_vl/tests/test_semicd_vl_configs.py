"""Real-scale configs on a tiny copy of the data: one key re-points them, the official
pseudo-label folder names, baselines without VLM labels, clear errors for wrong data roots, and
independent augmentation of the mix batch with dataloader workers."""

import os
import shutil
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
sys.path.insert(0, os.path.dirname(__file__))

from framework import FwError  # noqa: E402

LEVIR_SEG = 'gen_seg_label/levir-cd_direct_abs_ignore_0.8'
LEVIR_CD = 'gen_cd_label/levir-cd_instance_mask-iou_0.0_direct_abs_ignore_0.8'
WHU_SEG = 'gen_seg_label/whu-cd_direct_abs_ignore_0.8'
WHU_CD = 'gen_cd_label/whu-cd_instance_mask-iou_0.0_direct_abs_ignore_0.8'


@pytest.fixture(scope='module')
def levir_copy(tmp_path_factory, toy_root):
    """A LEVIR-CD-256-layout folder (A/, B/, label/, splits/levir/...) without the toy marker, and
    a separate folder of VLM labels under the official release's names."""
    from fw_semicd_vl.data import write_splits
    from fw_semicd_vl.oracle import MARKER

    base, toy = tmp_path_factory.mktemp('levir'), toy_root
    root = base / 'my_levir'
    for d in ('A', 'B', 'label'):
        shutil.copytree(toy / d, root / d)
    assert not (root / MARKER).exists()
    ids = sorted(os.listdir(root / 'A'))
    train = [i for i in ids if i.startswith('train_')]
    write_splits(
        root / 'splits' / 'levir',
        train,
        test_ids=[i for i in ids if i.startswith('test_')],
        val_ids=[i for i in ids if i.startswith('val_')],
    )
    vl = base / 'my_vl_labels'
    shutil.copytree(toy / 'vl_oracle' / 'seg', vl / LEVIR_SEG)
    shutil.copytree(toy / 'vl_oracle' / 'change', vl / LEVIR_CD)
    return root, vl


def _runner(config, *options):
    from framework import build_runner, load_config

    cfg = load_config('semicd_vl', config, cfg_options=list(options))
    return build_runner(cfg)


def test_official_pseudo_label_folder_names():
    """Issue 14 item 2: the real configs read the official release's folders
    (``levir-cd_...`` / ``whu-cd_...``) under ``vl_label_root``."""
    from framework import load_config
    from fw_semicd_vl.roots import resolve_roots

    for pct in ('5', '10', '20', '40'):
        for name, seg, cd in (('levir', LEVIR_SEG, LEVIR_CD), ('whu', WHU_SEG, WHU_CD)):
            cfg = load_config('semicd_vl', f'semicd_vl_r50_{name}256_{pct}pct')
            for k in ('labeled', 'unlabeled', 'mix'):
                ds = resolve_roots(cfg.train_dataloader[k].dataset.to_dict(), cfg)
                assert ds['vl_seg_root'] == f'data/vl_labels/{seg}'
                assert ds['vl_change_root'] == f'data/vl_labels/{cd}'


def test_one_key_repoints_a_semi_config_at_my_levir_copy(levir_copy):
    """Issue 14 item 6: ``data_root`` (and ``vl_label_root`` for the VLM labels) move every split
    of a real config; train, val and test loaders read the user's copy."""
    root, vl = levir_copy
    runner = _runner('semicd_vl_r50_levir256_5pct', f'data_root={root}', f'vl_label_root={vl}')
    loaders = runner.train_loop.dataloaders
    assert set(loaders) == {'labeled', 'unlabeled', 'mix'}
    for loader in loaders.values():
        ds = loader.dataset
        assert ds.data_root == str(root) and ds.vl_seg_root == str(vl / LEVIR_SEG)
    sample = loaders['unlabeled'].dataset[0]
    assert {'img', 'img_s', 'vl_a', 'vl_b', 'vl_change', 'cutmix_box'} <= set(sample)
    assert runner.val_loop.dataloader.dataset.data_root == str(root)
    assert runner.test_loop.dataloader.dataset.data_root == str(root)
    assert len(runner.test_loop.dataloader.dataset) == 8


@pytest.mark.parametrize('method', ['supervised', 'fixmatch'])
def test_baselines_need_no_pseudo_label_folders(levir_copy, method):
    """Issue 14 item 3: the baselines read no VLM labels (none exist under vl_label_root here)."""
    root, _ = levir_copy
    runner = _runner(
        f'{method}_r50_levir256_5pct', f'data_root={root}', f'vl_label_root={root}/missing'
    )
    for loader in runner.train_loop.dataloaders.values():
        assert loader.dataset.vl_seg_root is None
        sample = loader.dataset[0]
        assert 'img' in sample and 'vl_change' not in sample


def test_semicd_vl_without_pseudo_labels_is_one_clear_error():
    from test_semicd_vl_losses import model

    from fw_semicd_vl.data import BiTemporalCDDataset

    with pytest.raises(FwError, match='both vl_seg_root and vl_change_root'):
        BiTemporalCDDataset('.', ids=['x.png'], vl_seg_root='somewhere', vl_change_root=None)
    m = model()
    x = dict(img=torch.rand(1, 6, 8, 8) * 255, gt=torch.zeros(1, 8, 8, dtype=torch.long))
    u = dict(
        img=torch.rand(1, 6, 8, 8) * 255,
        img_s=torch.rand(1, 6, 8, 8) * 255,
        ignore=torch.zeros(1, 8, 8, dtype=torch.long),
        cutmix_box=torch.zeros(1, 8, 8, dtype=torch.long),
    )
    with pytest.raises(FwError, match='needs the VLM maps'):
        m.semi_forward(x, u, dict(u))


def _train_dataset(config, *options, key='labeled'):
    """Build one training dataset of ``config`` as the plugin's train loop does (placeholders
    filled from the config's top-level keys, then the registry)."""
    from framework import load_config, mm_registries
    from fw_semicd_vl.roots import resolve_roots

    cfg = load_config('semicd_vl', config, cfg_options=list(options))
    ds = resolve_roots(cfg.train_dataloader[key].dataset.to_dict(), cfg)
    return mm_registries('semicd_vl', 'mmseg').DATASETS.build(ds)


def test_wrong_data_roots_give_one_clear_error(levir_copy, tmp_path):
    """Issue 14 item 6: a toy config pointed at other data refuses before writing anything; a
    real config pointed at a missing folder names the key to set."""
    root, _ = levir_copy
    before = sorted(os.listdir(root))
    with pytest.raises(FwError, match='not the synthetic toy set'):
        _train_dataset('semicd_vl_toy', f'data_root={root}')
    assert sorted(os.listdir(root)) == before and not any(
        p.name.startswith('.toy-') for p in root.parent.iterdir()
    )
    with pytest.raises(FwError, match='has no A/ folder'):
        _train_dataset('semicd_vl_r50_levir256_5pct', f'data_root={tmp_path}/nowhere')


def test_mix_batch_is_not_a_copy_of_the_unlabeled_batch_with_workers(toy_root, tmp_path):
    """Issue 14 item 1: with dataloader workers (the GPU configs use 4) the mix loader keeps the
    unlabeled loader's image order ('same_order') but draws its own crops, jitter and CutMix box;
    workers seeded alike made the two batches bit-identical."""
    from types import SimpleNamespace

    from mmengine.runner import Runner

    from fw_semicd_vl.bench import toy_config
    from fw_semicd_vl.loop import SemiIterBasedTrainLoop

    cfg = toy_config('semicd_vl', 0, 2, str(tmp_path / 'wd'), str(toy_root))
    for k in ('labeled', 'unlabeled', 'mix'):
        cfg.train_dataloader[k].update(num_workers=2, batch_size=4)
    runner = SimpleNamespace(  # what the loop uses of mmengine's Runner
        seed=0,
        cfg=cfg,
        _randomness_cfg={},
        build_dataloader=Runner.build_dataloader,
        visualizer=SimpleNamespace(),
    )
    loop = SemiIterBasedTrainLoop(runner, cfg.train_dataloader.to_dict(), max_iters=2)
    batch = next(loop.dataloader_iterator)
    u, o = batch['unlabeled'], batch['mix']
    assert list(u['id']) == list(o['id'])  # same images, same order
    assert not torch.equal(u['img_s'], o['img_s'])
    assert not torch.equal(u['img'], o['img'])
    for a, b in zip(u['img_s'], o['img_s']):  # every pair augmented differently
        assert not torch.equal(a, b)
    assert not np.array_equal(u['cutmix_box'].numpy(), o['cutmix_box'].numpy()) or (
        u['cutmix_box'].sum() == 0
    )
