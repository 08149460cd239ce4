"""pluggy hooks of the lite_llm4rec plugin; the components and commands come from manifest.json."""
from importlib.metadata import PackageNotFoundError, version

from framework import hookimpl


def _version() -> str:
    try:
        return version('fw-lite-llm4rec')  # stated once, in setup.cfg
    except PackageNotFoundError:
        return '0+unknown'


@hookimpl
def fw_plugin_info():
    return {'name': 'lite_llm4rec',
            'paper': 'Rethinking Large Language Model Architectures for Sequential '
                     'Recommendations (Wang et al., arXiv 2402.09543)',
            'version': _version(), 'config_dir': 'configs',
            'requires': {'torch': '>=2.1', 'mmengine': '>=0.10.7,<1.0',
                         'transformers': '==5.24.0'}}
