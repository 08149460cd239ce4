"""The plugin contract, checked rule by rule (the rules are written out in README 'Adding a plugin').

``python -m framework.contract [PLUGIN | FOLDER ...]`` checks installed plugins (all by default) or
plugin source folders and prints one line per finding; ``tests/test_plugin_contract.py`` runs the
same checks for every installed plugin, so a new plugin is checked with no test code of its own.
"""

from __future__ import annotations

import configparser
import difflib
import importlib
import inspect
import pkgutil
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import plugins as fw_plugins
from .errors import FwError
from .manifest import MANIFEST_FILE, list_configs, read_manifest

RULES = ('layout', 'manifest', 'docstrings', 'configs', 'version', 'readme', 'references')
LAYOUT = 'setup.cfg pyproject.toml README.md tests PKG/__init__.py PKG/plugin.py PKG/manifest.json'
README_SECTIONS = ('install|usage', 'components', 'results', 'tests', 'deviations', 'citation')
README_SECTIONS += ('checklist',)  # '## ' headings, matched at their start, in any case
# text that points at files outside the repository (written so that it does not match itself)
FORBIDDEN = re.compile(r'spec \u00a7|shared/spec[s]|shared/seed[s]|llm_commo[n]')
TEXT_FILES = {'.py', '.md', '.json', '.cfg', '.toml', '.txt', '.yaml', '.yml', '.rst'}
NMS_KEYS = {'nms', 'nms_cfg'}  # mmcv's batched_nms picks its function by this name, no registry


@dataclass(frozen=True)
class Finding:
    rule: str
    where: str
    message: str

    def __str__(self) -> str:
        return f'[{self.rule}] {self.where}: {self.message}'


@dataclass
class Source:
    """A plugin as the checks see it: its package folder and, unless built in, its source tree."""

    name: str
    package: str  # import name of the package: fw_<name> (framework.llm: built in)
    package_dir: Path
    hook_module: str
    root: Path | None = None  # the distribution's folder (setup.cfg, README.md, tests/)
    manifest: dict = field(default_factory=dict)
    error: str | None = None  # discovery failed: the manifest rule reports it
    builtin: bool = False  # part of the core (framework.llm): no distribution of its own


def installed() -> dict[str, Source]:
    """Every plugin named by an ``fw.plugins`` entry point."""
    found = {}
    for p in fw_plugins.discover().values():
        package = p.module.rpartition('.')[0] or p.module
        root = p.package_dir.parent if p.package_dir else None
        root = root if root and (root / 'setup.cfg').is_file() else None  # editable install
        found[p.name] = Source(p.name, package, p.package_dir or Path('?'), p.module, root)
        found[p.name].builtin = package.startswith('framework.')
        found[p.name].manifest, found[p.name].error = p.manifest, p.error
    return found


def source_at(root: str | Path) -> Source:
    """A plugin source folder (``setup.cfg`` beside ``fw_<name>/``), made importable."""
    root = Path(root).resolve()
    packages = [d for d in sorted(root.glob('fw_*')) if (d / MANIFEST_FILE).is_file()]
    if len(packages) != 1:
        raise FwError(f'{root}: expected one fw_<name>/ folder with a {MANIFEST_FILE}')
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
        importlib.invalidate_caches()
    pkg = packages[0]
    src = Source(pkg.name[3:], pkg.name, pkg, f'{pkg.name}.plugin', root)
    try:
        src.manifest = read_manifest(pkg / MANIFEST_FILE, src.name)
    except FwError as e:
        src.error = str(e)
    return src


def check(src: Source, rules=RULES) -> list[Finding]:
    """All findings of ``src`` for ``rules`` (none: the plugin keeps the contract)."""
    return [Finding(rule, where, msg) for rule in rules for where, msg in _RULES[rule](src)]


def _read(path: Path) -> str:
    return path.read_text(errors='replace') if path.is_file() else ''


def _imports(src: Source) -> list[str]:
    items = src.manifest.get('components', []) + src.manifest.get('commands', [])
    return [item['import'] for item in items]


# ---------------------------------------------------------------------------------------- rules
def _layout(src: Source):
    if src.builtin:
        return  # built into the core
    if src.root is None:
        yield (
            src.package,
            'installed without its source tree; check the source folder: '
            '`fw doctor --contract plugins/<name>`',
        )
        return
    for rel in LAYOUT.replace('PKG', src.package).split() + [f'{src.package}/configs']:
        if not (src.root / rel).exists():
            yield rel, 'missing (`fw new-plugin` writes the layout)'
    for init in sorted(src.package_dir.glob('*/**/__init__.py')):
        if 'configs' in init.relative_to(src.package_dir).parts:
            continue
        yield (
            str(init.parent.relative_to(src.root)),
            'a subpackage; keep one flat module per '
            'part of the paper (backbone.py, head.py, loss.py, ...)',
        )
    flat = re.compile(rf'{src.package}\.\w+:[\w.]+')
    nested = [target for target in _imports(src) if not flat.fullmatch(target)]
    if nested:
        yield (
            MANIFEST_FILE,
            f'{len(nested)} import(s) not from a top-level module of '
            f'{src.package}: {", ".join(nested[:3])}{", ..." if nested[3:] else ""}',
        )


