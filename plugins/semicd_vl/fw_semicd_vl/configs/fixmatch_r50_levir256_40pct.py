# fixmatch on LEVIR-CD256 with 40% labels. T = 80 epochs × ⌊4272/8⌋ = 42720 iterations.
# Model selection: best changed-class IoU on splits/levir/val.txt (set
# val_dataloader.dataset.split_file to
# splits/levir/test.txt for the official select-on-test protocol, and say so when reporting).
_base_ = ['./_base_/levir256.py']
split = 'splits/levir/40%'
max_iters = 42720
model = dict(semi_mode='fixmatch', aux_head=None, decode_head=dict(vl_classes=None))
no_vl = dict(vl_seg_root=None, vl_change_root=None)  # baselines read no VLM labels
train_dataloader = dict(
    labeled=dict(dataset=dict(split_file=split + '/labeled.txt', num_samples=4272, **no_vl)),
    unlabeled=dict(dataset=dict(split_file=split + '/unlabeled.txt', **no_vl)),
    mix=dict(dataset=dict(split_file=split + '/unlabeled.txt', **no_vl)),
)
train_cfg = dict(max_iters=max_iters, val_interval=534)
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0, end=max_iters)
]
default_hooks = dict(checkpoint=dict(interval=534))
