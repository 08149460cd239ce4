"""pluggy hooks of the lite_llm4rec plugin; the components and commands come from manifest.json."""

from framework import hookimpl

from . import __version__


@hookimpl
def fw_plugin_info():
    return {
        'name': 'lite_llm4rec',
        'paper': 'Rethinking Large Language Model Architectures for Sequential '
        'Recommendations (Wang et al., arXiv 2402.09543)',
        'version': __version__,
        'config_dir': 'configs',
        'requires': {'torch': '>=2.1', 'mmengine': '>=0.10.7,<1.0', 'transformers': '==5.24.0'},
    }
