"""`fw damo_yolo bench --compare-accuracy`: every model gets the CPU default's schedule, and
``--epochs`` stretches that schedule consistently (loop length, cosine end and length, checkpoint)."""

import pytest

pytest.importorskip('mmdet')


def _schedule(cfg):
    cosine = cfg.param_scheduler[-1]
    return (
        cfg.train_cfg.max_epochs,
        cosine['end'],
        cosine['T_max'],
        cfg.default_hooks.checkpoint.interval,
    )


def test_set_epochs_stretches_the_whole_schedule():
    from framework import load_config
    from fw_damo_yolo.compare import set_epochs

    cfg = load_config('damo_yolo', 'damo_yolo_t_shapes')
    epochs, end, t_max, interval = _schedule(cfg)
    per_epoch = end // epochs
    assert per_epoch == 256 // cfg.train_dataloader.batch_size  # 256 training images
    warmup = cfg.param_scheduler[-1]['begin']
    for target in (epochs // 2, epochs, 2 * epochs):
        stretched = load_config('damo_yolo', 'damo_yolo_t_shapes')
        set_epochs(stretched, target)
        assert _schedule(stretched) == (
            target,
            target * per_epoch,
            target * per_epoch - warmup,
            target,
        )
    set_epochs(cfg, epochs)
    assert _schedule(cfg) == (epochs, end, t_max, interval)  # the default is a fixed point


def test_compared_models_are_the_papers_models_with_the_shapes_classes():
    from framework import load_config
    from fw_damo_yolo.compare import model_cfg

    cfg = load_config('damo_yolo', 'damo_yolo_t_shapes')
    damo = model_cfg('damo_yolo_t', 3, cfg.model.test_cfg)
    assert damo.backbone.get('widen_factor', 1.0) != cfg.model.backbone.widen_factor  # full T
    assert damo.bbox_head.num_classes == 3
    for name in ('yolox_tiny', 'yolox_s'):
        yolox = model_cfg(name, 3, None)
        assert yolox.type == 'YOLOX' and yolox.bbox_head.num_classes == 3
        assert 'batch_augments' not in yolox.data_preprocessor
