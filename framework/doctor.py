"""``fw doctor``: the installed stack against what the core and each plugin declare.

The full check of a fresh mmcv build (version, compiled extension, ops, the torch it was built
for) is ``tools/openmmlab_stack.py check``, run by the install script; here mmcv's ops only have to
load and suppress one overlapping box.
"""

from __future__ import annotations

import platform
from importlib import metadata

STACK = 'torch mmengine mmcv mmdet mmsegmentation transformers diffusers numpy pluggy click'
CORE_REQUIRES = {'torch': '==2.13.0', 'mmengine': '==0.10.7'}
DIST_OF = {'mmseg': 'mmsegmentation'}
OPENMMLAB = 'run `make openmmlab` (tools/install_openmmlab.sh)'


def version_of(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def mmcv_ops_problem() -> str | None:
    """None when mmcv's compiled NMS keeps boxes 0 and 2 of three (box 1 overlaps box 0)."""
    try:
        import torch
        from mmcv.ops import nms

        boxes = torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]])
        _, keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)
        return None if keep.tolist() == [0, 2] else f'nms kept {keep.tolist()}, expected [0, 2]'
    except Exception as e:  # a check reports, it never raises
        return f'{type(e).__name__}: {e}'


def satisfies(version: str, spec: str) -> bool:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        return SpecifierSet(spec).contains(Version(version.split('+')[0]), prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return True


def run_doctor() -> dict:
    from . import plugins as fw_plugins

    packages = [{'name': 'python', 'version': platform.python_version(), 'note': ''}]
    packages += [{'name': d, 'version': version_of(d), 'note': ''} for d in STACK.split()]
    problems, found = [], {p['name']: p for p in packages}
    for name, spec in CORE_REQUIRES.items():
        if not satisfies(found[name]['version'] or '0', spec):
            have = found[name]['version']
            problems.append(f'core needs {name}{spec}, found {have}: pip install "{name}{spec}"')
    if found['mmcv']['version']:
        problem = mmcv_ops_problem()
        found['mmcv']['note'] = problem or 'compiled ops load and run (nms)'
        if problem:
            problems.append(f'mmcv ops do not work ({problem}): {OPENMMLAB}')
    rows = []
    for p in fw_plugins.load_all().values():
        info = getattr(p.hooks, 'fw_plugin_info', None)
        requires = (info() or {}).get('requires', {}) if info and p.status == 'ok' else {}
        rows.append(dict(name=p.name, dist=p.dist, status=p.status, error=p.error))
        rows[-1]['requires'] = requires
        if p.status != 'ok':
            problems.append(f'plugin {p.name} does not load ({p.error}): reinstall {p.dist}')
        for pkg, spec in requires.items():
            dist = DIST_OF.get(pkg, pkg)
            fix = OPENMMLAB if pkg == 'mmcv' else f'pip install "{dist}{spec}"'
            have = version_of(dist)
            if have is None or not satisfies(have, spec):
                problems.append(f'plugin {p.name} needs {pkg}{spec}, found {have}: {fix}')
    return {'packages': packages, 'plugins': rows, 'problems': problems}
