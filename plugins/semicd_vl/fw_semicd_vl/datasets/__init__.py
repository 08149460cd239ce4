"""Bi-temporal change-detection data: folder datasets, split files, paired transforms, toy set."""
