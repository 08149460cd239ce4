"""pluggy hooks of the ``projhead`` plugin. Components and the ``theory`` command are declared in
``manifest.json`` (registered lazily by the core); training has its own small loop (``engine``)."""
from framework.hookspecs import hookimpl

PAPER = ('Investigating the Benefits of Projection Head for Representation Learning '
         '(Xue, Gan, Ni, Joshi, Mirzasoleiman; ICLR 2024)')


@hookimpl
def fw_plugin_info():
    return {'name': 'projhead', 'paper': PAPER, 'version': '0.1.0', 'config_dir': 'configs',
            'requires': {'torch': '>=2.1', 'numpy': '>=1.22', 'matplotlib': '>=3.5'}}


@hookimpl
def fw_train(cfg, plugin):
    if plugin != 'projhead':
        return None
    from .run import train_from_config
    return train_from_config(cfg)
