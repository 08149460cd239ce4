"""The pseudo-label generator interface: wrap any open-vocabulary segmenter (the paper uses APE).

SemiCD-VL's VLM labels are produced offline: a generator segments both dates into the prompt
classes, change event generation (:mod:`fw_semicd_vl.ceg`) turns the two outputs into building
maps and a change map, and training reads those from disk (:mod:`fw_semicd_vl.pseudo_labels`).
"""

from __future__ import annotations

import json
import pkgutil
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from framework import FwError

DEFAULT_PROMPTS = ('house', 'building', 'road', 'grass', 'tree', 'water')
DEFAULT_FOREGROUND = (0, 1)


@dataclass
class VLMOutput:
    """probs: float32[K,H,W] class probabilities in prompt order; instances: (mask bool[H,W], k,
    score)."""

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


def load_generator(spec, args=None):
    """The generator ``spec`` (``'pkg.mod:Class'``) built with ``args`` (dict or JSON string).

    The toy oracle is ``'fw_semicd_vl.oracle:SyntheticOracleGenerator'``.
    """
    if isinstance(args, str):
        args = json.loads(args) if args else {}
    if ':' not in spec:
        raise FwError(
            f"generator {spec!r}: give 'pkg.module:Class', e.g. "
            "'fw_semicd_vl.oracle:SyntheticOracleGenerator' (toy data only)"
        )
    try:
        cls = pkgutil.resolve_name(spec)
    except (ImportError, AttributeError, ValueError) as e:
        raise FwError(f'cannot import generator {spec!r}: {e}') from e
    args = args or {}
    gen = cls(**args)
    for attr in ('prompts', 'foreground'):
        if not hasattr(gen, attr):
            raise FwError(
                f'generator {spec!r} has no `{attr}` attribute (see PseudoLabelGenerator)'
            )
    return gen
