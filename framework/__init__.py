"""fw: a small PyTorch framework for research on learned projections.

The core defines registries (:mod:`framework.registry`), a plugin contract
(:mod:`framework.hookspecs`) and the ``fw`` command line (:mod:`framework.cli`); every research
method is a plugin. Importing this package is cheap: nothing heavy is imported here.
"""
__version__ = '0.1.0'
