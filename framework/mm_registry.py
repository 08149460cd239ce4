"""A plugin's child registries under mmdet's or mmseg's, filled from its manifest.

mmdet and mmseg keep one mmengine registry per kind of object in ``<toolkit>.registry``
(``MODELS``, ``DATASETS``, ``TRANSFORMS``, ``METRICS``, ``HOOKS``, ``LOOPS``, ``TASK_UTILS``, ...).
An mm-based plugin gets one child of each, scoped by the plugin's name (as mmyolo does under
mmdet), and every component of its manifest is registered in the child of its kind. The plugin
calls this from its ``fw_register`` hook::

    from framework import mm_registries

    @hookimpl
    def fw_register(registries):
        mm_registries('damo_yolo', 'mmdet')

Then an mmdet/mmseg config builds the plugin's components by their qualified name, the same
string fw's registries know them by: with ``default_scope='mmdet'``, ``type='damo_yolo.ZeroHead'``
resolves in the ``damo_yolo`` child of mmdet's ``MODELS``, and bare names (``'CocoMetric'``) stay
mmdet's. The children hold the very objects of fw's registries. Nothing here touches mmengine's
process-global default scope, and no module is faked in ``sys.modules``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Iterable

from .errors import FwError

__all__ = ['TOOLKITS', 'KIND_TO_NODE', 'MMRegistries', 'mm_registries']

TOOLKITS = ('mmdet', 'mmseg')

#: manifest kind -> name of the registry node in ``<toolkit>.registry`` (caches have none)
KIND_TO_NODE = {
    'backbone': 'MODELS',
    'neck': 'MODELS',
    'head': 'MODELS',
    'loss': 'MODELS',
    'model': 'MODELS',
    'dataset': 'DATASETS',
    'transform': 'TRANSFORMS',
    'metric': 'METRICS',
    'hook': 'HOOKS',
    'loop': 'LOOPS',
    'task_util': 'TASK_UTILS',
    'data_sampler': 'DATA_SAMPLERS',
    'optimizer': 'OPTIMIZERS',
    'optim_wrapper': 'OPTIM_WRAPPERS',
    'param_scheduler': 'PARAM_SCHEDULERS',
    'evaluator': 'EVALUATOR',
    'visualizer': 'VISUALIZERS',
    'model_wrapper': 'MODEL_WRAPPERS',
}


@dataclass
class MMRegistries:
    """One plugin's children of a toolkit's registries.

    ``scope`` is the plugin name, ``toolkit`` ``'mmdet'`` or ``'mmseg'``, ``nodes`` maps a node
    name (``'MODELS'``) to the child registry; nodes are also attributes (``regs.MODELS``).
    """

    scope: str
    toolkit: str
    nodes: dict = field(default_factory=dict)

    def __getattr__(self, name: str):
        nodes = self.__dict__.get('nodes', {})
        if name in nodes:
            return nodes[name]
        raise AttributeError(
            f"{self.toolkit} has no registry node '{name}'; nodes: {', '.join(sorted(nodes))}"
        )

    def for_kind(self, kind: str):
        """The child registry that holds components of manifest ``kind``."""
        if kind not in KIND_TO_NODE:
            raise FwError(
                f"manifest kind '{kind}' has no {self.toolkit} registry; kinds with "
                f'one: {", ".join(KIND_TO_NODE)}'
            )
        return self.nodes[KIND_TO_NODE[kind]]


_made: dict[tuple[str, str], MMRegistries] = {}


def _toolkit_nodes(toolkit: str) -> dict:
    """The toolkit's own registry nodes, with all of its modules registered in them."""
    from mmengine.registry import Registry

    if toolkit not in TOOLKITS:
        raise FwError(
            f"unknown OpenMMLab toolkit '{toolkit}'; expected one of {', '.join(TOOLKITS)}"
        )
    try:
        module = importlib.import_module(f'{toolkit}.registry')
        importlib.import_module(f'{toolkit}.utils').register_all_modules(init_default_scope=False)
    except ImportError as e:
        raise FwError(
            f'{toolkit} does not import ({type(e).__name__}: {e}); run `make openmmlab` '
            f'(tools/install_openmmlab.sh), then `fw doctor`'
        ) from e
    return {
        name: reg
        for name, reg in vars(module).items()
        if isinstance(reg, Registry) and reg.scope == toolkit
    }


def _components(plugin: str) -> list[dict]:
    from . import plugins

    record = plugins.discover().get(plugin)
    if record is None:
        raise FwError(
            f"no installed plugin '{plugin}' to make {plugin} registries for; pass "
            f'components= (the manifest entries) for a plugin that is not installed'
        )
    return list(record.manifest.get('components', []))


def mm_registries(
    plugin: str, toolkit: str, components: Iterable[dict] | None = None
) -> MMRegistries:
    """Make (once) ``plugin``'s child registries under ``toolkit``'s and register its components.

    Args:
        plugin: the plugin name; it becomes the children's scope (``'damo_yolo'``).
        toolkit: ``'mmdet'`` or ``'mmseg'``; its modules are imported and registered first.
        components: manifest entries (``kind``, ``name``, ``import``); default: the installed
            plugin's ``manifest.json``. Kinds without a toolkit registry (``cache``) are skipped.

    Calling it again returns the same children (and adds ``components`` when given); the same
    object under the same name is a no-op, a different one an error naming both. Plugin code
    builds its nested parts through these children, as mmdet/mmseg models do through theirs.
    """
    from .registry import Entry

    if plugin in TOOLKITS or plugin == 'mmengine':
        raise FwError(f"a plugin cannot be named '{plugin}': that scope belongs to OpenMMLab")
    made = _made.get((plugin, toolkit))
    if made is not None and components is None:
        return made  # the installed manifest was registered when the children were made
    if made is None:
        nodes = {}
        for name, parent in _toolkit_nodes(toolkit).items():
            nodes[name] = _child(parent, plugin)
        made = _made[(plugin, toolkit)] = MMRegistries(plugin, toolkit, nodes)
    for comp in _components(plugin) if components is None else components:
        if comp['kind'] not in KIND_TO_NODE:
            continue
        obj = Entry(plugin, comp['name'], comp['kind'], target=comp['import']).load()
        child = made.for_kind(comp['kind'])
        old = child._module_dict.get(comp['name'])
        if old is None:
            child.register_module(name=comp['name'], module=obj)
        elif old is not obj:
            raise FwError(
                f'{toolkit} registry {child.name} of {plugin} already holds '
                f"'{comp['name']}' from {old.__module__}; the manifest now names "
                f'{comp["import"]}: rename one of them'
            )
    return made


def _child(parent, scope: str):
    from mmengine.registry import Registry

    existing = parent._children.get(scope)
    return existing if existing is not None else Registry(parent.name, parent=parent, scope=scope)
