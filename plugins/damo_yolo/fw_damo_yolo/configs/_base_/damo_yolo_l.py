# DAMO-YOLO-L model (optional size; teacher of M): TinyNAS csp L (silu), RepGFPN depth 2.0 (n = 6).
_base_ = ['./damo_yolo_t.py']
model = dict(
    backbone=dict(arch='L'),
    neck=dict(
        in_channels=[128, 256, 512],
        out_channels=[128, 256, 512],
        depth=2.0,
        hidden_ratio=1.0,
        act='silu',
    ),
    bbox_head=dict(in_channels=[128, 256, 512]),
)
