"""fw: a small PyTorch framework for research on learned projections.

The core defines registries (:mod:`framework.registry`), a plugin contract
(:mod:`framework.hookspecs`) and the ``fw`` command line (:mod:`framework.cli`); every research
method is a plugin. Importing this package is cheap: the public names below are resolved on first
use, so ``import framework`` imports neither torch nor mmengine.

The public plugin API (plugins import only these names, and ``framework.llm`` for LLM code)::

    from framework import hookimpl, FwError
    from framework import BACKBONES, NECKS, HEADS, LOSSES, CACHES, MODELS, DATASETS, METRICS
    from framework import activate, get_plugin, config_path      # plugins and their configs
    from framework import load_config, resolve_config, build_runner
    from framework import load_checkpoint, latest_checkpoint, trusted_checkpoints
    from framework import mm_scope, mm_registries                # mmdet/mmseg plugins
    from framework import load_mnist5k, load_sklearn_digits, load_cifar   # offline data sets
"""

from __future__ import annotations

import pkgutil

__version__ = '0.1.0'

_REGISTRIES = (
    'MODELS BACKBONES NECKS HEADS LOSSES CACHES DATASETS METRICS TRANSFORMS HOOKS RUNNERS LOOPS '
    'DATA_SAMPLERS MODEL_WRAPPERS WEIGHT_INITIALIZERS OPTIMIZERS OPTIM_WRAPPERS '
    'OPTIM_WRAPPER_CONSTRUCTORS PARAM_SCHEDULERS EVALUATOR TASK_UTILS VISUALIZERS VISBACKENDS '
    'LOG_PROCESSORS FUNCTIONS'
).split()

#: public name -> ``module:attribute`` it is resolved from on first use
PUBLIC_API: dict[str, str] = {
    'hookimpl': 'framework.hookspecs:hookimpl',
    'FwError': 'framework.errors:FwError',
    'RegistryError': 'framework.errors:RegistryError',
    'registry_for_kind': 'framework.registry:registry_for_kind',
    'activate': 'framework.plugins:activate',
    'get_plugin': 'framework.plugins:get',
    'config_path': 'framework.plugins:config_path',
    'load_config': 'framework.train:load_config',
    'resolve_config': 'framework.plugins:config_path',
    'build_runner': 'framework.train:build_runner',
    'load_checkpoint': 'framework.checkpoint:load_local',
    'latest_checkpoint': 'framework.checkpoint:latest_checkpoint',
    'atomic_replace': 'framework.checkpoint:atomic_replace',
    'trusted_checkpoints': 'framework.checkpoint:trusted',
    'is_trusted_checkpoint': 'framework.checkpoint:is_trusted',
    'mm_scope': 'framework.openmmlab:mm_scope',
    'import_toolkit': 'framework.openmmlab:import_toolkit',
    'mm_registries': 'framework.openmmlab:mm_registries',
    'load_mnist5k': 'framework.data:load_mnist5k',
    'load_sklearn_digits': 'framework.data:load_sklearn_digits',
    'load_cifar': 'framework.data:load_cifar',
    **{name: f'framework.registry:{name}' for name in _REGISTRIES},
}

__all__ = ['__version__', *PUBLIC_API]


def __getattr__(name: str):
    target = PUBLIC_API.get(name)
    if target is None:
        raise AttributeError(f"module 'framework' has no attribute '{name}'")
    value = pkgutil.resolve_name(target)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
