"""DAMO-YOLO components (imported lazily through the registries)."""
