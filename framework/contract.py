"""The plugin contract, checked rule by rule (the rules are written out in README 'Adding a plugin').

``python -m framework.contract [PLUGIN | FOLDER ...]`` checks installed plugins (all by default) or
plugin source folders and prints one line per finding; ``tests/test_plugin_contract.py`` runs the
same checks for every installed plugin, so a new plugin is checked with no test code of its own.
"""

from __future__ import annotations

import ast
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
#: README sections (``## `` headings, matched at their start, case-insensitive)
README_SECTIONS = {
    'install and usage': r'install|usage',
    'components': r'components',
    'results': r'results',
    'tests': r'tests',
    'deviations': r'deviations',
    'citation': r'citation',
    'checklist': r'checklist',
}
# (spelt so that a search of the repository for them finds nothing)
FORBIDDEN = ('spec \u00a7', 'shared/specs', 'shared/seeds', 'llm_common')
TEXT_SUFFIXES = {'.py', '.md', '.json', '.cfg', '.toml', '.txt', '.yaml', '.yml', '.rst'}
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


def installed() -> dict[str, Source]:
    """Every plugin named by an ``fw.plugins`` entry point."""
    found = {}
    for p in fw_plugins.discover().values():
        package = p.module.rpartition('.')[0] or p.module
        builtin = package.startswith('framework.')
        root = None if builtin or p.package_dir is None else p.package_dir.parent
        found[p.name] = Source(
            p.name, package, p.package_dir or Path('?'), p.module, root, p.manifest, p.error
        )
    return found


def source_at(root: str | Path) -> Source:
    """A plugin source folder (``setup.cfg`` beside ``fw_<name>/``); made importable here."""
    root = Path(root).resolve()
    packages = [d for d in sorted(root.glob('fw_*')) if (d / MANIFEST_FILE).is_file()]
    if len(packages) != 1:
        raise FwError(
            f'{root}: expected one fw_<name>/ folder with a {MANIFEST_FILE}, found {len(packages)}'
        )
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
    """All findings of ``src`` for ``rules`` (empty: the plugin keeps the contract)."""
    findings = []
    for rule in rules:
        findings += [Finding(rule, where, msg) for where, msg in _RULES[rule](src)]
    return findings


# ---------------------------------------------------------------------------------------- rules
def _layout(src: Source):
    if src.root is None:
        return
    for rel in (
        'setup.cfg',
        'pyproject.toml',
        'README.md',
        'tests',
        f'{src.package}/__init__.py',
        f'{src.package}/plugin.py',
        f'{src.package}/{MANIFEST_FILE}',
        f'{src.package}/configs',
    ):
        if not (src.root / rel).exists():
            yield rel, 'missing (see `fw new-plugin` for the layout)'
    for init in sorted(src.package_dir.rglob('__init__.py')):
        if init.parent != src.package_dir and init.parent.name != 'configs':
            yield (
                str(init.parent.relative_to(src.root)),
                'a subpackage; keep one flat module '
                'per part of the paper (backbone.py, head.py, loss.py, ...)',
            )
    nested = [
        item['import']
        for item in _manifest_items(src)
        if not re.fullmatch(rf'{re.escape(src.package)}\.\w+:[\w.]+', item['import'])
    ]
    if nested:
        yield (
            MANIFEST_FILE,
            f'{len(nested)} import(s) not from a top-level module of '
            f'{src.package}: {", ".join(nested[:3])}{", ..." if len(nested) > 3 else ""}',
        )


def _manifest_items(src: Source) -> list[dict]:
    return list(src.manifest.get('components', [])) + list(src.manifest.get('commands', []))


def _resolve(target: str):
    return pkgutil.resolve_name(target)


def _manifest(src: Source):
    if src.error:
        yield MANIFEST_FILE, src.error
        return
    if src.manifest.get('name') != src.name:
        yield MANIFEST_FILE, f"'name' is {src.manifest.get('name')!r}, expected {src.name!r}"
    for target in [src.hook_module] + [item['import'] for item in _manifest_items(src)]:
        try:
            _resolve(target)
        except Exception as e:
            yield MANIFEST_FILE, f"'{target}' does not import: {type(e).__name__}: {e}"


