"""fw plugin: TransMLA (GQA -> Multi-head Latent Attention). Light: no torch import here."""

__version__ = "0.1.0"
