"""fw plugin: DAMO-YOLO (Xu et al., arXiv 2211.15444) on mmdetection 3.3.

Kept light on purpose: importing this package must not import torch or the OpenMMLab
stack (``fw list`` reads ``manifest.json`` only). Components live in ``fw_damo_yolo.models``.
"""
__version__ = "0.1.0"
