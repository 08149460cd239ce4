# DAMO-YOLO training recipe on COCO (the official recipe), for 8 GPUs x 32 images (global batch
# 256).
# Start: fw train damo_yolo damo_yolo_t_300e_coco --launcher pytorch --nproc 8   (torchrun)
# (default_scope='mmdet' comes with the model base config)
fw_base = []

data_root = 'data/coco/'  # annotations/instances_{train,val}2017.json, train2017/, val2017/
img_scale = (640, 640)
batch_size = 32  # per GPU
num_workers = 8
max_epochs = 300
num_last_epochs = 16
base_lr = 0.01  # per 64 images; auto_scale_lr makes it 0.04 at 256
shear = 2.0  # T uses 0.2

train_pipeline = [
    dict(
        type='Mosaic', img_scale=img_scale, center_ratio_range=(0.5, 1.5), pad_val=114.0, prob=1.0
    ),
    dict(
        type='damo_yolo.RandomAffineDAMO',
        max_rotate_degree=10.0,
        max_translate_ratio=0.2,
        scaling_ratio_range=(0.1, 2.0),
        max_shear_degree=shear,
        border=(-img_scale[0] // 2, -img_scale[1] // 2),
    ),
    dict(
        type='damo_yolo.MixUpP',
        img_scale=img_scale,
        ratio_range=(0.5, 1.5),
        flip_ratio=0.5,
        pad_val=114.0,
        prob=0.15,
    ),
    dict(type='Resize', scale=img_scale, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    # box-level scale-aware auto-augmentation; its probabilities ramp up over the iterations
    # before the last num_last_epochs (117266 annotated train2017 images / 256 = 459 per epoch)
    dict(
        type='damo_yolo.SADA',
        max_iters=(max_epochs - num_last_epochs) * 459,
        batch_size=batch_size,
        num_workers=num_workers,
    ),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=False),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'),
    ),
]
train_dataset = dict(
    type='MultiImageMixDataset',
    dataset=dict(
        type='CocoDataset',
        data_root=data_root,
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'),
        filter_cfg=dict(filter_empty_gt=False, min_size=0),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True)],
    ),
    pipeline=train_pipeline,
)
train_dataloader = dict(
    batch_size=batch_size,
    num_workers=num_workers,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=train_dataset,
)
val_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CocoDataset',
        data_root=data_root,
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(
    type='CocoMetric', ann_file=data_root + 'annotations/instances_val2017.json', metric='bbox'
)
test_evaluator = val_evaluator

train_cfg = dict(
    type='EpochBasedTrainLoop',
    max_epochs=max_epochs,
    val_interval=10,
    dynamic_intervals=[(max_epochs - num_last_epochs, 1)],
)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=base_lr, momentum=0.9, weight_decay=5e-4, nesterov=True),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
)
auto_scale_lr = dict(enable=True, base_batch_size=64)
param_scheduler = [
    dict(type='QuadraticWarmupLR', by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=base_lr * 0.05,
        begin=5,
        T_max=max_epochs - num_last_epochs - 5,
        end=max_epochs - num_last_epochs,
        by_epoch=True,
        convert_to_iter_based=True,
    ),
    dict(
        type='ConstantLR',
        by_epoch=True,
        factor=1,
        begin=max_epochs - num_last_epochs,
        end=max_epochs,
    ),
]
custom_hooks = [
    dict(
        type='YOLOXModeSwitchHook',
        num_last_epochs=num_last_epochs,
        skip_type_keys=(
            'Mosaic',
            'damo_yolo.RandomAffineDAMO',
            'damo_yolo.MixUpP',
            'damo_yolo.SADA',
        ),
        priority=48,
    ),
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
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3, save_best='auto'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DetVisualizationHook'),
)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
sync_bn = 'torch'
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='DetLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
