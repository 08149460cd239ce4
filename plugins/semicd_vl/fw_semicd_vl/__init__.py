"""fw plugin `semicd_vl`: SemiCD-VL semi-supervised change detection (mmsegmentation 1.2).

Light on purpose: importing this package must not import torch, mmengine or mmseg (the
listing reads ``manifest.json`` statically). Components live in the sub-packages.
"""
__version__ = '0.1.0'
