"""mmdet and mmseg at run time: import a toolkit, set its scope for one block, and give a plugin
child registries under the toolkit's, filled from its manifest.

The core does not depend on the OpenMMLab stack; the mm-based plugins do, and nothing here imports
it at module import time. Installing the stack is ``tools/install_openmmlab.sh``; checking it is
``fw doctor``. An mm-based plugin calls :func:`mm_registries` from its ``fw_register`` hook::

    @hookimpl
    def fw_register(registries):
        mm_registries('damo_yolo', 'mmdet')

Then, with ``default_scope='mmdet'``, ``type='damo_yolo.ZeroHead'`` resolves in the ``damo_yolo``
child of mmdet's ``MODELS`` (as mmyolo's children do), and bare names (``'CocoMetric'``) stay
mmdet's. The children hold the very objects of fw's registries; nothing here touches mmengine's
process-global default scope, and no module is faked in ``sys.modules``.
"""

from __future__ import annotations

import contextlib
import importlib
from types import SimpleNamespace
from typing import Iterable, Iterator

from .errors import FwError

TOOLKITS = ('mmdet', 'mmseg')
MM_KINDS = 'dataset transform metric hook loop task_util data_sampler optimizer optim_wrapper'
MM_KINDS += ' param_scheduler visualizer model_wrapper'
#: manifest kind -> registry node of ``<toolkit>.registry`` (kinds not named here have none)
KIND_TO_NODE = {kind: 'MODELS' for kind in ('backbone', 'neck', 'head', 'loss', 'model')}
KIND_TO_NODE |= {kind: f'{kind.upper()}S' for kind in MM_KINDS.split()}
KIND_TO_NODE['evaluator'] = 'EVALUATOR'
_made: dict[tuple[str, str], SimpleNamespace] = {}


def import_toolkit(scope: str) -> None:
    """Import all of mmdet's / mmseg's modules so their registries are complete; a missing or
    broken stack is one FwError with the cause and the fix. The default scope is left alone."""
    if scope not in TOOLKITS:
        raise FwError(f"unknown OpenMMLab toolkit '{scope}'; expected one of {', '.join(TOOLKITS)}")
    try:
        importlib.import_module(f'{scope}.utils').register_all_modules(init_default_scope=False)
    except ImportError as e:
        raise FwError(
            f'{scope} does not import ({type(e).__name__}: {e}); run `make openmmlab` '
            f'(tools/install_openmmlab.sh), then `fw doctor`'
        ) from e


@contextlib.contextmanager
def mm_scope(scope: str) -> Iterator[None]:
    """Within the block, mmengine's default scope is ``scope`` (``'mmdet'`` or ``'mmseg'``), so
    mmdet/mmseg builders resolve nested names (``type='ResNet'``) there; restored afterwards."""
    from mmengine.registry import DefaultScope

    import_toolkit(scope)
    with DefaultScope.overwrite_default_scope(scope):
        yield


def mm_registries(plugin: str, toolkit: str, components: Iterable[dict] | None = None):
    """Make (once) ``plugin``'s child registries under ``toolkit``'s and register its components.

    Args:
        plugin: the plugin name; it becomes the children's scope (``'damo_yolo'``).
        toolkit: ``'mmdet'`` or ``'mmseg'``; its modules are imported and registered first.
        components: manifest entries (``kind``, ``name``, ``import``); default: the installed
            plugin's ``manifest.json``. Kinds without a toolkit registry (``cache``) are skipped.

    Returns a namespace with ``scope``, ``toolkit``, ``nodes`` (node name -> child) and each node
    as an attribute (``regs.MODELS``). Calling it again returns the same children (adding
    ``components`` when given); the same object under a name twice is a no-op, another an error.
    """
    from mmengine.registry import Registry

    from . import plugins
    from .registry import Entry

    if plugin in TOOLKITS or plugin == 'mmengine':
        raise FwError(f"a plugin cannot be named '{plugin}': that scope belongs to OpenMMLab")
    made = _made.get((plugin, toolkit))
    if made is not None and components is None:
        return made  # the installed manifest was registered when the children were made
    if made is None:
        import_toolkit(toolkit)
        parents = vars(importlib.import_module(f'{toolkit}.registry'))
        nodes = {
            name: reg._children.get(plugin) or Registry(reg.name, parent=reg, scope=plugin)
            for name, reg in parents.items()
            if isinstance(reg, Registry) and reg.scope == toolkit
        }
        made = _made[plugin, toolkit] = SimpleNamespace(
            scope=plugin, toolkit=toolkit, nodes=nodes, **nodes
        )
    if components is None:
        record = plugins.discover().get(plugin)
        if record is None:
            raise FwError(f"no installed plugin '{plugin}'; pass components= (manifest entries)")
        components = record.manifest.get('components', [])
    for comp in components:
        if comp['kind'] not in KIND_TO_NODE:
            continue
        obj = Entry(plugin, comp['name'], comp['kind'], target=comp['import']).load()
        child = made.nodes[KIND_TO_NODE[comp['kind']]]
        old = child._module_dict.get(comp['name'])
        if old is None:
            child.register_module(name=comp['name'], module=obj)
        elif old is not obj:
            raise FwError(
                f"{toolkit} registry {child.name} of {plugin} already holds '{comp['name']}' from "
                f'{old.__module__}; the manifest now names {comp["import"]}: rename one of them'
            )
    return made
