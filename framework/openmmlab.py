"""The OpenMMLab stack (mmcv with compiled ops, mmdet, mmseg) as the core sees it.

The core does not depend on these packages; the mm-based plugins do. Nothing here imports mmcv,
mmdet, mmseg or torch at module import time, so ``fw doctor`` and ``fw list`` stay fast and work
where the stack is absent. ``tools/install_openmmlab.sh`` runs this file as a script (stdlib only
at the top) to name the wheel cache folder and to check the result of an install::

    python -I framework/openmmlab.py key      # mmcv-2.1.0_torch-2.13.0+cpu_cp311_linux_x86_64
    python -I framework/openmmlab.py check    # table of checks; exit status 1 if one fails

Why mmcv is compiled here, and where its wheel is kept: see ``tools/install_openmmlab.sh``.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
import sysconfig
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterator

__all__ = ['MMCV_VERSION', 'MMDET_VERSION', 'MMSEG_VERSION', 'wheel_cache_root', 'wheel_key',
           'wheel_dir', 'read_build_record', 'check_mmcv_ops', 'check_toolkits',
           'import_toolkit', 'require_toolkit', 'mm_scope', 'build_model']

MMCV_VERSION = '2.1.0'  # newest mmcv that mmdet 3.3.0 and mmseg 1.2.2 accept (both assert < 2.2.0)
MMDET_VERSION = '3.3.0'
MMSEG_VERSION = '1.2.2'

BUILD_META = 'fw-build-meta.json'    # written next to the cached wheel by the install script
VENV_STAMP = 'fw-openmmlab.json'     # written into the environment (sys.prefix) after an install

Check = tuple[str, bool, str]         # (name, ok, detail)


# ----------------------------------------------------------------------------------------------
# where the compiled wheel lives

def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def wheel_cache_root() -> Path:
    """Root of fw's own wheel cache: ``$FW_WHEEL_CACHE`` or ``~/.cache/fw/wheels``."""
    return Path(os.environ.get('FW_WHEEL_CACHE') or Path.home() / '.cache' / 'fw' / 'wheels')


def wheel_key(torch_version: str | None = None) -> str:
    """Folder name of a compiled mmcv: mmcv version, torch version, Python tag and platform.

    pip's own wheel cache keys a built wheel by source URL and interpreter only, so after a torch
    change it would reinstall a wheel whose ``_ext`` no longer loads (C++ ABI); this key does not.
    """
    torch_version = torch_version or _version('torch')
    if not torch_version:
        raise RuntimeError('torch is not installed; install it first (pip install torch==2.13.0)')
    py_tag = f'{sys.implementation.name[:2]}{sys.version_info.major}{sys.version_info.minor}'
    platform = sysconfig.get_platform().replace('-', '_').replace('.', '_')
    return f'mmcv-{MMCV_VERSION}_torch-{torch_version}_{py_tag}_{platform}'


def wheel_dir(torch_version: str | None = None) -> Path:
    return wheel_cache_root() / wheel_key(torch_version)


def read_build_record() -> dict | None:
    """What the install script recorded: the environment's stamp, else the cache's meta file."""
    candidates = [Path(sys.prefix) / VENV_STAMP]
    if _version('torch'):
        candidates.append(wheel_dir() / BUILD_META)
    for path in candidates:
        if path.is_file():
            try:
                record = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            record['_path'] = str(path)
            return record
    return None


# ----------------------------------------------------------------------------------------------
# checks (fw doctor, tools/install_openmmlab.sh)

def _run(name: str, fn: Callable[[], str]) -> Check:
    try:
        return name, True, fn()
    except Exception as exc:  # a check reports, it never raises
        return name, False, f'{type(exc).__name__}: {exc}'.strip()


