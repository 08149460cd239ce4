"""fw's hooks for damo_yolo: the core registers the manifest's components in fw's registries;
``fw_register`` also makes the plugin's child registries under mmdet's (scope ``damo_yolo``), so
the plugin's mmdet configs (``default_scope='mmdet'``) build ``damo_yolo.ZeroHead`` and the rest."""

from framework import hookimpl, mm_registries
from fw_damo_yolo import __version__


@hookimpl
def fw_plugin_info():
    return {
        'name': 'damo_yolo',
        'paper': 'DAMO-YOLO: A Report on Real-Time Object Detection Design (Xu et al., '
        'arXiv 2211.15444)',
        'version': __version__,
        'config_dir': 'configs',
        'requires': {
            'torch': '>=2.1',
            'mmengine': '>=0.10.7,<1.0',
            'mmcv': '>=2.0.0rc4,<2.2.0',
            'mmdet': '==3.3.0',
            'pycocotools': '>=2.0.8',
        },
    }


@hookimpl
def fw_register(registries):
    mm_registries('damo_yolo', 'mmdet')
