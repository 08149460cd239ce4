"""Helper of tools/install_openmmlab.sh: the compiled mmcv wheel's cache key, and the check of an
install. Standard library only until a check runs; run with the environment's interpreter::

    python -I tools/openmmlab_stack.py key      # mmcv-2.1.0_torch-2.13.0+cpu_cp311_linux_x86_64
    python -I tools/openmmlab_stack.py check [--meta FILE] [--toolkits]   # exit 1 if one fails

The mmcv ops check is fw doctor's (framework/doctor.py), imported from this repository.
"""

from __future__ import annotations

import argparse
import json
import sys
import sysconfig
from importlib import metadata
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this repository's framework/

from framework.doctor import MMCV_VERSION, REINSTALL, Check, check_mmcv_ops, run_check, version_of

MMDET_VERSION = '3.3.0'
MMSEG_VERSION = '1.2.2'


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
