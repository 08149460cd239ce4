"""The plugin contract: four pluggy hooks. A plugin is a module named by an ``fw.plugins`` entry point.

A plugin also ships ``manifest.json`` beside its package ``__init__`` (see :mod:`framework.manifest`):
the static list of its components and commands, read without importing the plugin.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker('fw')
hookimpl = pluggy.HookimplMarker('fw')


@hookspec
def fw_plugin_info() -> dict:
    """Describe the plugin: name, paper, version, config directory, required packages.

    ``fw doctor`` checks ``requires`` against what is installed. Example::

        from fw_myidea import __version__  # the version is stated once, in the package

        @hookimpl
        def fw_plugin_info():
            return {'name': 'myidea', 'paper': 'A paper title (authors, venue year)',
                    'version': __version__, 'config_dir': 'configs',
                    'requires': {'torch': '>=2.1', 'mmengine': '>=0.10.7,<1.0'}}
    """


@hookspec
def fw_register(registries) -> None:
    """Register components that the manifest cannot declare statically.

    The core already registers every manifest entry lazily as ``<plugin>.<Name>``; use this hook
    for dynamic cases, e.g. the child registries under mmdet's of a plugin whose configs are
    mmdet configs. ``registries`` is :mod:`framework.registry`. Example::

        @hookimpl
        def fw_register(registries):
            from framework import mm_registries
            mm_registries('my_detector', 'mmdet')  # its manifest, in children of mmdet's
    """


@hookspec
def fw_register_commands(cli) -> None:
    """Add click commands to the plugin's group ``fw <plugin> ...`` (``cli`` is that group).

    Commands listed in the manifest attach without this hook; use it for commands built at run
    time. Called only when the user runs ``fw <plugin> ...``. Example::

        @hookimpl
        def fw_register_commands(cli):
            @cli.command()
            def hello():
                click.echo('hello from my plugin')
    """


@hookspec(firstresult=True)
def fw_train(cfg, plugin) -> object:
    """Train ``cfg`` with the plugin's own engine; return None to leave it to mmengine's Runner.

    ``cfg`` is the merged mmengine ``Config`` (work_dir, seed and launcher already set) and
    ``plugin`` the plugin name given on the command line. The first non-None result wins, so
    answer only for your own plugin. Example::

        @hookimpl
        def fw_train(cfg, plugin):
            if plugin != 'my_plugin' or cfg.get('engine') != 'semi':
                return None
            from my_plugin.loop import train_semi
            return train_semi(cfg)
    """
