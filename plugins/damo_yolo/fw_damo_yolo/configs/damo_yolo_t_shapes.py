# CPU default: DAMO-YOLO-T structure at half width (widen_factor 0.5: same depth, blocks, neck
# topology and head; 2.1 M params), 3 classes, on the generated shapes set (COCO json), 160 px
# images trained and tested at 128x128. `fw train damo_yolo damo_yolo_t_shapes` generates
# data/shapes_coco/ on first use. Full width: widen_factor=1.0 with channels
# (96,192,384)/(64,128,256).
_base_ = ['./_base_/damo_yolo_t.py']
fw_base = []  # self-contained runtime below (mmdet scope)
default_scope = 'mmdet'

img_size = 128
data_root = 'data/shapes_coco/'
generate = dict(n_train=256, n_val=32, size=160, seed=0)
classes = ('rectangle', 'ellipse', 'triangle')
batch_size = 8
max_epochs = 48  # 32 it per epoch -> 1536 it (at 32 epochs seed 1 missed AP50 0.5)
base_lr = 0.02
warmup_iters = 30

model = dict(
    backbone=dict(widen_factor=0.5),
    neck=dict(in_channels=[48, 96, 192], out_channels=[32, 64, 128]),
    bbox_head=dict(num_classes=3, in_channels=[32, 64, 128]),
    test_cfg=dict(
        nms_pre=-1, score_thr=0.05, nms=dict(type='nms', iou_threshold=0.7), max_per_img=100
    ),
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='damo_yolo.RandomAffineDAMO',
        max_rotate_degree=0.0,
        max_translate_ratio=0.1,
        scaling_ratio_range=(0.75, 1.25),
        max_shear_degree=0.0,
        border=(0, 0),
    ),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'),
    ),
]
train_dataloader = dict(
    batch_size=batch_size,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type='damo_yolo.ShapesCocoDataset',
        data_root=data_root,
        generate=generate,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        metainfo=dict(classes=classes),
        filter_cfg=dict(filter_empty_gt=False, min_size=0),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='damo_yolo.ShapesCocoDataset',
        data_root=data_root,
        generate=generate,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        metainfo=dict(classes=classes),
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(
    type='CocoMetric',
    ann_file=data_root + 'annotations/instances_val.json',
    metric='bbox',
    format_only=False,
)
test_evaluator = val_evaluator

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=8)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=base_lr, momentum=0.9, weight_decay=5e-4, nesterov=True),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
)
param_scheduler = [
    dict(type='QuadraticWarmupLR', by_epoch=False, begin=0, end=warmup_iters),
    dict(
        type='CosineAnnealingLR',
        by_epoch=False,
        begin=warmup_iters,
        end=max_epochs * 32,
        T_max=max_epochs * 32 - warmup_iters,
        eta_min=base_lr * 0.05,
    ),
]
custom_hooks = [
    dict(
        type='EMAHook',
        ema_type='ExpMomentumEMA',
        momentum=0.0002,
        gamma=2000,
        update_buffers=True,
        priority=49,
    ),
]
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=16),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DetVisualizationHook'),
)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='gloo'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='DetLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=16, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