def _manifest(src: Source):
    if src.error:
        yield MANIFEST_FILE, src.error
        return
    if src.manifest.get('name') != src.name:
        yield MANIFEST_FILE, f"'name' is {src.manifest.get('name')!r}, expected {src.name!r}"
    for target in [src.hook_module] + _imports(src):
        try:
            pkgutil.resolve_name(target)
        except Exception as e:
            yield MANIFEST_FILE, f"'{target}' does not import: {type(e).__name__}: {e}"


def undocumented(obj, package: str) -> str | None:
    """Why ``obj``'s docstring falls short (it must name each constructor argument), or None."""
    own = obj.__dict__.get('__doc__') if isinstance(obj, type) else obj.__doc__
    if not (own or '').strip():
        return 'has no docstring'
    function, docs = obj, [own]
    if isinstance(obj, type):
        owner = next(k for k in obj.__mro__ if '__init__' in k.__dict__)
        if owner.__module__.split('.')[0] != package.split('.')[0]:
            return None  # the constructor comes from a library and is documented there
        function, docs = owner.__init__, [own, owner.__doc__, owner.__init__.__doc__]
    try:
        params = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return None
    text = '\n'.join(d for d in docs if d)
    missing = [p.name for p in params if p.name not in ('self', 'cls')
               and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
               and not re.search(rf'(?<!\w){p.name}(?!\w)', text)]  # fmt: skip
    return f'docstring does not name argument(s) {", ".join(missing)}' if missing else None


def _docstrings(src: Source):
    for item in src.manifest.get('components', []):
        try:
            obj = pkgutil.resolve_name(item['import'])
        except Exception:
            continue  # the manifest rule reports it
        problem = undocumented(obj, src.package)
        if problem:
            yield f'{item["kind"]} {src.name}.{item["name"]}', problem


def _activate(src: Source) -> None:
    from . import registry

    plugin = fw_plugins.discover().get(src.name)
    if plugin is not None and plugin.package_dir == src.package_dir:
        return fw_plugins.activate(src.name)
    registry.register_manifest(src.name, src.manifest.get('components', []))
    hook = getattr(importlib.import_module(src.hook_module), 'fw_register', None)
    return hook(registries=registry) if hook else None


def _types(node, path=''):
    if isinstance(node, dict):
        if isinstance(node.get('type'), str) and path.rpartition('.')[2] not in NMS_KEYS:
            yield path or '<top>', node['type']
        for key, value in node.items():
            yield from _types(value, f'{path}.{key}' if path else str(key))
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _types(value, f'{path}.{i}')


def _registries(scope: str) -> list:
    """fw's registries and every registry of mmengine's tree that belongs to ``scope``."""
    import mmengine.runner  # noqa: F401  (registers mmengine's own loops, hooks, optimizers)
    from mmengine.registry import Registry, root

    from . import registry

    found, stack = [], [r for r in vars(root).values() if isinstance(r, Registry)]
    while stack:
        reg = stack.pop()
        found += [reg] if reg.scope == scope else []
        stack.extend(reg._children.values())
    return found + [r for r in registry.KINDS.values() if r not in found]


def _unresolved(name: str, scope: str, registries: list) -> str | None:
    """None when a registry of the config's scope knows ``name``; else why not."""
    known: set[str] = set()
    for reg in registries:
        try:
            if reg.get(name) is not None:
                return None
        except FwError as e:
            if 'ambiguous' in str(e) and scope == 'fw':
                return str(e)
        except Exception:
            pass
        known.update(reg.module_dict, [e.qualname for e in getattr(reg, 'entries', list)()])
    close = difflib.get_close_matches(name, sorted(known), n=3)
    return f"'{name}' is in no registry of scope {scope}" + (
        f"; close: {', '.join(close)}" if close else '')  # fmt: skip


