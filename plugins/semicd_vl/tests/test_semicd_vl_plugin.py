"""Plugin wiring: registries (fw + child registries), configs, the semi loop through the Runner
with a tiny backbone, resume, and backbone conversion (the manifest is the core contract test's)."""

import json
import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

PKG = Path(__file__).resolve().parents[1] / 'fw_semicd_vl'


def test_fw_registry_and_mmseg_child_registries_hold_the_same_components():
    import mmseg.registry as mmseg_reg

    from framework import DATASETS, LOOPS, METRICS, MODELS, TRANSFORMS, mm_registries, mm_scope
    from fw_semicd_vl.loop import SemiIterBasedTrainLoop
    from fw_semicd_vl.model import SemiCDVL

    assert MODELS.get('semicd_vl.SemiCDVL') is SemiCDVL
    assert LOOPS.get('semicd_vl.SemiIterBasedTrainLoop') is SemiIterBasedTrainLoop
    assert METRICS.get('semicd_vl.ChangeDetectionMetric').__name__ == 'ChangeDetectionMetric'
    assert DATASETS.get('semicd_vl.BiTemporalCDDataset').__name__ == 'BiTemporalCDDataset'
    own = mm_registries('semicd_vl', 'mmseg')  # made by the plugin's fw_register hook
    assert own.MODELS.scope == 'semicd_vl' and own.MODELS.parent is mmseg_reg.MODELS
    assert mmseg_reg.MODELS.get('semicd_vl.SemiCDVL') is SemiCDVL
    assert mmseg_reg.LOOPS.get('semicd_vl.SemiIterBasedTrainLoop') is SemiIterBasedTrainLoop
    assert mmseg_reg.TRANSFORMS.get('semicd_vl.CutMixBox') is TRANSFORMS.get('semicd_vl.CutMixBox')
    # an mmseg config builds the plugin's model, with mmseg's own backbone inside it
    from mmengine.registry import MODELS as ROOT

    with mm_scope('mmseg'):
        m = ROOT.build(
            dict(
                type='semicd_vl.SemiCDVL',
                semi_mode='fixmatch',
                backbone=dict(type='ResNetV1c', depth=18, stem_channels=16, base_channels=8),
                decode_head=dict(in_channels=[8, 16, 32, 64], channels=8),
            )
        )
    assert isinstance(m, SemiCDVL) and type(m.backbone).__name__ == 'ResNetV1c'
    assert m.eval().forward_all(torch.zeros(1, 6, 32, 32))['pred'].shape == (1, 2, 32, 32)


def test_all_configs_parse():
    from mmengine.config import Config

    cfgs = sorted((PKG / 'configs').glob('*.py'))
    assert len(cfgs) >= 28
    for p in cfgs:
        c = Config.fromfile(str(p))
        assert c.model.type == 'semicd_vl.SemiCDVL'
        mode = c.model.semi_mode
        assert (c.model.aux_head is not None) == (mode == 'semicd_vl'), p.name
        if '_r50_' in p.name:
            assert c.model.backbone.depth == 50 and c.train_dataloader.labeled.batch_size == 8
            assert (
                'synthetic' not in json.dumps(c.to_dict()).lower()
            )  # the oracle never in real configs
            assert c.param_scheduler[0].end == c.train_cfg.max_iters
    c = Config.fromfile(str(PKG / 'configs' / 'semicd_vl_r50_levir256_5pct.py'))
    assert c.train_cfg.max_iters == 67600 and c.train_cfg.val_interval == 845


def _tiny_cfg(mode, work_dir, root, iters=4):
    from test_semicd_vl_losses import Tiny

    from framework import MODELS
    from fw_semicd_vl.bench import toy_config

    class TinyBB(Tiny):
        def __init__(self, **kw):
            super().__init__(8)

    MODELS.register_module(name='TinyTestBackbone', module=TinyBB, force=True)
    cfg = toy_config(mode, 0, iters, str(work_dir), str(root))
    cfg.model.backbone = dict(type='TinyTestBackbone')
    cfg.model.decode_head.in_channels = [8] * 4
    if cfg.model.get('aux_head'):
        cfg.model.aux_head.in_channels = [8] * 4
    for k in ('labeled', 'unlabeled', 'mix'):
        if cfg.train_dataloader.get(k):
            cfg.train_dataloader[k].batch_size = 2
    return cfg


