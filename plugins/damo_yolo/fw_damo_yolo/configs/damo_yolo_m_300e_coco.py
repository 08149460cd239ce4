# DAMO-YOLO-M on COCO 2017, 640x640, 300 epochs, 8 GPUs x 32 (the official recipe).
# Expected (paper Table 8 / README, val2017): see the plugin README.
_base_ = ['./_base_/damo_yolo_m.py', './_base_/coco_300e.py']
shear = 2.0
train_pipeline = [
    dict(
        type='Mosaic', img_scale=(640, 640), center_ratio_range=(0.5, 1.5), pad_val=114.0, prob=1.0
    ),
    dict(
        type='damo_yolo.RandomAffineDAMO',
        max_rotate_degree=10.0,
        max_translate_ratio=0.2,
        scaling_ratio_range=(0.1, 2.0),
        max_shear_degree=shear,
        border=(-320, -320),
    ),
    dict(
        type='damo_yolo.MixUpP',
        img_scale=(640, 640),
        ratio_range=(0.5, 1.5),
        flip_ratio=0.5,
        pad_val=114.0,
        prob=0.15,
    ),
    dict(type='Resize', scale=(640, 640), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='damo_yolo.SADA', max_iters=284 * 459, batch_size=32, num_workers=8),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