def _undocumented(obj, package: str) -> str | None:
    """Why ``obj``'s docstring falls short, or None: it must name each constructor argument."""
    own = obj.__dict__.get('__doc__') if isinstance(obj, type) else obj.__doc__
    if not (own or '').strip():
        return 'has no docstring'
    if isinstance(obj, type):
        owner = next(k for k in obj.__mro__ if '__init__' in k.__dict__)
        if owner.__module__.split('.')[0] != package.split('.')[0]:
            return None  # constructor inherited from a library: documented there
        function, docs = owner.__init__, (own, owner.__doc__, owner.__init__.__doc__)
    else:
        function, docs = obj, (own,)
    try:
        params = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return None
    text = '\n'.join(d for d in docs if d)
    missing = [
        p.name
        for p in params
        if p.name not in ('self', 'cls')
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        and not re.search(rf'(?<![\w]){re.escape(p.name)}(?![\w])', text)
    ]
    return f'docstring does not name argument(s) {", ".join(missing)}' if missing else None


def _docstrings(src: Source):
    for item in src.manifest.get('components', []):
        try:
            obj = _resolve(item['import'])
        except Exception:
            continue  # the manifest rule reports it
        problem = _undocumented(obj, src.package)
        if problem:
            yield f'{item["kind"]} {src.name}.{item["name"]}', problem


def _activate(src: Source) -> None:
    from . import registry

    plugin = fw_plugins.discover().get(src.name)
    if plugin is not None and plugin.package_dir == src.package_dir:
        fw_plugins.activate(src.name)
        return
    registry.register_manifest(src.name, src.manifest.get('components', []))
    hook = getattr(importlib.import_module(src.hook_module), 'fw_register', None)
    if hook is not None:
        hook(registries=registry)


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

    found, stack = (
        list(registry.KINDS.values()),
        [r for r in vars(root).values() if isinstance(r, Registry)],
    )
    while stack:
        reg = stack.pop()
        found += [reg] if reg.scope == scope else []
        stack.extend(reg._children.values())
    return found


def _resolves(name: str, scope: str, registries: list) -> str | None:
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
        known.update(
            reg.module_dict, (e.qualname for e in getattr(reg, '_fw_entries', {}).values())
        )
    close = difflib.get_close_matches(name, sorted(known), n=3)
    return f"'{name}' is in no registry of scope {scope}" + (
        f'; close: {", ".join(close)}' if close else ''
    )


def _configs(src: Source):
    from mmengine.config import Config

    from .openmmlab import import_toolkit
    from .train import core_config_dir

    if src.error:
        return  # the manifest rule reports it
    try:
        _activate(src)
    except Exception as e:
        yield 'fw_register', f'activating the plugin failed: {type(e).__name__}: {e}'
        return
    misses: dict[str, list[str]] = {}  # one finding per unresolved type, naming its configs
    for path in list_configs(src.package_dir / 'configs').values():
        where = str(path.relative_to(src.package_dir / 'configs'))
        try:
            cfg = Config.fromfile(str(path)).to_dict()
        except Exception as e:
            yield f'configs/{where}', f'does not load: {type(e).__name__}: {e}'
            continue
        for base in cfg.get('fw_base', []):
            if not (core_config_dir() / base).is_file():
                yield f'configs/{where}', f"fw_base names '{base}', not in {core_config_dir()}"
        scope = cfg.get('default_scope') or 'fw'
        if scope in ('mmdet', 'mmseg'):
            import_toolkit(scope)
        registries = _registries(scope)
        for key, type_name in dict(_types(cfg)).items():
            miss = _resolves(type_name, scope, registries)
            if miss:
                misses.setdefault(f'{key}.type: {miss}', []).append(where)
    for miss, wheres in misses.items():
        more = f' and {len(wheres) - 1} more' if len(wheres) > 1 else ''
        yield f'configs/{wheres[0]}{more}', miss


