"""fw's hooks for ${name}: the manifest registers the components; this file describes the plugin."""
from framework.hookspecs import hookimpl


@hookimpl
def fw_plugin_info():
    return {'name': '${name}', 'paper': '(your paper here)', 'version': '0.1.0',
            'config_dir': 'configs', 'requires': {'torch': '>=2.1'}}
