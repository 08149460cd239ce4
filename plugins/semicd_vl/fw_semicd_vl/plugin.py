"""fw's hooks for semicd_vl: the core registers the manifest's components in fw's registries;
``fw_register`` also makes the plugin's child registries under mmseg's (scope ``semicd_vl``), so
an mmseg config builds ``semicd_vl.SemiCDVL`` and the rest by name."""

from framework import hookimpl, mm_registries
from fw_semicd_vl import __version__


@hookimpl
def fw_plugin_info():
    return {
        'name': 'semicd_vl',
        'paper': 'SemiCD-VL: Visual-Language Model Guidance Makes Better Semi-supervised Change '
        'Detector (Li et al., IEEE TGRS 2024, arXiv 2405.04788)',
        'version': __version__,
        'config_dir': 'configs',
        'requires': {
            'torch': '>=2.1',
            'mmengine': '>=0.10.7,<1.0',
            'mmcv': '>=2.0.0rc4,<2.2.0',
            'mmsegmentation': '==1.2.2',
        },
    }


@hookimpl
def fw_register(registries):
    mm_registries('semicd_vl', 'mmseg')
