"""pluggy hooks of the damo_yolo plugin (stdlib only at module level)."""
from framework.hookspecs import hookimpl

NAME = "damo_yolo"


@hookimpl
def fw_plugin_info():
    return {
        "name": NAME,
        "paper": "DAMO-YOLO: A Report on Real-Time Object Detection Design (Xu et al., arXiv 2211.15444)",
        "version": "0.1.0",
        "config_dir": "configs",
        "requires": {"torch": ">=2.1", "mmengine": ">=0.10.7,<1.0", "mmcv": ">=2.0.0rc4,<2.2.0",
                     "mmdet": "==3.3.0", "pycocotools": ">=2.0.8"},
    }


@hookimpl
def fw_register(registries):
    """Create the plugin's child registries under mmdet's (scope 'damo_yolo') and fill them from
    the manifest; the core's own registries are filled from the same manifest by the core."""
    try:
        from fw_damo_yolo import registry  # noqa: F401  (registers on import)
    except ImportError as err:
        raise ImportError(
            f"damo_yolo needs the OpenMMLab stack (mmcv 2.1.0 with ops, mmdet 3.3.0, pycocotools): {err}. "
            "Install it with tools/install_openmmlab.sh") from err
