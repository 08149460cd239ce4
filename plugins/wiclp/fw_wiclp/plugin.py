"""pluggy hooks of the wiclp plugin; the components and commands come from ``manifest.json``."""

from importlib.metadata import PackageNotFoundError, version

from framework import hookimpl


def _version() -> str:
    try:
        return version('fw-wiclp')  # stated once, in setup.cfg
    except PackageNotFoundError:
        return '0+unknown'


@hookimpl
def fw_plugin_info():
    return {
        'name': 'wiclp',
        'paper': 'Understanding and Mitigating Compositional Issues in Text-to-Image '
        'Generative Models (Zarei, Rezaei et al., arXiv 2406.07844)',
        'version': _version(),
        'config_dir': 'configs',
        'requires': {
            'torch': '>=2.1',
            'mmengine': '>=0.10.7,<1.0',
            'transformers': '==5.24.0',
            'diffusers': '==0.42.1',
        },
    }
