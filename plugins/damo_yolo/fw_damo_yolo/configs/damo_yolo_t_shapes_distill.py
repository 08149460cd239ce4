# CPU distillation demo (mirrors S->T): a quarter-width T student learns from the half-width T of
# damo_yolo_t_shapes through CWD on the neck outputs (align conv, batch-stat BN, weight 1.0 -> 0.1
# cosine), gradient clipping 30. Train the teacher first:
#   fw train damo_yolo damo_yolo_t_shapes
#   fw train damo_yolo damo_yolo_t_shapes_distill
# (teacher_ckpt below is that run's checkpoint; the EMA weights are what it stores as state_dict).
_base_ = ['./damo_yolo_t_shapes.py']
teacher_ckpt = 'work_dirs/damo_yolo/damo_yolo_t_shapes/epoch_48.pth'
model = dict(
    type='damo_yolo.DAMOYOLODistill',
    teacher_config='damo_yolo_t_shapes',
    teacher_ckpt=teacher_ckpt,
    backbone=dict(widen_factor=0.25),
    neck=dict(in_channels=[24, 48, 96], out_channels=[16, 32, 64]),
    bbox_head=dict(in_channels=[16, 32, 64]),
    distill_loss=dict(type='damo_yolo.CWDFeatureLoss', tau=1.0, loss_weight=1.0),
    distill_weight=1.0,
    distill_weight_end=0.1,
)
optim_wrapper = dict(clip_grad=dict(max_norm=30.0))
