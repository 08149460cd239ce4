"""fw plugin damo_yolo: DAMO-YOLO (Xu et al., arXiv 2211.15444) on mmdetection 3.3.

Light on purpose: importing this package imports neither torch nor the OpenMMLab stack (``fw list``
reads ``manifest.json``). One module per part of the paper: ``backbone`` (MAE-NAS/TinyNAS),
``neck`` (RepGFPN), ``head`` (ZeroHead), ``assigner`` (AlignOTA), ``loss`` (CWD distillation),
``detector``, ``layers`` (RepConv and the other blocks), ``data``/``transforms``, ``deploy``.
"""

__version__ = '0.1.0'
