"""mmdet and mmseg at run time: import a toolkit's modules, set its scope for one block.

The core does not depend on the OpenMMLab stack; the mm-based plugins do, and nothing here imports
it at module import time. Installing the stack is ``tools/install_openmmlab.sh``; checking it is
``fw doctor`` (:mod:`framework.doctor`).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from .errors import FwError

_TOOLKITS = {'mmdet': 'mmdet.utils', 'mmseg': 'mmseg.utils'}


def import_toolkit(scope: str) -> None:
    """Import all of mmdet's / mmseg's modules so their registries are complete.

    Does not touch mmengine's process-global default scope (``init_default_scope=False``).
    """
    if scope not in _TOOLKITS:
        raise FwError(f'unknown OpenMMLab scope {scope!r}; known: {sorted(_TOOLKITS)}')
    module = __import__(_TOOLKITS[scope], fromlist=['register_all_modules'])
    module.register_all_modules(init_default_scope=False)


def require_toolkit(scope: str | None) -> None:
    """Import mmdet/mmseg before a Runner builds a config whose ``default_scope`` names it.

    Without this, a missing or broken stack (no mmcv, mmcv without ``_ext``) surfaces as mmengine's
    warning "mmdet is not installed" and then "DetLocalVisualizer is not in the
    mmengine::visualizer registry"; here it becomes one FwError with the real cause and the fix.
    Other scopes (``'fw'``, a plugin's own) are left alone.
    """
    if scope not in _TOOLKITS:
        return
    try:
        import_toolkit(scope)
    except ImportError as e:
        raise FwError(
            f"the config's default_scope is '{scope}', which does not import "
            f'({type(e).__name__}: {e}); run `make openmmlab` '
            f'(tools/install_openmmlab.sh), then `fw doctor`'
        ) from e


@contextlib.contextmanager
def mm_scope(scope: str) -> Iterator[None]:
    """Within the block, mmengine's default scope is ``scope`` (``'mmdet'`` or ``'mmseg'``).

    mmdet/mmseg builders resolve nested names (``type='ResNet'``, ``type='LoadAnnotations'``) in
    the current default scope; this sets it explicitly for one block instead of relying on
    whatever the process-global scope happens to be, and restores it afterwards.
    """
    from mmengine.registry import DefaultScope

    import_toolkit(scope)
    with DefaultScope.overwrite_default_scope(scope):
        yield
