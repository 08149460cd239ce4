# fixmatch on LEVIR-CD256 with 5% labels. T = 80 epochs × ⌊6764/8⌋ = 67600 iterations.
# Model selection: best changed-class IoU on splits/levir/val.txt (set
# val_dataloader.dataset.split_file to
# splits/levir/test.txt for the official select-on-test protocol, and say so when reporting).
_base_ = ['./_base_/levir256.py']
split = 'splits/levir/5%'
max_iters = 67600
model = dict(semi_mode='fixmatch', aux_head=None, decode_head=dict(vl_classes=None))
no_vl = dict(vl_seg_root=None, vl_change_root=None)  # baselines read no VLM labels
train_dataloader = dict(
    labeled=dict(dataset=dict(split_file=split + '/labeled.txt', num_samples=6764, **no_vl)),
    unlabeled=dict(dataset=dict(split_file=split + '/unlabeled.txt', **no_vl)),
    mix=dict(dataset=dict(split_file=split + '/unlabeled.txt', **no_vl)),
)
train_cfg = dict(max_iters=max_iters, val_interval=845)
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0, end=max_iters)
]
default_hooks = dict(checkpoint=dict(interval=845))
