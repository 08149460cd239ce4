"""Child registries of mmseg's (mmengine's when mmseg is absent), scope ``semicd_vl``.

Components are registered here explicitly (no decorators): ``register_all()`` runs on import. The fw core
additionally registers the manifest entries as ``semicd_vl.<Name>`` in its own registries.
"""
from __future__ import annotations

from mmengine.registry import Registry

try:  # mmseg 1.x parents when the OpenMMLab stack imports
    from mmseg.registry import DATASETS as _P_DATASETS, METRICS as _P_METRICS, MODELS as _P_MODELS
    from mmseg.registry import TRANSFORMS as _P_TRANSFORMS, HOOKS as _P_HOOKS, LOOPS as _P_LOOPS
    MMSEG_PARENT = True
except Exception:  # noqa: BLE001 - mmcv/mmseg not installed or mmcv._ext missing
    from mmengine.registry import DATASETS as _P_DATASETS, METRICS as _P_METRICS, MODELS as _P_MODELS
    from mmengine.registry import TRANSFORMS as _P_TRANSFORMS, HOOKS as _P_HOOKS, LOOPS as _P_LOOPS
    MMSEG_PARENT = False

SCOPE = 'semicd_vl'
MODELS = Registry('model', parent=_P_MODELS, scope=SCOPE)
DATASETS = Registry('dataset', parent=_P_DATASETS, scope=SCOPE)
TRANSFORMS = Registry('transform', parent=_P_TRANSFORMS, scope=SCOPE)
METRICS = Registry('metric', parent=_P_METRICS, scope=SCOPE)
HOOKS = Registry('hook', parent=_P_HOOKS, scope=SCOPE)
LOOPS = Registry('loop', parent=_P_LOOPS, scope=SCOPE)


def components():
    """(registry, name, class) for every component; mirrors manifest.json."""
    from .datasets import transforms as T
    from .datasets.bitemporal import BiTemporalCDDataset
    from .engine.semi_loop import SemiIterBasedTrainLoop
    from .evaluation.cd_metric import ChangeDetectionMetric
    from .models.light_head import LightHead
    from .models.losses import BCLLoss
    from .models.resnet_lite import ResNetV1cLite
    from .models.segmentor import SemiCDVL
    out = [(MODELS, 'SemiCDVL', SemiCDVL), (MODELS, 'LightHead', LightHead), (MODELS, 'BCLLoss', BCLLoss),
           (MODELS, 'ResNetV1cLite', ResNetV1cLite),
           (DATASETS, 'BiTemporalCDDataset', BiTemporalCDDataset),
           (METRICS, 'ChangeDetectionMetric', ChangeDetectionMetric),
           (LOOPS, 'SemiIterBasedTrainLoop', SemiIterBasedTrainLoop)]
    out += [(TRANSFORMS, c.__name__, c) for c in T.TRANSFORM_CLASSES]
    return out


def register_all():
    for reg, name, cls in components():
        if reg._module_dict.get(name) is not cls:
            reg.register_module(name=name, module=cls, force=True)
    from .pseudo_labels.base import register_generator
    from .pseudo_labels.oracle import SyntheticOracleGenerator
    register_generator('SyntheticOracleGenerator', SyntheticOracleGenerator)


register_all()
