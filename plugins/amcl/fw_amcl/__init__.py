"""fw plugin ``amcl``: Adaptive Multi-head Contrastive Learning (Wang, Koniusz, Gedeon, Zheng; ECCV 2024).

Light on purpose: importing the package must not import torch or mmengine (``fw list`` reads the static
``manifest.json``). One module per part of the paper: ``backbone`` (encoders), ``neck`` (the C projection
heads), ``head`` (the adaptive temperature network phi, Eq. 3), ``loss`` (Tables 1 and 2), ``model``
(SimCLR / MoCo / Barlow Twins), ``augment`` (augmentation families a-e), ``data``, ``metric`` (kNN, probes,
temperature statistics), ``commands`` and ``bench`` (``fw amcl bench``).
"""

__version__ = '0.1.0'
