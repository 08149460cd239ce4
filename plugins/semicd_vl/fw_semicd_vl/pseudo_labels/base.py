"""The pseudo-label generator interface (source (b)): wrap any open-vocabulary segmenter."""
from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import FwError

DEFAULT_PROMPTS = ('house', 'building', 'road', 'grass', 'tree', 'water')
DEFAULT_FOREGROUND = (0, 1)


@dataclass
class VLMOutput:
    """probs: float32[K,H,W] class probabilities in prompt order; instances: (mask bool[H,W], k, score)."""
    probs: np.ndarray
    instances: list = field(default_factory=list)


@runtime_checkable
class PseudoLabelGenerator(Protocol):
    """Implement this around your segmenter (APE, Grounded-SAM, ...). Example::

        class MySeg:
            prompts = ('house', 'building', 'road', 'grass', 'tree', 'water')
            foreground = (0, 1)
            def __call__(self, image_rgb):            # H×W×3 uint8
                probs, inst = run_my_model(image_rgb)   # K×H×W, [(mask, k, score), ...]
                return VLMOutput(probs.astype('float32'), inst)

    Set ``wants_meta = True`` to receive ``meta={'id': ..., 'date': 'A'|'B', 'data_root': ...}``.
    """
    prompts: tuple
    foreground: tuple

    def __call__(self, image_rgb: np.ndarray) -> VLMOutput: ...


_GENERATORS = {}


def register_generator(name, cls):
    """Register in PSEUDO_LABEL_GENERATORS (also mirrored in the mmengine child registry when built)."""
    if name in _GENERATORS and _GENERATORS[name] is not cls:
        raise FwError(f'pseudo-label generator {name!r} already registered by {_GENERATORS[name]!r}')
    _GENERATORS[name] = cls
    return cls


PSEUDO_LABEL_GENERATORS = _GENERATORS


def load_generator(spec, args=None):
    """``spec``: a registered name or ``pkg.mod:Class``; ``args``: dict or JSON string of kwargs."""
    if isinstance(args, str):
        args = json.loads(args) if args else {}
    args = args or {}
    if spec in _GENERATORS:
        cls = _GENERATORS[spec]
    elif ':' in spec:
        mod, _, name = spec.partition(':')
        try:
            cls = getattr(importlib.import_module(mod), name)
        except (ImportError, AttributeError) as e:
            raise FwError(f'cannot import generator {spec!r}: {e}') from e
    else:
        raise FwError(f'unknown generator {spec!r}; give pkg.mod:Class or one of {sorted(_GENERATORS)}')
    gen = cls(**args)
    for attr in ('prompts', 'foreground'):
        if not hasattr(gen, attr):
            raise FwError(f'generator {spec!r} has no `{attr}` attribute (see PseudoLabelGenerator)')
    return gen
