"""pluggy hooks of the matryoshka_kv plugin (components and commands come from manifest.json)."""

from framework import hookimpl

from . import __version__


@hookimpl
def fw_plugin_info():
    return {
        'name': 'matryoshka_kv',
        'paper': 'MatryoshkaKV: Adaptive KV Compression via Trainable Orthogonal Projection '
        '(arXiv 2410.14731, ICLR 2025)',
        'version': __version__,
        'config_dir': 'configs',
        'requires': {'torch': '>=2.1', 'transformers': '==5.24.0', 'mmengine': '>=0.10.7,<1.0'},
    }
