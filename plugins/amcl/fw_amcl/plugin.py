"""pluggy hooks of the amcl plugin. Components are registered from ``manifest.json`` by the core."""

from framework import hookimpl


@hookimpl
def fw_plugin_info():
    return {
        'name': 'amcl',
        'paper': 'Adaptive Multi-head Contrastive Learning (Wang, Koniusz, Gedeon, Zheng; ECCV 2024)',
        'config_dir': 'configs',
        'requires': {'torch': '>=2.1', 'mmengine': '>=0.10.7,<1.0'},
    }
