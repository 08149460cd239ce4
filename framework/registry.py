"""fw's registries: mmengine ``Registry`` objects with fw's naming rules.

Every registry here is a child (scope ``fw``) of the mmengine root registry of the same kind, so
mmengine's Runner builds from it when a config says ``default_scope='fw'`` and everything mmengine
registers (``SGD``, ``CheckpointHook``, ...) stays visible through the parent. On top of that:

* a plugin component is canonical as ``<plugin>.<Name>``; the bare ``Name`` works while unique;
* registering the same object twice is a no-op; two objects under one name is an error naming both;
* a miss raises :class:`~framework.errors.RegistryError` with close names (difflib) and the plugins
  and scopes that were searched;
* plugin components are registered lazily from their manifest (``module:attr`` import paths) and
  imported only when built, so listing never imports torch.

Lookups never consult mmengine's process-global default scope: qualified names are resolved here.
"""

from __future__ import annotations

import difflib
import pkgutil
from dataclasses import dataclass
from typing import Any, Iterable

from mmengine import registry as mm

from .errors import RegistryError


@dataclass
class Entry:
    """One registered component: where it comes from and, once imported, the object."""

    plugin: str
    name: str
    kind: str
    target: str = ''  # "package.module:attr" for lazy entries
    obj: Any = None
    summary: str = ''

    @property
    def qualname(self) -> str:
        return f'{self.plugin}.{self.name}'

    @property
    def origin(self) -> str:
        obj = self.obj
        return self.target or f'{obj.__module__}:{getattr(obj, "__qualname__", repr(obj))}'

    def load(self) -> Any:
        if self.obj is None:
            try:
                self.obj = pkgutil.resolve_name(self.target)
            except (ImportError, AttributeError, ValueError) as e:
                raise RegistryError(
                    f"{self.kind} '{self.qualname}' is declared in plugin {self.plugin}'s manifest "
                    f"as '{self.target}', which does not import ({type(e).__name__}: {e}); fix the "
                    f"'import' field of that entry in fw_{self.plugin}/manifest.json"
                ) from e
        return self.obj


class FwRegistry(mm.Registry):
    """An mmengine registry with qualified plugin names, lazy entries and helpful misses.

    ``entries`` may be shared: the model-like registries (models, backbones, necks, heads, losses)
    use one table, so a backbone is buildable from MODELS as mmdet/mmseg configs expect."""

    def __init__(self, name, parent=None, scope='fw', kind=None, entries=None):
        super().__init__(name, parent=parent, scope=scope)
        self.kind = kind or name
        self._fw_entries: dict[str, Entry] = {} if entries is None else entries

    def add(self, entry: Entry) -> Entry:
        """Add ``entry``; the same object (or import path) twice is a no-op, a clash an error."""
        old = self._fw_entries.setdefault(entry.qualname, entry)
        if old is entry:
            return entry
        both_lazy = old.target and entry.target
        if old.target == entry.target if both_lazy else old.load() is entry.load():
            return old
        raise RegistryError(
            f"{self.kind} name '{entry.qualname}' is registered twice with different objects: "
            f'first {old.origin}, then {entry.origin}; rename one of them'
        )

    def add_lazy(self, plugin: str, name: str, target: str, summary: str = '') -> Entry:
        return self.add(Entry(plugin, name, self.kind, target=target, summary=summary))

    def _register_module(self, module, module_name=None, force=False) -> None:
        """mmengine's registration path (``@REG.register_module()``), with fw's clash rules."""
        names = module_name if module_name is not None else module.__name__
        top = getattr(module, '__module__', '').split('.')[0]  # fw_amcl.loss: plugin amcl
        for name in [names] if isinstance(names, str) else names:
            plugin, _, bare = name.rpartition('.')
            plugin = plugin or (top[3:] if top.startswith('fw_') else top or 'user')
            entry = Entry(plugin, bare, self.kind, obj=module)
            if force:
                self._fw_entries[entry.qualname] = entry
            else:
                self.add(entry)

    def entries(self, kind: str | None = None) -> list[Entry]:
        return [e for e in self._fw_entries.values() if kind is None or e.kind == kind]

    def get(self, key: str) -> Any:
        if not isinstance(key, str):
            return super().get(key)
        matches = [self._fw_entries[key]] if key in self._fw_entries else []
        if not matches and '.' not in key:
            matches = [e for e in self._fw_entries.values() if e.name == key]
            own = [e for e in matches if e.kind == self.kind]
            matches = own if len(own) == 1 else matches  # a backbone and a model may share a name
        if len(matches) > 1:
            raise RegistryError(
                f"'{key}' is ambiguous in the {self.kind} registry: it is "
                f'{", ".join(sorted(e.qualname for e in matches))}; write the qualified name'
            )
        obj = matches[0].load() if matches else super().get(key)
        if obj is None:
            raise RegistryError(self._miss_message(key))
        return obj

    def build(self, cfg: dict, *args, **kwargs) -> Any:
        """Build ``cfg``; the type is resolved here, so mmengine's global default scope (which
        its ``build_from_cfg`` consults to pick a registry) cannot send the lookup elsewhere."""
        if isinstance(cfg, dict) and isinstance(cfg.get('type'), str):
            cfg = type(cfg)(cfg)  # keep ConfigDict if given
            cfg['type'] = self.get(cfg['type'])
        return super().build(cfg, *args, **kwargs)

    def __contains__(self, key: str) -> bool:
        try:
            return self.get(key) is not None
        except (RegistryError, RuntimeError):
            return False

    def _miss_message(self, key: str) -> str:
        known, scopes, reg = set(), [], self
        for e in self._fw_entries.values():
            known.update((e.qualname, e.name))
        while reg is not None:
            known.update(reg.module_dict)
            scopes.append(f'{reg.scope}:{reg.name}')
            reg = reg.parent
        close = difflib.get_close_matches(key, sorted(known), n=3, cutoff=0.6)
        if not close and '.' in key:
            close = difflib.get_close_matches(key.rpartition('.')[2], sorted(known), n=3)
        plugins = sorted({e.plugin for e in self._fw_entries.values()}) or ['none']
        hint = f'; close: {", ".join(repr(c) for c in close)}' if close else ''
        return (
            f"no {self.kind} '{key}' in fw's registries{hint} (searched plugins: "
            f'{", ".join(plugins)}; scopes: {", ".join(scopes)}); '
            f'`fw list {self.kind}` shows what is registered'
        )


