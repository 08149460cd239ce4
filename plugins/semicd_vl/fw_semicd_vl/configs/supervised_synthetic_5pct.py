# Supervised-only baseline on the toy set: L_x on the labeled branch, same schedule and batch.
_base_ = ['./_base_/semicd_toy.py']
model = dict(semi_mode='supervised', aux_head=None, decode_head=dict(vl_classes=None))
no_vl = dict(vl_seg_root=None, vl_change_root=None)  # baselines read no VLM labels
train_dataloader = dict(labeled=dict(dataset=no_vl), unlabeled=None, mix=None)
