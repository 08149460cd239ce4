# LEVIR-CD256 at 256 px for the semi-supervised loop, 5 % labels by default; the
# configs <method>_r50_levir256_<p>pct.py set the split, its schedule and the method.
_base_ = ['./semicd_r50_256.py']
# One key each re-points every split: `--cfg-options data_root=/path/to/LEVIR-CD256` (A/, B/,
# label/ and splits/levir/... under it) and `vl_label_root=/path/to/vl_labels` (the folder holding
# the official release's gen_seg_label/ and gen_cd_label/). The datasets below name them as
# placeholders, which the plugin's loops fill in.
data_root = 'data/LEVIR-CD256'
vl_label_root = 'data/vl_labels'
split = 'splits/levir/5%'
max_iters = 67600
tl = dict(
    batch_size=8,
    num_workers=4,
    drop_last=True,
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
el = dict(
    batch_size=1,
    num_workers=2,
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
ds = dict(
    type='semicd_vl.BiTemporalCDDataset',
    data_root='{data_root}',
    # VLM pseudo-labels in the disk format (a), under the official release's folder names
    vl_seg_root='{vl_label_root}/gen_seg_label/levir-cd_direct_abs_ignore_0.8',
    vl_change_root='{vl_label_root}/gen_cd_label/levir-cd_instance_mask-iou_0.0_direct_abs_ignore_0.8',
)
train_dataloader = dict(
    labeled=dict(
        dataset=dict(
            ds,
            mode='labeled',
            split_file=split + '/labeled.txt',
            num_samples=6764,
            pipeline={{_base_.labeled_pipeline}},
        ),
        **tl,
    ),
    unlabeled=dict(
        dataset=dict(
            ds,
            mode='unlabeled',
            split_file=split + '/unlabeled.txt',
            pipeline={{_base_.unlabeled_pipeline}},
        ),
        **tl,
    ),
    mix=dict(
        dataset=dict(
            ds,
            mode='unlabeled',
            split_file=split + '/unlabeled.txt',
            pipeline={{_base_.unlabeled_pipeline}},
        ),
        **tl,
    ),
)
val_dataloader = dict(
    dataset=dict(
        type='semicd_vl.BiTemporalCDDataset',
        data_root='{data_root}',
        mode='test',
        split_file='splits/levir/val.txt',
        pipeline={{_base_.test_pipeline}},
    ),
    **el,
)
test_dataloader = dict(
    dataset=dict(
        type='semicd_vl.BiTemporalCDDataset',
        data_root='{data_root}',
        mode='test',
        split_file='splits/levir/test.txt',
        pipeline={{_base_.test_pipeline}},
    ),
    **el,
)
train_cfg = dict(
    type='semicd_vl.SemiIterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=845,
    mix_source='same_order',
)
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0, end=max_iters)
]
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=845,
        max_keep_ckpts=1,
        save_best='cd/IoU_c',
        rule='greater',
    ),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
