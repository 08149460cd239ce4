"""fw plugin ``projhead``: Investigating the Benefits of Projection Head for Representation Learning
(Xue, Gan, Ni, Joshi, Mirzasoleiman; ICLR 2024).

Light on purpose: importing the package must not import torch (``fw list`` reads ``manifest.json``).
One module per part of the paper: ``theory`` (the linear model and its closed form), ``theory_report``
(``fw projhead theory``: table and figures), ``theory_relu`` (the non-linear extension), ``backbone``,
``head`` (MLP, fixed re-weighting, identity), ``loss``, ``model``, ``augment``, ``data``, ``metric``
(pre/post probe), ``commands`` and ``bench`` (``fw projhead bench``).
"""

__version__ = '0.1.0'
