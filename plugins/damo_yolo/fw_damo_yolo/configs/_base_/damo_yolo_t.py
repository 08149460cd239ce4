# DAMO-YOLO-T model: TinyNAS res T, RepGFPN depth 1.0 ratio 1.0 relu, ZeroHead.
# mmdet's scope: mmdet names bare, the plugin's qualified ('damo_yolo.ZeroHead')
default_scope = 'mmdet'
num_classes = 80
model = dict(
    type='damo_yolo.DAMOYOLO',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[0.0, 0.0, 0.0],
        std=[1.0, 1.0, 1.0],
        bgr_to_rgb=True,
        pad_size_divisor=32,
    ),
    backbone=dict(type='damo_yolo.TinyNAS', arch='T', reparam=True, with_spp=True),
    neck=dict(
        type='damo_yolo.GiraffeNeckV2',
        in_channels=[96, 192, 384],
        out_channels=[64, 128, 256],
        depth=1.0,
        hidden_ratio=1.0,
        act='relu',
    ),
    bbox_head=dict(
        type='damo_yolo.ZeroHead',
        num_classes=num_classes,
        in_channels=[64, 128, 256],
        strides=[8, 16, 32],
        reg_max=16,
        head_kernel=3,
        loss_cls=dict(
            type='QualityFocalLoss', use_sigmoid=True, beta=2.0, activated=False, loss_weight=1.0
        ),
        loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
        loss_dfl=dict(type='DistributionFocalLoss', loss_weight=0.25),
    ),
    train_cfg=dict(
        assigner=dict(
            type='damo_yolo.AlignOTAAssigner',
            center_radius=2.5,
            candidate_topk=10,
            iou_weight=3.0,
            cls_weight=1.0,
            iou_cost='log',
            cls_power=2.0,
        )
    ),
    test_cfg=dict(
        nms_pre=-1, score_thr=0.05, nms=dict(type='nms', iou_threshold=0.7), max_per_img=500
    ),
)
