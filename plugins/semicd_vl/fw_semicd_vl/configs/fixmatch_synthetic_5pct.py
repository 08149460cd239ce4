# FixMatch baseline on the toy set: ½(L_x + L_s), no VL terms, no aux head, no contrastive term.
_base_ = ['./_base_/semicd_toy.py']
model = dict(semi_mode='fixmatch', aux_head=None, decode_head=dict(vl_classes=None))
no_vl = dict(vl_seg_root=None, vl_change_root=None)  # baselines read no VLM labels
train_dataloader = dict(
    labeled=dict(dataset=no_vl), unlabeled=dict(dataset=no_vl), mix=dict(dataset=no_vl)
)