def check_mmcv_ops(build_record: dict | None = None) -> list[Check]:
    """Is mmcv the full 2.1.0 build, do its compiled ops load and give the right answers?

    Returns ``(name, ok, detail)`` rows. ``build_record`` (a dict with ``torch``) defaults to what
    the install script wrote (:func:`read_build_record`).
    """
    rows: list[Check] = []

    def version() -> str:
        found = _version('mmcv')
        if found is None:
            raise RuntimeError('mmcv is not installed: run tools/install_openmmlab.sh')
        if _version('mmcv-lite') is not None:
            raise RuntimeError('mmcv-lite is installed beside mmcv and owns the same import '
                               'package: pip uninstall mmcv-lite, then rerun '
                               'tools/install_openmmlab.sh')
        if found != MMCV_VERSION:
            raise RuntimeError(f'mmcv {found} installed, fw needs {MMCV_VERSION} '
                               '(mmdet 3.3 / mmseg 1.2 assert mmcv < 2.2.0)')
        return found

    rows.append(_run('mmcv version', version))
    if not rows[-1][1]:
        return rows

    def ext() -> str:
        import mmcv._ext as ext_module  # the compiled extension; absent in mmcv-lite
        return Path(ext_module.__file__).name

    rows.append(_run('mmcv._ext', ext))
    if not rows[-1][1]:
        rows[-1] = (rows[-1][0], False, rows[-1][2] + ' (mmcv built without ops or for another '
                    'torch: rerun tools/install_openmmlab.sh)')
        return rows

    # three hand boxes: box 1 overlaps box 0 with IoU 81/119 = 0.68, box 2 is apart
    boxes = [[0., 0., 10., 10.], [1., 1., 11., 11.], [20., 20., 30., 30.]]
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
        _, keep = mm_batched_nms(torch.tensor(boxes), torch.tensor(scores), torch.tensor([0, 1, 0]),
                                 dict(type='nms', iou_threshold=0.5))
        if sorted(keep.tolist()) != [0, 1, 2]:
            raise AssertionError(f'kept {keep.tolist()}, expected [0, 1, 2] '
                                 '(box 1 is of another class)')
        return 'kept [0, 1, 2] with box 1 in its own class'

    def compiler() -> str:
        from mmcv.ops import get_compiler_version, get_compiling_cuda_version
        return f'{get_compiler_version()}, CUDA {get_compiling_cuda_version()}'

    def built_for_torch() -> str:
        import torch
        record = build_record if build_record is not None else read_build_record()
        if not record or not record.get('torch'):
            return (f'torch {torch.__version__} (no build record: mmcv was not installed by '
                    'tools/install_openmmlab.sh)')
        if record['torch'] != torch.__version__:
            raise RuntimeError(f"mmcv was built for torch {record['torch']}, torch "
                               f'{torch.__version__} is running: rerun tools/install_openmmlab.sh')
        return f"torch {record['torch']}"

    rows.append(_run('mmcv.ops.nms', nms))
    rows.append(_run('mmcv.ops.batched_nms', batched_nms))
    rows.append(_run('mmcv compiler', compiler))
    rows.append(_run('mmcv built for', built_for_torch))
    return rows


def check_toolkits() -> list[Check]:
    """mmdet / mmseg / pycocotools versions and whether their model packages import (slow: ~5 s)."""
    rows: list[Check] = []

    def toolkit(dist: str, want: str, module: str) -> Callable[[], str]:
        def fn() -> str:
            found = _version(dist)
            if found is None:
                raise RuntimeError(f'{dist} is not installed: run tools/install_openmmlab.sh')
            if found != want:
                raise RuntimeError(f'{dist} {found} installed, fw is tested with {want}')
            __import__(module)
            return f'{found}; import {module} ok'
        return fn

    rows.append(_run('mmdet', toolkit('mmdet', MMDET_VERSION, 'mmdet.models')))
    rows.append(_run('mmsegmentation', toolkit('mmsegmentation', MMSEG_VERSION, 'mmseg.models')))

    def pycocotools() -> str:
        from pycocotools.cocoeval import COCOeval  # noqa: F401  (C extension + numpy)
        return _version('pycocotools') or '?'

    rows.append(_run('pycocotools', pycocotools))
    return rows


