"""fw plugin transmla: GQA -> Multi-head Latent Attention (Meng et al., arXiv 2502.07864).

Light: importing this package imports no torch. One module per stage of the paper: ``attention``
(stage A rewrite and the MLA module), ``calibrate``, ``rorope`` (stage B), ``pca`` (stage C),
``convert`` (stages A-D, FreqFold search, save/load), ``cache`` (stage D's latent cache),
``model`` (stage E fine-tuning), ``bench``.
"""

__version__ = '0.1.0'
