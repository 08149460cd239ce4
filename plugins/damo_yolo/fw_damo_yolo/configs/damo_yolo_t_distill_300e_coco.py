# DAMO-YOLO-T student distilled from DAMO-YOLO-S (CWD on neck outputs, paper Sec. 2.4), COCO 300
# epochs.
# teacher_ckpt must be a LOCAL file: train damo_yolo_s_300e_coco first (or convert official
# weights).
_base_ = ['./damo_yolo_t_300e_coco.py']
teacher_ckpt = 'work_dirs/damo_yolo/damo_yolo_s_300e_coco/teacher_s.pth'
model = dict(
    type='damo_yolo.DAMOYOLODistill',
    teacher_config='damo_yolo_s_300e_coco',
    teacher_ckpt=teacher_ckpt,
    distill_loss=dict(type='damo_yolo.CWDFeatureLoss', tau=1.0, loss_weight=1.0),
    distill_weight=1.0,
    distill_weight_end=0.1,
    distill_in_no_aug_epochs=True,
    num_no_aug_epochs=16,
)
optim_wrapper = dict(clip_grad=dict(max_norm=30.0))
