"""fw plugin ${name}. Keep this file light: fw reads the manifest without importing torch."""
__version__ = '0.1.0'