def _configs(src: Source):
    from mmengine.config import Config

    from .openmmlab import import_toolkit
    from .train import _install_config_lookup

    if src.error:
        return  # the manifest rule reports it
    _install_config_lookup()  # `_base_ = 'PLUGIN::CONFIG'`, as `fw train` reads configs
    try:
        _activate(src)
    except Exception as e:
        yield 'fw_register', f'activating the plugin failed: {type(e).__name__}: {e}'
        return
    misses: dict[str, list[str]] = {}  # one finding per unresolved type, naming its configs
    seen: dict[tuple[str, str], str | None] = {}  # (type, scope) -> why unresolved
    for path in list_configs(src.package_dir / 'configs').values():
        where = str(path.relative_to(src.package_dir / 'configs'))
        try:
            cfg = Config.fromfile(str(path)).to_dict()
        except Exception as e:
            yield f'configs/{where}', f'does not load: {type(e).__name__}: {e}'
            continue
        scope = cfg.get('default_scope') or 'fw'
        if scope in ('mmdet', 'mmseg'):
            import_toolkit(scope)
        registries = _registries(scope)
        for key, type_name in dict(_types(cfg)).items():
            if (type_name, scope) not in seen:
                seen[type_name, scope] = _unresolved(type_name, scope, registries)
            miss = seen[type_name, scope]
            if miss:
                misses.setdefault(f'{key}.type: {miss}', []).append(where)
    for miss, wheres in misses.items():
        yield f'configs/{wheres[0]}{f" and {len(wheres) - 1} more" if wheres[1:] else ""}', miss


def _version(src: Source):
    if src.root is None:
        return
    want = f'attr: {src.package}.__version__'
    meta = configparser.ConfigParser(interpolation=None)
    meta.read(src.root / 'setup.cfg')
    if meta.get('metadata', 'version', fallback=None) != want:
        yield 'setup.cfg', f"[metadata] version must be '{want}' (the version is stated once)"
    init = src.package_dir / '__init__.py'
    stated = re.search(r"""(?m)^__version__ = ['"]([^'"]+)['"]""", _read(init))
    if not stated:
        yield f'{src.package}/__init__.py', "no __version__ = '<version>' string"
    # a second statement: `__version__ = ...`, or the same string as a version anywhere else
    same = rf"""|version['"]?\s*[:=]\s*['"]{re.escape(stated[1])}['"]""" if stated else ''
    literal = re.compile(r'__version__\s*=' + same)
    for path in sorted(src.package_dir.rglob('*.py')):
        if path != init and literal.search(_read(path)):
            yield str(path.relative_to(src.root)), 'states a version; use the package __version__'
    if re.search(r'(?m)^version\s*=', _read(src.root / 'pyproject.toml')):
        yield 'pyproject.toml', 'states a version; it belongs in fw_<name>/__init__.py only'


def _readme(src: Source):
    text = _read(src.root / 'README.md') if src.root else None
    if text == '':
        yield 'README.md', 'missing; start from the template that `fw new-plugin` writes'
    if not text:
        return
    parts = re.split(r'(?m)^## +', text)
    if not text.startswith('# ') or 'http' not in parts[0]:
        yield 'README.md', "start with '# <title>' and link to the paper before the first '## '"
    sections = {part.splitlines()[0].strip().lower(): part for part in parts[1:] if part.strip()}
    for pattern in README_SECTIONS:
        body = next((b for h, b in sections.items() if re.match(pattern, h)), None)
        if body is None:
            yield 'README.md', f"no '## {pattern.split('|')[-1].capitalize()}' section"
        elif pattern == 'components' and not re.search(r'(?m)^\|.*\|', body):
            yield 'README.md', 'the Components section has no table (paper part, name, file)'
        elif pattern == 'citation' and not re.search(r'@\w+\{', body):
            yield 'README.md', 'the Citation section has no BibTeX entry'


def _references(src: Source):
    base = src.root or src.package_dir
    for path in sorted(p for p in base.rglob('*') if p.suffix in TEXT_FILES):
        if '__pycache__' in path.parts or any(p.endswith('.egg-info') for p in path.parts):
            continue
        lines = [(n, hit[0]) for n, line in enumerate(_read(path).splitlines(), 1)
                 for hit in [FORBIDDEN.search(line)] if hit]  # fmt: skip
        if lines:
            yield (
                f'{path.relative_to(base)}:{",".join(str(n) for n, _ in lines)}',
                f"refers to '{lines[0][1]}', outside the repository; cite the paper instead",
            )


_RULES = dict(layout=_layout, manifest=_manifest, docstrings=_docstrings, configs=_configs,
              version=_version, readme=_readme, references=_references)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Check the named plugins or folders (default: every installed plugin); 1 on a finding."""
    sources = installed()
    argv = sys.argv[1:] if argv is None else argv
    chosen = [source_at(a) if Path(a).is_dir() else sources[a] for a in argv] or sources.values()
    failed = False
    for src in chosen:
        findings = check(src)
        failed = failed or bool(findings)
        print(f'{src.name}: {len(findings) or "no"} finding(s)')
        print(''.join(f'  {finding}\n' for finding in findings), end='')
    return int(failed)


if __name__ == '__main__':
    sys.exit(main())
