# WHU-CD-256 at 256 px for the semi-supervised loop, 5 % labels by default: LEVIR-CD256's
# set-up with WHU's folders, VLM labels, splits and schedule; the configs
# <method>_r50_whu256_<p>pct.py set the split, its schedule and the method.
_base_ = ['./levir256.py']
data_root = 'data/WHU-CD-256'
split = 'splits/whu/5%'
max_iters = 56480
ds = dict(
    vl_seg_root='{vl_label_root}/gen_seg_label/whu-cd_direct_abs_ignore_0.8',
    vl_change_root='{vl_label_root}/gen_cd_label/whu-cd_instance_mask-iou_0.0_direct_abs_ignore_0.8',
)
train_dataloader = dict(
    labeled=dict(dataset=dict(ds, split_file=split + '/labeled.txt', num_samples=5650)),
    unlabeled=dict(dataset=dict(ds, split_file=split + '/unlabeled.txt')),
    mix=dict(dataset=dict(ds, split_file=split + '/unlabeled.txt')),
)
val_dataloader = dict(dataset=dict(split_file='splits/whu/val.txt'))
test_dataloader = dict(dataset=dict(split_file='splits/whu/test.txt'))
train_cfg = dict(max_iters=max_iters, val_interval=706)
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0, end=max_iters)
]
default_hooks = dict(checkpoint=dict(interval=706))
