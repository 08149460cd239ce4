"""``fw doctor``: the installed stack against what the core and each plugin declare.

Also the check of mmcv's compiled ops that ``tools/install_openmmlab.sh`` runs after an
install. Only the standard library is imported at
the top: the install script loads this module before the core's dependencies may be installed.
"""

from __future__ import annotations

import json
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Callable

MMCV_VERSION = '2.1.0'  # newest mmcv that mmdet 3.3.0 and mmseg 1.2.2 accept (both assert < 2.2.0)
VENV_STAMP = 'fw-openmmlab.json'  # written into the environment (sys.prefix) by the install
# name shown -> distribution name
STACK = {
    'python': None,
    'torch': 'torch',
    'mmengine': 'mmengine',
    'mmcv': 'mmcv',
    'mmdet': 'mmdet',
    'mmseg': 'mmsegmentation',
    'transformers': 'transformers',
    'diffusers': 'diffusers',
    'numpy': 'numpy',
    'pluggy': 'pluggy',
    'click': 'click',
}
CORE_REQUIRES = {'torch': '==2.13.0', 'mmengine': '==0.10.7'}
DIST_OF = {'mmseg': 'mmsegmentation'}
REINSTALL = 'rerun tools/install_openmmlab.sh (make openmmlab)'

Check = tuple[str, bool, str]  # (name, ok, detail)


def version_of(dist: str | None) -> str | None:
    if dist is None:
        return platform.python_version()
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def run_check(name: str, fn: Callable[[], str]) -> Check:
    try:
        return name, True, fn()
    except Exception as exc:  # a check reports, it never raises
        return name, False, f'{type(exc).__name__}: {exc}'.strip()


def check_mmcv_ops(build_record: dict | None = None) -> list[Check]:
    """Is mmcv the full 2.1.0 build, do its compiled ops load and give the right answers?

    ``build_record`` (a dict with ``torch``) defaults to the stamp the install script wrote.
    """

    def version() -> str:
        found = version_of('mmcv')
        if found is None:
            raise RuntimeError(f'mmcv is not installed: {REINSTALL}')
        if version_of('mmcv-lite') is not None:
            raise RuntimeError(
                f'mmcv-lite owns the same import package: pip uninstall mmcv-lite, then {REINSTALL}'
            )
        if found != MMCV_VERSION:
            raise RuntimeError(
                f'mmcv {found} installed, fw needs {MMCV_VERSION} '
                '(mmdet 3.3 / mmseg 1.2 assert mmcv < 2.2.0)'
            )
        return found

    def ext() -> str:
        import mmcv._ext as ext_module  # the compiled extension; absent in mmcv-lite

        return Path(ext_module.__file__).name

    # three hand boxes: box 1 overlaps box 0 with IoU 81/119 = 0.68, box 2 is apart
    boxes = [[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0], [20.0, 20.0, 30.0, 30.0]]
    scores = [0.9, 0.8, 0.7]

    def nms() -> str:
        import torch
        from mmcv.ops import nms as mm_nms

        dets, keep = mm_nms(torch.tensor(boxes), torch.tensor(scores), iou_threshold=0.5)
        if keep.tolist() != [0, 2] or dets.shape != (2, 5):
            raise AssertionError(f'kept {keep.tolist()}, expected [0, 2]')
        return 'kept [0, 2] of 3 boxes (IoU 0.68 > 0.5 suppressed)'

    def batched_nms() -> str:
        import torch
        from mmcv.ops import batched_nms as mm_batched_nms

        _, keep = mm_batched_nms(
            torch.tensor(boxes),
            torch.tensor(scores),
            torch.tensor([0, 1, 0]),
            dict(type='nms', iou_threshold=0.5),
        )
        if sorted(keep.tolist()) != [0, 1, 2]:
            raise AssertionError(
                f'kept {keep.tolist()}, expected [0, 1, 2] (box 1 is of another class)'
            )
        return 'kept [0, 1, 2] with box 1 in its own class'

    def compiler() -> str:
        from mmcv.ops import get_compiler_version, get_compiling_cuda_version

        return f'{get_compiler_version()}, CUDA {get_compiling_cuda_version()}'

    def built_for_torch() -> str:
        import torch

        record = build_record
        stamp = Path(sys.prefix) / VENV_STAMP
        if record is None and stamp.is_file():
            record = json.loads(stamp.read_text())
        if not record or not record.get('torch'):
            return (
                f'torch {torch.__version__} (no build record: mmcv was not installed by '
                'tools/install_openmmlab.sh)'
            )
        if record['torch'] != torch.__version__:
            raise RuntimeError(
                f'mmcv was built for torch {record["torch"]}, torch '
                f'{torch.__version__} is running: {REINSTALL}'
            )
        return f'torch {record["torch"]}'

    rows = [run_check('mmcv version', version)]
    if rows[-1][1]:
        rows.append(run_check('mmcv._ext', ext))
    if not rows[-1][1]:
        return rows
    return rows + [
        run_check(name, fn)
        for name, fn in (
            ('mmcv.ops.nms', nms),
            ('mmcv.ops.batched_nms', batched_nms),
            ('mmcv compiler', compiler),
            ('mmcv built for', built_for_torch),
        )
    ]


def _satisfies(version: str, spec: str) -> bool:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        return SpecifierSet(spec).contains(Version(version.split('+')[0]), prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return True


def run_doctor() -> dict:
    from . import plugins as fw_plugins

    packages = [
        {'name': shown, 'version': version_of(dist), 'note': ''} for shown, dist in STACK.items()
    ]
    problems = []
    by_name = {p['name']: p for p in packages}
    for name, spec in CORE_REQUIRES.items():
        v = by_name[name]['version']
        if v is None or not _satisfies(v, spec):
            problems.append(
                f'core needs {name}{spec}, found {v or "nothing"}: '
                f'pip install "{name}{spec}" (torch: the CPU wheel is on disk)'
            )
    if by_name['mmcv']['version']:
        bad = [f'{name}: {detail}' for name, ok, detail in check_mmcv_ops() if not ok]
        by_name['mmcv']['note'] = '; '.join(bad) or 'compiled ops load and run (nms, batched_nms)'
        if bad:
            problems.append(
                f'mmcv ops do not work ({"; ".join(bad)}): run `make openmmlab` '
                f'(tools/install_openmmlab.sh) to build mmcv {MMCV_VERSION} with ops'
            )
    report_plugins = []
    for p in fw_plugins.load_all().values():
        row = {'name': p.name, 'dist': p.dist, 'status': p.status, 'error': p.error, 'requires': {}}
        report_plugins.append(row)
        if p.status != 'ok':
            problems.append(f'plugin {p.name} does not load ({p.error}): reinstall {p.dist}')
            continue
        info = getattr(p.hooks, 'fw_plugin_info', None)
        row['requires'] = requires = (info() or {}).get('requires', {}) if info else {}
        for pkg, spec in requires.items():
            dist = DIST_OF.get(pkg, pkg)
            v = version_of(dist)
            if v is None:
                fix = (
                    'run `make openmmlab` (PyPI has no CPU wheel of mmcv: it is built once '
                    'from source with its ops)'
                    if pkg == 'mmcv'
                    else f'pip install "{dist}{spec}"'
                )
                problems.append(f'plugin {p.name} needs {pkg}{spec}, not installed: {fix}')
            elif not _satisfies(v, spec):
                problems.append(
                    f'plugin {p.name} needs {pkg}{spec}, found {v}: pip install "{dist}{spec}"'
                )
    return {'packages': packages, 'plugins': report_plugins, 'problems': problems}
