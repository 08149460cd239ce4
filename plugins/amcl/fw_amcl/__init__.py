"""fw plugin ``amcl``: Adaptive Multi-head Contrastive Learning (Wang, Koniusz, Gedeon, Zheng; ECCV 2024).

Light on purpose: importing the package must not import torch or mmengine (``fw list`` reads the static
``manifest.json``). Components live in ``backbone``, ``neck``, ``temperature``, ``loss``, ``model``,
``augment``, ``data`` and ``evaluation``.
"""
__version__ = '0.1.0'
