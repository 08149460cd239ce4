"""Registration: fw's registries (manifest) and the mmdet child registries (scope damo_yolo)."""

import pytest

pytest.importorskip('mmdet')


def test_fw_registry_builds_qualified_names():
    from framework import BACKBONES, MODELS, TASK_UTILS

    bb = MODELS.build(dict(type='damo_yolo.TinyNAS', arch='T'))
    assert type(bb).__name__ == 'TinyNAS' and bb.out_channels == (96, 192, 384)
    assert BACKBONES.get('damo_yolo.TinyNAS') is type(bb)
    assert TASK_UTILS.get('damo_yolo.AlignOTAAssigner').__name__ == 'AlignOTAAssigner'


def test_mmdet_child_registries_hold_the_fw_components():
    import mmdet.registry as mmreg

    from framework import MODELS, TRANSFORMS, mm_registries, mm_scope

    own = mm_registries('damo_yolo', 'mmdet')  # made by the plugin's fw_register hook
    assert own.MODELS.parent is mmreg.MODELS and own.MODELS.scope == 'damo_yolo'
    assert mmreg.MODELS._children['damo_yolo'] is own.MODELS
    # from an mmdet config: qualified name through mmdet's registry, the same object as fw's
    assert mmreg.MODELS.get('damo_yolo.ZeroHead') is MODELS.get('damo_yolo.ZeroHead')
    assert mmreg.TRANSFORMS.get('damo_yolo.MixUpP') is TRANSFORMS.get('damo_yolo.MixUpP')
    assert mmreg.TASK_UTILS.get('damo_yolo.AlignOTAAssigner').__name__ == 'AlignOTAAssigner'
    # in the plugin's scope, mmdet names resolve through the parent
    assert own.MODELS.get('QualityFocalLoss').__name__ == 'QualityFocalLoss'
    assert own.HOOKS.get('YOLOXModeSwitchHook').__name__ == 'YOLOXModeSwitchHook'
    with mm_scope('mmdet'):
        from mmengine.registry import MODELS as ROOT

        m = ROOT.build(dict(type='damo_yolo.GiraffeNeckV2'))
        assert type(m).__name__ == 'GiraffeNeckV2'


@pytest.mark.parametrize(
    'name',
    [
        'damo_yolo_t_300e_coco',
        'damo_yolo_s_300e_coco',
        'damo_yolo_m_300e_coco',
        'damo_yolo_s_distill_300e_coco',
    ],
)
def test_real_configs_build(name):
    """The GPU configs load and their models build (teacher weights not needed for this check)."""
    from mmengine.config import Config

    from fw_damo_yolo.detector import build_model, count_params, model_config

    cfg = Config.fromfile(str(model_config(name)))
    assert cfg.default_scope == 'mmdet' and cfg.auto_scale_lr.base_batch_size == 64
    assert (
        cfg.optim_wrapper.optimizer.nesterov
        and cfg.optim_wrapper.paramwise_cfg.norm_decay_mult == 0
    )
    types = [t['type'] for t in cfg.train_pipeline]
    skip = [h for h in cfg.custom_hooks if h['type'] == 'YOLOXModeSwitchHook'][0]['skip_type_keys']
    assert set(skip) <= set(types)  # the mode switch names the exact pipeline type strings
    # no pre-NMS top-k cap, as in the official post-process (every candidate above score_thr)
    assert cfg.model.test_cfg.get('nms_pre', -1) == -1
    assert [s['type'] for s in cfg.param_scheduler] == [
        'QuadraticWarmupLR',
        'CosineAnnealingLR',
        'ConstantLR',
    ]
    if 'distill' in name:
        cfg.model.teacher_ckpt = None
        assert cfg.optim_wrapper.clip_grad.max_norm == 30.0
        import os
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, 'c.py')
            cfg.dump(p)
            m = build_model(p)
        assert type(m).__name__ == 'DAMOYOLODistill'
        assert m.distill_loss.align[0].out_channels == m.teacher_model.neck.out_channels[0]
    else:
        m = build_model(name)
        expected = {'t': 8.876, 's': 16.936, 'm': 29.242}[name.split('_')[2]]
        assert abs(count_params(m) / 1e6 - expected) / expected < 2e-3
