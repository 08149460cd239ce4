"""pluggy hooks of the wiclp plugin; the components and commands come from ``manifest.json``."""

from framework import hookimpl
from fw_wiclp import __version__


@hookimpl
def fw_plugin_info():
    return {
        'name': 'wiclp',
        'paper': 'Understanding and Mitigating Compositional Issues in Text-to-Image '
        'Generative Models (Zarei, Rezaei et al., arXiv 2406.07844)',
        'version': __version__,
        'config_dir': 'configs',
        'requires': {
            'torch': '>=2.1',
            'mmengine': '>=0.10.7,<1.0',
            'transformers': '==5.24.0',
            'diffusers': '==0.42.1',
        },
    }
