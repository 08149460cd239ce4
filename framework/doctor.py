"""``fw doctor``: the installed stack against what the core and each plugin declare."""
from __future__ import annotations

import platform
from importlib import metadata

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from . import plugins as fw_plugins

# name shown -> distribution name
STACK = {'python': None, 'torch': 'torch', 'mmengine': 'mmengine', 'mmcv': 'mmcv',
         'mmdet': 'mmdet', 'mmseg': 'mmsegmentation', 'transformers': 'transformers',
         'diffusers': 'diffusers', 'numpy': 'numpy', 'pluggy': 'pluggy', 'click': 'click'}
CORE_REQUIRES = {'torch': '==2.13.0', 'mmengine': '==0.10.7'}
DIST_OF = {'mmseg': 'mmsegmentation'}


def version_of(dist: str | None) -> str | None:
    if dist is None:
        return platform.python_version()
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _satisfies(version: str, spec: str) -> bool:
    try:
        return SpecifierSet(spec).contains(Version(version.split('+')[0]), prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return True


def _mmcv_ops() -> tuple[bool, str]:
    try:
        from .openmmlab import check_mmcv_ops
    except ImportError:
        return False, 'framework.openmmlab is missing'
    results = check_mmcv_ops()
    bad = [f'{name}: {detail}' for name, ok, detail in results if not ok]
    return (not bad), ('; '.join(bad) if bad else 'compiled ops load and run (nms, batched_nms)')


def run_doctor() -> dict:
    packages, problems = [], []
    for shown, dist in STACK.items():
        packages.append({'name': shown, 'version': version_of(dist), 'note': ''})
    by_name = {p['name']: p for p in packages}
    for name, spec in CORE_REQUIRES.items():
        v = by_name[name]['version']
        if v is None or not _satisfies(v, spec):
            problems.append(f'core needs {name}{spec}, found {v or "nothing"}: '
                            f'pip install "{name}{spec}" (torch: the CPU wheel is on disk)')
    if by_name['mmcv']['version']:
        ok, detail = _mmcv_ops()
        by_name['mmcv']['note'] = detail
        if not ok:
            problems.append(f'mmcv ops do not work ({detail}): run `make openmmlab` '
                            f'(tools/install_openmmlab.sh) to build mmcv 2.1.0 with ops')
    plugins = fw_plugins.load_all()
    report_plugins = []
    for p in plugins.values():
        row = {'name': p.name, 'dist': p.dist, 'status': p.status, 'error': p.error,
               'requires': {}}
        report_plugins.append(row)
        if p.status != 'ok':
            problems.append(f'plugin {p.name} does not load ({p.error}): reinstall {p.dist}')
            continue
        info = getattr(p.hooks, 'fw_plugin_info', None)
        requires = (info() or {}).get('requires', {}) if info else {}
        row['requires'] = requires
        for pkg, spec in requires.items():
            dist = DIST_OF.get(pkg, pkg)
            v = version_of(dist)
            if v is None:
                fix = ('run `make openmmlab` (PyPI has no CPU wheel of mmcv: it is built once '
                       'from source with its ops)' if pkg == 'mmcv'
                       else f'pip install "{dist}{spec}"')
                problems.append(f'plugin {p.name} needs {pkg}{spec}, not installed: {fix}')
            elif not _satisfies(v, spec):
                problems.append(f'plugin {p.name} needs {pkg}{spec}, found {v}: '
                                f'pip install "{dist}{spec}"')
    return {'packages': packages, 'plugins': report_plugins, 'problems': problems}
