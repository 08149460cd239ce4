"""fw's hooks for ${name}: the manifest registers the components; this file describes the plugin."""
from framework import hookimpl

from fw_${name} import __version__


@hookimpl
def fw_plugin_info():
    return {'name': '${name}', 'paper': '(your paper here)', 'version': __version__,
            'config_dir': 'configs', 'requires': {'torch': '>=2.1'}}
