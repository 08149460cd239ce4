"""fw plugin ``projhead``: Xue et al., "Investigating the Benefits of Projection Head for
Representation Learning" (ICLR 2024). Light on purpose: importing it must not import torch."""
__version__ = '0.1.0'
