"""fw plugin wiclp: linear projections on CLIP text embeddings for compositional text-to-image.

Keep this file light: fw reads ``manifest.json`` without importing torch or diffusers.
"""

__version__ = '0.1.0'
