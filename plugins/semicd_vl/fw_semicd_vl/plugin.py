"""pluggy hooks of the semicd_vl plugin. Manifest components are registered by the core; this module
additionally fills the plugin's child registries under mmseg's (scope ``semicd_vl``)."""
from framework.hookspecs import hookimpl


@hookimpl
def fw_plugin_info():
    return {'name': 'semicd_vl',
            'paper': 'SemiCD-VL: Visual-Language Model Guidance Makes Better Semi-supervised Change '
                     'Detector (Li et al., IEEE TGRS 2024, arXiv 2405.04788)',
            'version': '0.1.0', 'config_dir': 'configs',
            'requires': {'torch': '>=2.1', 'mmengine': '>=0.10.7,<1.0', 'mmcv': '>=2.0.0rc4,<2.2.0',
                         'mmsegmentation': '==1.2.2'}}


@hookimpl
def fw_register(registries):
    try:
        import fw_semicd_vl.registry  # noqa: F401  (registers into the semicd_vl child registries)
    except ImportError:  # torch/mmengine missing: the manifest entries still list
        pass
