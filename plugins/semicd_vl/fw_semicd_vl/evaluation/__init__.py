"""Change-detection metric."""
