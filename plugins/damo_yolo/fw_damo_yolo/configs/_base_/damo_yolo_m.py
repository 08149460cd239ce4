# DAMO-YOLO-M model: TinyNAS csp M (silu), RepGFPN depth 1.5 (n = round(4.5) = 4) ratio 1.0 silu.
_base_ = ['./damo_yolo_t.py']
model = dict(
    backbone=dict(arch='M'),
    neck=dict(
        in_channels=[128, 256, 512],
        out_channels=[128, 256, 512],
        depth=1.5,
        hidden_ratio=1.0,
        act='silu',
    ),
    bbox_head=dict(in_channels=[128, 256, 512]),
)
