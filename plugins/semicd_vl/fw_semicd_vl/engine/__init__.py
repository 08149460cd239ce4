"""Semi-supervised training loop."""
