# SemiCD-VL on the synthetic toy set (64×64, 5 % labels = 20 pairs), CPU, a few minutes.
# Data are generated on first use (`prepare='toy'`: make-toy-cd + oracle pseudo-labels); the oracle
# reads ground truth and exists for CPU demos/tests only.
fw_base = []
default_scope = 'fw'
# `--cfg-options data_root=DIR` moves every split (the datasets name it as '{data_root}', which
# the plugin's loops fill in); DIR must be missing, empty or a toy set made by `make-toy-cd`.
data_root = 'data/semicd_vl_toy'
crop = 64
max_iters = 200
norm_cfg = dict(type='BN', requires_grad=True)

model = dict(
    type='semicd_vl.SemiCDVL',
    semi_mode='semicd_vl',
    dist_mode='per_pixel',
    conf_thresh=0.95,
    contrastive_weight=0.1,
    bcl_margin=2.0,
    vl_lambda=(0.1, 0.0),
    vl_terms_divisor=6,
    vl_loss_reduce='mean_all',
    conf_mode='pixelwise',
    # A narrow ResNetV1c-18 (stem 32, widths 16-128) to fit the shared 2-core CPU. ResNetV1cLite is
    # the
    # pure-torch twin of mmseg's ResNetV1c (same state dict, tested); with the full mmcv build,
    # `--cfg-options model.backbone.type=mmseg.ResNetV1c` gives the same network from mmseg.
    backbone=dict(
        type='semicd_vl.ResNetV1cLite',
        depth=18,
        stem_channels=32,
        base_channels=16,
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 2),
        contract_dilation=True,
        style='pytorch',
        norm_cfg=norm_cfg,
        init_cfg=None,
    ),
    decode_head=dict(
        in_channels=[16, 32, 64, 128], channels=32, num_classes=2, vl_classes=2, norm_cfg=norm_cfg
    ),
    aux_head=dict(in_channels=[16, 32, 64, 128], channels=32, num_classes=2, norm_cfg=norm_cfg),
)

load = [dict(type='semicd_vl.LoadBiTemporalImages')]
weak = [
    dict(type='semicd_vl.JointRandomRescale', ratio_range=(0.8, 1.2)),
    dict(type='semicd_vl.JointRandomCrop', size=crop),
    dict(type='semicd_vl.JointRandomFlip', prob=0.5),
]
vl = [dict(type='semicd_vl.LoadVLPseudoLabels')]
pack = [dict(type='semicd_vl.PackBiTemporalInputs')]
labeled_pipeline = load + [dict(type='semicd_vl.LoadCDLabel')] + vl + weak + pack
unlabeled_pipeline = (
    load
    + vl
    + weak
    + [dict(type='semicd_vl.StrongPhotometric'), dict(type='semicd_vl.CutMixBox', prob=0.5)]
    + pack
)
test_pipeline = load + [dict(type='semicd_vl.LoadCDLabel')] + pack
ds = dict(
    type='semicd_vl.BiTemporalCDDataset',
    data_root='{data_root}',
    prepare='toy',
    vl_seg_root='{data_root}/vl_oracle/seg',
    vl_change_root='{data_root}/vl_oracle/change',
)
loader = dict(
    num_workers=0,
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
train_dataloader = dict(
    labeled=dict(
        batch_size=4,
        dataset=dict(
            ds, mode='labeled', split_file='splits/toy/5%/labeled.txt', pipeline=labeled_pipeline
        ),
        **loader,
    ),
    unlabeled=dict(
        batch_size=4,
        dataset=dict(
            ds,
            mode='unlabeled',
            split_file='splits/toy/5%/unlabeled.txt',
            pipeline=unlabeled_pipeline,
        ),
        **loader,
    ),
    mix=dict(
        batch_size=4,
        dataset=dict(
            ds,
            mode='unlabeled',
            split_file='splits/toy/5%/unlabeled.txt',
            pipeline=unlabeled_pipeline,
        ),
        **loader,
    ),
)
eval_loader = dict(
    batch_size=8,
    num_workers=0,
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_dataloader = dict(
    dataset=dict(
        type='semicd_vl.BiTemporalCDDataset',
        data_root='{data_root}',
        prepare='toy',
        mode='test',
        split_file='splits/toy/val.txt',
        pipeline=test_pipeline,
    ),
    **eval_loader,
)
test_dataloader = dict(
    dataset=dict(
        type='semicd_vl.BiTemporalCDDataset',
        data_root='{data_root}',
        prepare='toy',
        mode='test',
        split_file='splits/toy/test.txt',
        pipeline=test_pipeline,
    ),
    **eval_loader,
)
val_evaluator = dict(type='semicd_vl.ChangeDetectionMetric')
test_evaluator = val_evaluator

train_cfg = dict(
    type='semicd_vl.SemiIterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters,
    mix_source='same_order',
)
val_cfg = dict(type='semicd_vl.CDValLoop')
test_cfg = dict(type='semicd_vl.CDTestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(
        custom_keys=dict(decode_head=dict(lr_mult=10.0), aux_head=dict(lr_mult=10.0))
    ),
)
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0, end=max_iters)
]

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=25, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='gloo'),
)
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