def test_semi_loop_through_runner_and_resume(toy_root, tmp_path):
    torch.set_num_threads(1)
    from mmengine.config import Config

    from framework import build_runner

    cfg = _tiny_cfg('semicd_vl', tmp_path / 'wd', toy_root, iters=4)
    seen = []
    runner = build_runner(Config(cfg.to_dict(), filename=cfg.filename))
    model = runner.model
    orig = model.compose_losses
    model.compose_losses = lambda t, lam=None: seen.append(model.vl_lambda_at()) or orig(t, lam)
    runner.train()
    assert seen == pytest.approx([0.1, 0.075, 0.05, 0.025])  # λ decays linearly over the run
    assert (tmp_path / 'wd' / 'iter_4.pth').is_file()
    m = runner.test()
    assert 'cd/IoU_c' in m and 0 <= m['cd/OA'] <= 100
    # resume to 6 iterations from the iter-4 checkpoint
    cfg6 = _tiny_cfg('semicd_vl', tmp_path / 'wd', toy_root, iters=6)
    cfg6.resume = True
    r2 = build_runner(Config(cfg6.to_dict(), filename=cfg6.filename))
    r2.train()
    assert r2.iter == 6 and (tmp_path / 'wd' / 'iter_6.pth').is_file()


@pytest.mark.parametrize('mode', ['supervised', 'fixmatch'])
def test_baseline_configs_run(toy_root, tmp_path, mode):
    torch.set_num_threads(1)
    from framework import build_runner

    runner = build_runner(_tiny_cfg(mode, tmp_path / mode, toy_root, iters=2))
    runner.train()
    assert runner.model.semi_mode == mode and runner.iter == 2
    if mode == 'supervised':
        assert set(runner.train_loop.dataloaders) == {'labeled'}


def test_convert_state_dict_by_position():
    from framework import FwError
    from fw_semicd_vl.convert import convert_state_dict

    tmpl = {
        'stem.0.weight': torch.zeros(4, 3, 3, 3),
        'stem.1.weight': torch.zeros(4),
        'stem.1.num_batches_tracked': torch.tensor(0),
        'layer1.0.conv1.weight': torch.zeros(8, 4, 1, 1),
    }
    src = {
        'conv1.0.weight': torch.randn(4, 3, 3, 3),
        'conv1.1.weight': torch.randn(4),
        'conv1.1.num_batches_tracked': torch.tensor(3),
        'layer1.0.conv1.weight': torch.randn(8, 4, 1, 1),
        'fc.weight': torch.randn(10, 8),
    }
    out = convert_state_dict(src, tmpl)
    assert list(out) == ['stem.0.weight', 'stem.1.weight', 'layer1.0.conv1.weight']
    assert torch.equal(out['stem.1.weight'], src['conv1.1.weight'])
    with pytest.raises(FwError, match='shape mismatch'):
        convert_state_dict({**src, 'conv1.1.weight': torch.randn(5)}, tmpl)
    with pytest.raises(FwError, match='tensors'):
        convert_state_dict({k: v for k, v in src.items() if k != 'conv1.1.weight'}, tmpl)


def test_compare_selects_the_best_validation_checkpoint_and_tests_once(
    toy_root, tmp_path, monkeypatch
):
    """Issue 14 item 8, the protocol's mechanics at tiny size: validation every 2 of 6
    iterations, the checkpoint of the best validation IoU^c (first of ties) is the one tested, and
    the test split is evaluated exactly once, after training."""
    from mmengine.hooks import Hook

    import framework
    from fw_semicd_vl import bench

    torch.set_num_threads(1)
    seen = {}
    build = framework.build_runner

    class Spy(Hook):
        def after_val_epoch(self, runner, metrics=None):
            seen.setdefault('val', []).append((runner.iter, metrics['cd/IoU_c']))

        def after_test_epoch(self, runner, metrics=None):
            seen.setdefault('test', []).append(runner.iter)

    def spy_build(cfg, **kw):
        runner = build(cfg, **kw)
        runner.register_hook(Spy())
        seen['runner'] = runner
        return runner

    monkeypatch.setattr(framework, 'build_runner', spy_build)
    row = bench.run_one(
        'supervised', 0, 6, str(tmp_path / 'wd'), str(toy_root), select='val', val_interval=2
    )
    vals = seen['val']
    assert [it for it, _ in vals] == [2, 4, 6]
    best_it, best_val = max(vals, key=lambda v: (v[1], -v[0]))
    assert row['best_iter'] == best_it and row['val_IoU_c'] == round(best_val, 2)
    assert len(seen['test']) == 1  # the test split, read once
    # the tested weights are the best checkpoint's
    path, _ = bench.best_checkpoint(seen['runner'])
    with framework.trusted_checkpoints(tmp_path):
        state = framework.load_checkpoint(path, map_location='cpu')['state_dict']
    model = seen['runner'].model.state_dict()
    assert all(torch.equal(state[k], model[k]) for k in state)
