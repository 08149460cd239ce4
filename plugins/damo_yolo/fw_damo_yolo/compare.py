"""``fw damo_yolo bench --compare-accuracy``: the accuracy half of the paper's claim (higher
accuracy than YOLOX at lower latency, Xu et al. 2022, Table 8) at CPU scale.

DAMO-YOLO-T and mmdet's own YOLOX-tiny / YOLOX-S (model configs shipped in mmdet, 3 classes) are
trained with one schedule, data pipeline, optimiser, EMA and budget (those of the CPU default
``damo_yolo_t_shapes``) on the generated shapes COCO set, for several seeds, through the mmengine
Runner; each row reports val bbox mAP and mAP@0.5 (EMA weights) and the forward latency at the
training size (batch 1, no NMS, deployed DAMO-YOLO, models timed interleaved)."""

import copy
import os
import statistics

import torch

MODELS = ('damo_yolo_t', 'yolox_tiny', 'yolox_s')


def model_cfg(name, num_classes, test_cfg):
    """The model config dict of ``name`` for ``num_classes`` classes."""
    from mmengine.config import Config

    from .bench import yolox_config
    from .detector import model_config

    if name == 'damo_yolo_t':
        model = copy.deepcopy(Config.fromfile(str(model_config('_base_/damo_yolo_t'))).model)
        model.bbox_head.num_classes = num_classes
        model.test_cfg = copy.deepcopy(test_cfg)
        return model
    if name not in ('yolox_tiny', 'yolox_s'):
        raise ValueError(f'unknown model {name!r}; one of {MODELS}')
    model = copy.deepcopy(Config.fromfile(yolox_config(f'{name}_8xb8-300e_coco.py')).model)
    model.bbox_head.num_classes = num_classes
    model.data_preprocessor.pop('batch_augments', None)  # multi-scale resize: not in the budget
    return model


def set_epochs(cfg, epochs):
    """Stretch the CPU default's schedule to ``epochs`` (cosine end and length, last checkpoint)."""
    cosine = cfg.param_scheduler[-1]
    per_epoch = cosine['end'] // cfg.train_cfg.max_epochs
    cfg.train_cfg.max_epochs = epochs
    cosine['end'] = epochs * per_epoch
    cosine['T_max'] = cosine['end'] - cosine['begin']
    cfg.default_hooks.checkpoint.interval = epochs


def train_one(name, seed, work_dir, cfg_options=(), epochs=None):
    """Train ``name`` with the CPU default's schedule (or the same one stretched to ``epochs``);
    returns the final val metrics (empty when the model made no detection above the score
    threshold: reported as 0)."""
    from framework import build_runner, load_config

    cfg = load_config(
        'damo_yolo',
        'damo_yolo_t_shapes',
        work_dir=os.path.join(work_dir, f'{name}_seed{seed}'),
        cfg_options=list(cfg_options),
        seed=seed,
    )
    cfg.model = model_cfg(name, len(cfg.classes), cfg.model.test_cfg)
    if epochs:
        set_epochs(cfg, epochs)
    cfg.train_cfg.val_interval = cfg.train_cfg.max_epochs + 1  # evaluate once, after training
    runner = build_runner(cfg)
    runner.train()
    return runner.val_loop.run()  # EMA weights (the EMA hook swaps them in for validation)


def latency_ms(names, size, threads=1, warmup=5, iters=20):
    """Median forward latency (ms) of each model at ``size``, timed interleaved."""
    from mmdet.registry import MODELS as MMDET_MODELS

    from framework import mm_registries, mm_scope

    from .bench import _time_pair
    from .deploy import RawNet, deploy_copy
    from .detector import quiet_init

    torch.set_num_threads(threads)
    fns = []
    with mm_scope('mmdet'):
        for name in names:
            if name == 'damo_yolo_t':
                model = mm_registries('damo_yolo', 'mmdet').MODELS.build(model_cfg(name, 3, None))
                quiet_init(model)
                fns.append(RawNet(deploy_copy(model.eval())).eval())
            else:
                model = MMDET_MODELS.build(model_cfg(name, 3, None))
                quiet_init(model)
                model.eval()
                fns.append(lambda x, m=model: m._forward(x))
    return dict(zip(names, _time_pair(fns, torch.rand(1, 3, size, size) * 255, warmup, iters)))


def compare_accuracy(seeds=(0, 1, 2), models=MODELS, work_dir='work_dirs/damo_yolo/compare',
                     cfg_options=(), threads=1, log=print, epochs=None):  # fmt: skip
    """Rows {model, seed, bbox_mAP, bbox_mAP_50} per run, then one summary row per model with
    the mean / min over seeds and its latency."""
    rows = []
    for name in models:
        for seed in seeds:
            m = train_one(name, seed, work_dir, cfg_options, epochs)
            row = dict(model=name, seed=seed, bbox_mAP=m.get('coco/bbox_mAP', 0.0),
                       bbox_mAP_50=m.get('coco/bbox_mAP_50', 0.0))  # fmt: skip
            rows.append(row)
            if log:
                log(str(row))
    lat = latency_ms(list(models), size=128, threads=threads)
    for name in models:
        runs = [r for r in rows if r['model'] == name and r['bbox_mAP'] is not None]
        ap = [r['bbox_mAP'] for r in runs]
        ap50 = [r['bbox_mAP_50'] for r in runs]
        rows.append(dict(
            model=name, seed='mean', bbox_mAP=statistics.mean(ap) if ap else None,
            bbox_mAP_50=statistics.mean(ap50) if ap50 else None,
            bbox_mAP_50_min=min(ap50) if ap50 else None, latency_ms_128=lat[name],
        ))  # fmt: skip
    return rows
