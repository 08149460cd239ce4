"""fw's hooks for transmla: the core registers the manifest's components and commands."""

from framework import hookimpl
from fw_transmla import __version__


@hookimpl
def fw_plugin_info():
    return {
        'name': 'transmla',
        'paper': 'TransMLA: Multi-Head Latent Attention Is All You Need (Meng et al., '
        'arXiv 2502.07864)',
        'version': __version__,
        'config_dir': 'configs',
        'requires': {'torch': '>=2.1', 'transformers': '==5.24.0', 'mmengine': '>=0.10.7,<1.0'},
    }
