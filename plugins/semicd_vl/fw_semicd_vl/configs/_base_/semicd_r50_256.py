# Real-scale SemiCD-VL (the paper's setting, as the official code): ResNetV1c-50 (UniMatch deep
# stem), SyncBN, 256² crops, 8+8+8,
# SGD 0.02 (heads ×10), poly 0.9 per iteration. One GPU; `--launcher pytorch` for several.
# Leaf configs set data_root, split files, VLM pseudo-label roots and the iteration count.
fw_base = []
default_scope = 'fw'
crop = 256
norm_cfg = dict(type='SyncBN', requires_grad=True)
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
    backbone=dict(
        type='mmseg.ResNetV1c',
        depth=50,
        stem_channels=128,
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 2),
        contract_dilation=True,
        style='pytorch',
        norm_cfg=norm_cfg,
        # a local file written by `fw semicd_vl convert-backbone resnet50.pth ...`
        init_cfg=dict(type='Pretrained', checkpoint='pretrained/resnet50_unimatch_v1c.pth'),
    ),
    decode_head=dict(
        in_channels=[256, 512, 1024, 2048],
        channels=256,
        num_classes=2,
        vl_classes=2,
        norm_cfg=norm_cfg,
    ),
    aux_head=dict(
        in_channels=[256, 512, 1024, 2048], channels=256, num_classes=2, norm_cfg=norm_cfg
    ),
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
val_evaluator = dict(type='semicd_vl.ChangeDetectionMetric')
test_evaluator = val_evaluator
val_cfg = dict(type='semicd_vl.CDValLoop')
test_cfg = dict(type='semicd_vl.CDTestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(
        custom_keys=dict(decode_head=dict(lr_mult=10.0), aux_head=dict(lr_mult=10.0))
    ),
)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
