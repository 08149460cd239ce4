"""Helper of tools/install_openmmlab.sh: the compiled mmcv wheel's cache key, and the check of an
install. Standard library only until a check runs; run with the environment's interpreter::

    python -I tools/openmmlab_stack.py key      # mmcv-2.1.0_torch-2.13.0+cpu_cp311_linux_x86_64
    python -I tools/openmmlab_stack.py check [--meta FILE] [--toolkits]   # exit 1 if one fails

`fw doctor` runs a short version of the mmcv ops check.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import sysconfig
from importlib import metadata
from pathlib import Path
from typing import Callable

MMCV_VERSION = '2.1.0'  # newest mmcv that mmdet 3.3.0 and mmseg 1.2.2 accept (both assert < 2.2.0)
VENV_STAMP = 'fw-openmmlab.json'  # written into the environment (sys.prefix) by the install
REINSTALL = 'rerun tools/install_openmmlab.sh (make openmmlab)'

Check = tuple[str, bool, str]  # (name, ok, detail)

MMDET_VERSION = '3.3.0'
MMSEG_VERSION = '1.2.2'


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


def wheel_key() -> str:
    """Folder name of a compiled mmcv: mmcv version, torch version, Python tag and platform.

    pip's own wheel cache keys a built wheel by source URL and interpreter only, so after a torch
    change it would reinstall a wheel whose ``_ext`` no longer loads (C++ ABI); this key does not.
    """
    try:
        torch_version = metadata.version('torch')
    except metadata.PackageNotFoundError:
        raise SystemExit('torch is not installed; install it first (pip install torch==2.13.0)')
    py_tag = f'{sys.implementation.name[:2]}{sys.version_info.major}{sys.version_info.minor}'
    platform = sysconfig.get_platform().replace('-', '_').replace('.', '_')
    return f'mmcv-{MMCV_VERSION}_torch-{torch_version}_{py_tag}_{platform}'


def check_toolkits() -> list[Check]:
    """mmdet / mmseg / pycocotools versions and whether their model packages import (~5 s)."""

    def toolkit(dist: str, want: str, module: str) -> Callable[[], str]:
        def fn() -> str:
            found = version_of(dist)
            if found is None:
                raise RuntimeError(f'{dist} is not installed: {REINSTALL}')
            if found != want:
                raise RuntimeError(f'{dist} {found} installed, fw is tested with {want}')
            __import__(module)
            return f'{found}; import {module} ok'

        return fn

    def pycocotools() -> str:
        from pycocotools.cocoeval import COCOeval  # noqa: F401  (C extension + numpy)

        return version_of('pycocotools') or '?'

    return [
        run_check('mmdet', toolkit('mmdet', MMDET_VERSION, 'mmdet.models')),
        run_check('mmsegmentation', toolkit('mmsegmentation', MMSEG_VERSION, 'mmseg.models')),
        run_check('pycocotools', pycocotools),
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog='tools/openmmlab_stack.py', description=__doc__.split('\n')[0]
    )
    sub = parser.add_subparsers(dest='cmd', required=True)
    sub.add_parser('key', help='print the wheel cache folder name for the installed torch')
    check = sub.add_parser('check', help='check mmcv ops (and with --toolkits, mmdet/mmseg)')
    check.add_argument('--meta', help='build meta file (json with "torch") to compare against')
    check.add_argument(
        '--toolkits', action='store_true', help='also import mmdet.models and mmseg.models'
    )
    args = parser.parse_args(argv)
    if args.cmd == 'key':
        print(wheel_key())
        return 0
    record = json.loads(Path(args.meta).read_text()) if args.meta else None
    rows = check_mmcv_ops(record) + (check_toolkits() if args.toolkits else [])
    width = max(len(name) for name, _, _ in rows)
    for name, ok, detail in rows:
        print(f'  {"ok  " if ok else "FAIL"}  {name:<{width}}  {detail}')
    return 0 if all(ok for _, ok, _ in rows) else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
