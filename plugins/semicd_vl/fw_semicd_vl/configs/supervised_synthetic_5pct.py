# Supervised-only baseline on the toy set: L_x on the labeled branch, same schedule and batch.
_base_ = ['./_base_/semicd_toy.py']
model = dict(semi_mode='supervised', aux_head=None, decode_head=dict(vl_classes=None))
train_dataloader = dict(unlabeled=None, mix=None)
