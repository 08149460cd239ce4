"""The plugin's child registries under mmdet's (scope ``damo_yolo``), as mmyolo does.

Configs use ``default_scope='damo_yolo'``: mmengine's Runner then finds these children from its root
registries, our names resolve here and every mmdet name through the parent. Components are registered
from ``manifest.json`` (one source of truth with fw's static listing) by :func:`register_all`, which
also imports all of mmdet's modules (a parent's ``locations`` are not imported by a child lookup).
"""
import importlib
import json
import sys
import types
from pathlib import Path

import mmdet.registry as mmdet_registry
from mmengine.registry import Registry

SCOPE = "damo_yolo"
_NODES = ("RUNNERS", "RUNNER_CONSTRUCTORS", "LOOPS", "HOOKS", "DATASETS", "DATA_SAMPLERS", "TRANSFORMS",
          "MODELS", "MODEL_WRAPPERS", "WEIGHT_INITIALIZERS", "OPTIMIZERS", "OPTIM_WRAPPERS",
          "OPTIM_WRAPPER_CONSTRUCTORS", "PARAM_SCHEDULERS", "METRICS", "EVALUATOR", "TASK_UTILS",
          "VISUALIZERS", "VISBACKENDS", "LOG_PROCESSORS")


def _child(node):
    parent = getattr(mmdet_registry, node)
    existing = parent._children.get(SCOPE)
    if existing is not None:  # module re-imported (e.g. importlib test mode): reuse the node
        return existing
    return Registry(parent.name, parent=parent, scope=SCOPE)


for _n in _NODES:
    globals()[_n] = _child(_n)

# manifest kind -> mmdet registry node
KIND_TO_NODE = {"backbone": "MODELS", "neck": "MODELS", "head": "MODELS", "loss": "MODELS",
                "model": "MODELS", "transform": "TRANSFORMS", "hook": "HOOKS", "dataset": "DATASETS",
                "metric": "METRICS", "task_util": "TASK_UTILS"}

MANIFEST = Path(__file__).with_name("manifest.json")
_done = False


def load_object(spec):
    mod, _, attr = spec.partition(":")
    return getattr(importlib.import_module(mod), attr)


def register_all():
    """Import mmdet's modules and register every manifest component into our child registries.
    Idempotent. Returns {name: class}."""
    global _done
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    comps = json.loads(MANIFEST.read_text())["components"]
    out = {}
    for c in comps:
        reg = globals()[c.get("mm_registry") or KIND_TO_NODE[c["kind"]]]
        obj = load_object(c["import"])
        if reg._module_dict.get(c["name"]) is not obj:
            reg.register_module(name=c["name"], module=obj, force=True)
        out[c["name"]] = obj
    _done = True
    return out


register_all()

# mmengine imports ``<scope>.registry`` whenever it switches to a scope and warns when that fails.
# Our scope is 'damo_yolo' but the package is fw_damo_yolo: expose this module under that name too
# (only if no real 'damo_yolo' package is loaded).
if "damo_yolo" not in sys.modules:
    _alias = types.ModuleType("damo_yolo", "alias of fw_damo_yolo for mmengine's scope import")
    _alias.registry = sys.modules[__name__]
    sys.modules["damo_yolo"] = _alias
    sys.modules.setdefault("damo_yolo.registry", sys.modules[__name__])
