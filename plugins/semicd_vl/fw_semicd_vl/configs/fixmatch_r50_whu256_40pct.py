# fixmatch on WHU-CD-256 with 40% labels. T = 80 epochs × ⌊3569/8⌋ = 35680 iterations.
# Model selection: best changed-class IoU on splits/whu/val.txt (set
# val_dataloader.dataset.split_file to
# splits/whu/test.txt for the official select-on-test protocol, and say so when reporting).
_base_ = ['./_base_/whu256.py']
split = 'splits/whu/40%'
max_iters = 35680
model = dict(semi_mode='fixmatch', aux_head=None, decode_head=dict(vl_classes=None))
no_vl = dict(vl_seg_root=None, vl_change_root=None)  # baselines read no VLM labels
train_dataloader = dict(
    labeled=dict(dataset=dict(split_file=split + '/labeled.txt', num_samples=3569, **no_vl)),
    unlabeled=dict(dataset=dict(split_file=split + '/unlabeled.txt', **no_vl)),
    mix=dict(dataset=dict(split_file=split + '/unlabeled.txt', **no_vl)),
)
train_cfg = dict(max_iters=max_iters, val_interval=446)
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0, end=max_iters)
]
default_hooks = dict(checkpoint=dict(interval=446))