def _child(root: mm.Registry, kind: str) -> FwRegistry:
    return FwRegistry(root.name, parent=root, scope='fw', kind=kind)


def _model_part(kind: str) -> FwRegistry:
    return FwRegistry(kind, MODELS, f'fw-{kind}', kind, entries=MODELS._fw_entries)


MODELS = _child(mm.MODELS, 'model')
BACKBONES = _model_part('backbone')
NECKS = _model_part('neck')
HEADS = _model_part('head')
LOSSES = _model_part('loss')
CACHES = FwRegistry('cache', scope='fw', kind='cache')  # KV caches: no mmengine counterpart
DATASETS = _child(mm.DATASETS, 'dataset')
METRICS = _child(mm.METRICS, 'metric')
TRANSFORMS = _child(mm.TRANSFORMS, 'transform')
HOOKS = _child(mm.HOOKS, 'hook')
# The rest of what mmengine's Runner builds, so that default_scope='fw' resolves every type here.
RUNNERS = _child(mm.RUNNERS, 'runner')
LOOPS = _child(mm.LOOPS, 'loop')
DATA_SAMPLERS = _child(mm.DATA_SAMPLERS, 'data_sampler')
MODEL_WRAPPERS = _child(mm.MODEL_WRAPPERS, 'model_wrapper')
WEIGHT_INITIALIZERS = _child(mm.WEIGHT_INITIALIZERS, 'weight_initializer')
OPTIMIZERS = _child(mm.OPTIMIZERS, 'optimizer')
OPTIM_WRAPPERS = _child(mm.OPTIM_WRAPPERS, 'optim_wrapper')
OPTIM_WRAPPER_CONSTRUCTORS = _child(mm.OPTIM_WRAPPER_CONSTRUCTORS, 'optim_wrapper_constructor')
PARAM_SCHEDULERS = _child(mm.PARAM_SCHEDULERS, 'param_scheduler')
EVALUATOR = _child(mm.EVALUATOR, 'evaluator')
TASK_UTILS = _child(mm.TASK_UTILS, 'task_util')
VISUALIZERS = _child(mm.VISUALIZERS, 'visualizer')
VISBACKENDS = _child(mm.VISBACKENDS, 'vis_backend')
LOG_PROCESSORS = _child(mm.LOG_PROCESSORS, 'log_processor')
FUNCTIONS = _child(mm.FUNCTIONS, 'function')

# manifest kind -> registry (the kinds of framework.manifest.KNOWN_KINDS)
KINDS: dict[str, FwRegistry] = {
    reg.kind: reg
    for reg in [BACKBONES, NECKS, HEADS, LOSSES, CACHES, MODELS, DATASETS, METRICS, TRANSFORMS]
    + [HOOKS, LOOPS, DATA_SAMPLERS, OPTIMIZERS, OPTIM_WRAPPERS, PARAM_SCHEDULERS, EVALUATOR]
    + [TASK_UTILS, VISUALIZERS, FUNCTIONS, MODEL_WRAPPERS]
}


def registry_for_kind(kind: str) -> FwRegistry:
    key = kind[:-1] if kind.endswith('s') and kind[:-1] in KINDS else kind
    if key not in KINDS:
        close = difflib.get_close_matches(key, list(KINDS), n=3)
        hint = f'; close: {", ".join(close)}' if close else ''
        raise RegistryError(f"unknown component kind '{kind}'{hint}; kinds are: {', '.join(KINDS)}")
    return KINDS[key]


def register_manifest(plugin: str, components: Iterable[dict]) -> list[Entry]:
    """Register a plugin's manifest components lazily (imported when first built)."""
    return [
        registry_for_kind(c['kind']).add_lazy(plugin, c['name'], c['import'], c.get('summary', ''))
        for c in components
    ]
