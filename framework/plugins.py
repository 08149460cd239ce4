"""Plugin discovery and loading, one plugin at a time, each inside its own error isolation.

Plugins are found through the ``fw.plugins`` entry-point group (duplicates removed). Discovery
reads only metadata and each plugin's static manifest; loading imports the plugin's hook module
and registers it with pluggy. ``FW_LOAD_PLUGINS`` (comma list; empty means none) narrows what is
discovered, and ``FW_STRICT_PLUGINS=1`` turns any load error into a failure (CI sets it).
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from . import hookspecs
from .errors import FwError
from .manifest import MANIFEST_FILE, list_configs, read_manifest

ENTRY_POINT_GROUP = 'fw.plugins'


@dataclass
class Plugin:
    """One installed plugin as discovered (and, once loaded, its hook module)."""

    name: str
    dist: str
    version: str
    module: str
    package_dir: Path | None = None
    manifest: dict = field(default_factory=lambda: {'components': [], 'commands': []})
    status: str = 'ok'
    error: str | None = None
    hooks: Any = None

    @property
    def config_dir(self) -> Path | None:
        return self.package_dir / 'configs' if self.package_dir else None

    def configs(self) -> dict[str, Path]:
        return list_configs(self.config_dir)

    def fail(self, exc: BaseException) -> None:
        self.status, self.error = 'error', f'{type(exc).__name__}: {exc}'


def strict() -> bool:
    return os.environ.get('FW_STRICT_PLUGINS', '') not in ('', '0', 'false', 'no')


def wanted() -> set[str] | None:
    raw = os.environ.get('FW_LOAD_PLUGINS')
    return None if raw is None else {n.strip() for n in raw.split(',') if n.strip()}


def entry_points() -> list[tuple[str, str, str, str]]:
    """(name, module, dist, version) of every ``fw.plugins`` entry point.

    Scanning all installed distributions costs more than the rest of ``fw --help``, so the result
    is cached, keyed by the interpreter and the modification times of the ``sys.path`` folders
    (installing, upgrading or removing a distribution changes its folder's mtime).
    """
    from importlib import metadata

    key = [sys.executable] + [f'{p}:{os.stat(p).st_mtime_ns}' for p in sys.path if os.path.isdir(p)]
    cache_dir = os.environ.get('FW_CACHE_DIR') or os.path.expanduser('~/.cache/fw')
    cache = Path(cache_dir, 'entry-points.json')
    try:
        data = json.loads(cache.read_text())
        if data['key'] == key:
            return [tuple(row) for row in data['entry_points']]
    except (OSError, ValueError, KeyError):
        pass
    rows = [
        (ep.name, ep.value, ep.dist.name if ep.dist else '?', ep.dist.version if ep.dist else '?')
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)
    ]
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f'.{os.getpid()}.tmp')
        tmp.write_text(json.dumps({'key': key, 'entry_points': rows}))
        os.replace(tmp, cache)
    except OSError:
        pass  # a read-only home only costs speed
    return rows


_discovered: dict[str, Plugin] | None = None
_activated: set[str] = set()
_pm = pluggy.PluginManager('fw')
_pm.add_hookspecs(hookspecs)


def discover(refresh: bool = False) -> dict[str, Plugin]:
    """All plugins named by entry points, with manifests read; nothing is imported but metadata."""
    global _discovered
    if _discovered is not None and not refresh:
        return _discovered
    names, found = wanted(), {}
    for name, value, dist, version in entry_points():
        old = found.get(name)
        if (names is not None and name not in names) or (old and old.module == value):
            continue  # not wanted, or the same entry point seen twice on sys.path
        if old:
            old.status = 'error'
            old.error = f'two distributions claim the plugin name {name}: {old.dist} '
            old.error += f'({old.module}) and {dist} ({value}); uninstall one'
            continue
        plugin = found[name] = Plugin(name, dist, version, value)
        try:  # isolation: one bad plugin never breaks discovery
            spec = importlib.util.find_spec(value.rpartition('.')[0] or value)  # not executed
            if spec is None or not spec.submodule_search_locations:
                raise FwError(f'entry point {name} = {value}: package not importable')
            plugin.package_dir = Path(list(spec.submodule_search_locations)[0])
            plugin.manifest = read_manifest(plugin.package_dir / MANIFEST_FILE, name)
        except Exception as e:
            plugin.fail(e)
    _discovered = dict(sorted(found.items()))
    return _discovered


def plugin_manager() -> pluggy.PluginManager:
    return _pm


def load(plugin: Plugin) -> Plugin:
    """Import the plugin's hook module and register it; errors are recorded, never raised
    (strict mode is applied by the callers: `fw list`, `fw doctor`, :func:`get`)."""
    if plugin.hooks is None and plugin.status == 'ok':
        try:
            plugin.hooks = importlib.import_module(plugin.module)
            _pm.register(plugin.hooks, name=plugin.name)
        except Exception as e:
            plugin.hooks = None
            plugin.fail(e)
    return plugin


def load_all() -> dict[str, Plugin]:
    return {name: load(plugin) for name, plugin in discover().items()}


def get(name: str) -> Plugin:
    """The named plugin, loaded; a clear error when it is unknown or broken."""
    plugins = discover()
    if name not in plugins:
        close = difflib.get_close_matches(name, list(plugins), n=3)
        hint = f'; close: {", ".join(close)}' if close else ''
        narrowed = ' (FW_LOAD_PLUGINS narrows loading)' if wanted() is not None else ''
        raise FwError(
            f"no plugin '{name}'{hint}{narrowed}; installed: "
            f'{", ".join(plugins) or "none"} (`fw plugins` lists them)'
        )
    plugin = load(plugins[name])
    if plugin.status != 'ok':
        raise FwError(
            f'plugin {name} is broken: {plugin.error} (`fw plugins` shows it; '
            f'reinstall {plugin.dist})'
        )
    return plugin


def config_path(plugin: str | Plugin, config: str) -> Path:
    """The file of ``plugin``'s packaged config named ``config`` (or ``config`` itself when it is
    a path to a ``.py`` file); a miss is an FwError with close names."""
    path = Path(config).expanduser()
    if path.suffix == '.py' or os.sep in config:
        if not path.is_file():
            raise FwError(f'config file {config} does not exist')
        return path
    record = get(plugin) if isinstance(plugin, str) else plugin
    configs = record.configs()
    if config not in configs:
        close = difflib.get_close_matches(config, list(configs), n=3)
        hint = f'; close: {", ".join(repr(c) for c in close)}' if close else ''
        raise FwError(
            f"no config '{config}' in plugin {record.name}{hint}; "
            f'`fw configs {record.name}` lists them'
        )
    return configs[config]


def activate(name: str | None = None) -> pluggy.PluginManager:
    """Make components buildable: register every healthy plugin's manifest lazily and run the
    ``fw_register`` hook of ``name`` (or of every plugin when ``name`` is None)."""
    from . import registry  # imports mmengine: only on paths that build things

    plugins = discover()
    targets = list(plugins) if name is None else [get(name).name]
    for plugin in plugins.values():
        if plugin.status == 'ok' and plugin.name not in _activated:
            registry.register_manifest(plugin.name, plugin.manifest['components'])
            _activated.add(plugin.name)
    for target in targets:
        hook = getattr(load(plugins[target]).hooks, 'fw_register', None)
        if hook is not None and f'hook:{target}' not in _activated:
            hook(registries=registry)
            _activated.add(f'hook:{target}')
    return _pm