# ----------------------------------------------------------------------------------------------
# keeping model building explicit

_TOOLKITS = {'mmdet': 'mmdet.utils', 'mmseg': 'mmseg.utils'}


def import_toolkit(scope: str) -> None:
    """Import all of mmdet's / mmseg's modules so their registries are complete.

    Does not touch mmengine's process-global default scope (``init_default_scope=False``).
    """
    if scope not in _TOOLKITS:
        raise ValueError(f'unknown OpenMMLab scope {scope!r}; known: {sorted(_TOOLKITS)}')
    module = __import__(_TOOLKITS[scope], fromlist=['register_all_modules'])
    module.register_all_modules(init_default_scope=False)


def require_toolkit(scope: str | None) -> None:
    """Import mmdet/mmseg before a Runner builds a config whose ``default_scope`` names it.

    Without this, a missing or broken stack (no mmcv, mmcv without ``_ext``) surfaces as mmengine's
    warning "mmdet is not installed" and then "DetLocalVisualizer is not in the
    mmengine::visualizer registry"; here it becomes one :class:`~framework.errors.FwError` with the
    real cause and the fix.
    Other scopes (``'fw'``, a plugin's own) are left alone.
    """
    if scope not in _TOOLKITS:
        return
    try:
        import_toolkit(scope)
    except ImportError as e:
        from framework.errors import FwError
        raise FwError(f"the config's default_scope is '{scope}', which does not import "
                      f'({type(e).__name__}: {e}); run `make openmmlab` '
                      f'(tools/install_openmmlab.sh), then `fw doctor`') from e


@contextlib.contextmanager
def mm_scope(scope: str) -> Iterator[None]:
    """Within the block, mmengine's default scope is ``scope`` (``'mmdet'`` or ``'mmseg'``).

    mmdet/mmseg builders resolve nested names (``type='ResNet'``, ``type='LoadAnnotations'``,
    ``type='nms'``) in the current default scope; this sets it explicitly for one block instead of
    relying on whatever the process-global scope happens to be, and restores it afterwards.
    """
    from mmengine.registry import DefaultScope

    import_toolkit(scope)
    with DefaultScope.overwrite_default_scope(scope):
        yield


def build_model(cfg: dict, scope: str):
    """Build an mmdet/mmseg model from ``cfg`` in ``scope``; remote weights are refused first."""
    from framework.train import checkpoint_paths  # raises FwError on http(s)://, open-mmlab://, ...

    checkpoint_paths(cfg)
    with mm_scope(scope):
        registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
        return registry.build(cfg)


# ----------------------------------------------------------------------------------------------
# script entry (used by tools/install_openmmlab.sh; stdlib only until a check runs)

def _print_rows(rows: list[Check]) -> bool:
    width = max(len(name) for name, _, _ in rows)
    for name, ok, detail in rows:
        print(f"  {'ok  ' if ok else 'FAIL'}  {name:<{width}}  {detail}")
    return all(ok for _, ok, _ in rows)


def _main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog='framework/openmmlab.py',
                                     description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='cmd', required=True)
    sub.add_parser('key', help='print the wheel cache folder name for the installed torch')
    check = sub.add_parser('check', help='check mmcv ops (and with --toolkits, mmdet/mmseg)')
    check.add_argument('--meta', help='build meta file (json with "torch") to compare against')
    check.add_argument('--toolkits', action='store_true',
                       help='also import mmdet.models and mmseg.models')
    args = parser.parse_args(argv)
    if args.cmd == 'key':
        print(wheel_key())
        return 0
    record = json.loads(Path(args.meta).read_text()) if args.meta else None
    ok = _print_rows(check_mmcv_ops(record) + (check_toolkits() if args.toolkits else []))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(_main(sys.argv[1:]))