def _version(src: Source):
    if src.root is None:
        return
    want = f'attr: {src.package}.__version__'
    meta = configparser.ConfigParser(interpolation=None)
    meta.read(src.root / 'setup.cfg')
    if meta.get('metadata', 'version', fallback=None) != want:
        yield 'setup.cfg', f"[metadata] version must be '{want}' (the version is stated once)"
    init = src.package_dir / '__init__.py'
    tree = ast.parse(init.read_text()) if init.is_file() else ast.Module(body=[])
    if not any(
        isinstance(n, ast.Assign)
        and any(getattr(t, 'id', '') == '__version__' for t in n.targets)
        and isinstance(n.value, ast.Constant)
        for n in tree.body
    ):
        yield f'{src.package}/__init__.py', "no __version__ = '<version>' string"
    literal = re.compile(r"""(['"]version['"]\s*:\s*['"]\d|__version__\s*=\s*['"]|version='\d)""")
    for path in sorted(src.package_dir.rglob('*.py')):
        if path != init and literal.search(path.read_text()):
            yield str(path.relative_to(src.root)), 'states a version; use the package __version__'
    if re.search(r'(?m)^version\s*=', _read(src.root / 'pyproject.toml')):
        yield 'pyproject.toml', 'states a version; it belongs in fw_<name>/__init__.py only'


def _read(path: Path) -> str:
    return path.read_text(errors='replace') if path.is_file() else ''


def _readme(src: Source):
    if src.root is None:
        return
    if not (src.root / 'README.md').is_file():
        yield 'README.md', 'missing; start from the template `fw new-plugin` writes'
        return
    text = _read(src.root / 'README.md')
    parts = re.split(r'(?m)^## +', text)
    if not text.startswith('# ') or 'http' not in parts[0]:
        yield (
            'README.md',
            "must start with '# <title>' and link to the paper before the first section",
        )
    sections = {p.splitlines()[0].strip().lower(): p for p in parts[1:] if p.strip()}
    for label, pattern in README_SECTIONS.items():
        body = next((b for h, b in sections.items() if re.match(pattern, h)), None)
        if body is None:
            yield 'README.md', f"no '## {label.capitalize()}' section"
        elif label == 'components' and not re.search(r'(?m)^\|.*\|', body):
            yield 'README.md', 'the Components section has no table (paper part -> name -> file)'
        elif label == 'citation' and not re.search(r'@\w+\{', body):
            yield 'README.md', 'the Citation section has no BibTeX entry'


def _references(src: Source):
    base = src.root or src.package_dir
    for path in sorted(base.rglob('*')):
        if (
            path.suffix not in TEXT_SUFFIXES
            or '__pycache__' in path.parts
            or any(part.endswith('.egg-info') for part in path.parts)
        ):
            continue
        lines = [
            (n, f)
            for n, line in enumerate(_read(path).splitlines(), 1)
            for f in FORBIDDEN
            if f in line
        ]
        if lines:
            yield (
                f'{path.relative_to(base)}:{",".join(str(n) for n, _ in lines)}',
                f'refers to {lines[0][1]!r}, a file outside the repository; cite the paper '
                '(section, equation, table) instead',
            )


_RULES = {
    'layout': _layout,
    'manifest': _manifest,
    'docstrings': _docstrings,
    'configs': _configs,
    'version': _version,
    'readme': _readme,
    'references': _references,
}


def main(argv: list[str] | None = None) -> int:
    """Check the named plugins or folders (default: every installed plugin); 1 if any finding."""
    argv = sys.argv[1:] if argv is None else argv
    sources = installed()
    chosen = [source_at(a) if Path(a).is_dir() else sources[a] for a in argv] or sources.values()
    bad = 0
    for src in chosen:
        findings = check(src)
        bad += len(findings)
        print(f'{src.name}: {"ok" if not findings else f"{len(findings)} finding(s)"}')
        for finding in findings:
            print(f'  {finding}')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
