# supervised on WHU-CD-256 with 20% labels. T = 80 epochs × ⌊4758/8⌋ = 47520 iterations.
# Model selection: best changed-class IoU on splits/whu/val.txt (set
# val_dataloader.dataset.split_file to
# splits/whu/test.txt for the official select-on-test protocol, and say so when reporting).
_base_ = ['./_base_/whu256.py']
split = 'splits/whu/20%'
max_iters = 47520
model = dict(semi_mode='supervised', aux_head=None, decode_head=dict(vl_classes=None))
no_vl = dict(vl_seg_root=None, vl_change_root=None)  # baselines read no VLM labels
train_dataloader = dict(
    labeled=dict(dataset=dict(split_file=split + '/labeled.txt', num_samples=4758, **no_vl)),
    unlabeled=None,
    mix=None,
)
train_cfg = dict(max_iters=max_iters, val_interval=594)
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0, end=max_iters)
]
default_hooks = dict(checkpoint=dict(interval=594))
