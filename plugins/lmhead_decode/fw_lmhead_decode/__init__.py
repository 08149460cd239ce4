"""fw plugin: decode MLP neurons through the LM head, clamp them, compare checkpoints
(Davies 2025, arXiv 2501.02688). Light: no torch import here."""

__version__ = '0.1.0'
