"""pluggy hooks of the lmhead_decode plugin (components and commands come from manifest.json)."""

from framework import hookimpl
from fw_lmhead_decode import __version__


@hookimpl
def fw_plugin_info():
    return {
        'name': 'lmhead_decode',
        'paper': 'Decoding specialised feature neurons in LLMs with the final projection layer '
        '(Davies, arXiv 2501.02688)',
        'version': __version__,
        'config_dir': 'configs',
        'requires': {
            'torch': '>=2.1',
            'transformers': '==5.24.0',
            'safetensors': '>=0.4',
            'mmengine': '>=0.10.7,<1.0',
        },
    }


@hookimpl
def fw_train(cfg, plugin):
    """A decode config (one with a ``decoder`` dict and no ``model``) writes an atlas to
    ``work_dir/atlas`` instead of training; fine-tune configs go to mmengine's Runner."""
    if plugin != 'lmhead_decode' or 'decoder' not in cfg or 'model' in cfg:
        return None
    from pathlib import Path

    from .atlas import build_atlas

    out = Path(cfg.work_dir) / 'atlas'
    return build_atlas(dict(cfg['decoder']), out)
