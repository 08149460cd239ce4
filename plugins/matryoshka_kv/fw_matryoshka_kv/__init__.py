"""fw plugin: MatryoshkaKV (trainable orthogonal KV projections). Light: no torch import here."""

__version__ = '0.1.0'
