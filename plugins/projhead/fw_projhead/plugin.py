"""pluggy hooks of the ``projhead`` plugin. Components and the ``theory``, ``relu`` and ``bench``
commands are declared in ``manifest.json`` (registered lazily by the core); training is mmengine's
Runner, as for every fw plugin."""

from framework import hookimpl

PAPER = (
    'Investigating the Benefits of Projection Head for Representation Learning '
    '(Xue, Gan, Ni, Joshi, Mirzasoleiman; ICLR 2024)'
)


@hookimpl
def fw_plugin_info():
    return {
        'name': 'projhead',
        'paper': PAPER,
        'config_dir': 'configs',
        'requires': {
            'torch': '>=2.1',
            'mmengine': '>=0.10.7,<1.0',
            'numpy': '>=1.22',
            'matplotlib': '>=3.5',
        },
    }
