# DAMO-YOLO-S model: TinyNAS res S, RepGFPN depth 1.0 ratio 0.75 relu.
_base_ = ['./damo_yolo_t.py']
model = dict(
    backbone=dict(arch='S'),
    neck=dict(
        in_channels=[128, 256, 512],
        out_channels=[128, 256, 512],
        depth=1.0,
        hidden_ratio=0.75,
        act='relu',
    ),
    bbox_head=dict(in_channels=[128, 256, 512]),
)
