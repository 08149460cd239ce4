"""fw plugin semicd_vl: SemiCD-VL semi-supervised change detection (Li et al., IEEE TGRS 2024).

Light on purpose: importing this package imports neither torch nor mmseg (``fw list`` reads
``manifest.json``). One module per part of the method: ``backbone``, ``head``, ``loss``,
``model``, ``loop``, ``data``, ``transforms``, ``metric``, ``vlm``/``ceg``/``pseudo_labels``
(the VLM pseudo-labels) and ``toy``/``oracle`` (the synthetic CPU set).
"""

__version__ = '0.1.0'
