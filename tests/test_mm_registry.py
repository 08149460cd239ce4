"""framework.mm_registries: one helper makes a plugin's child registries under mmdet's and mmseg's.

A throw-away plugin 'fwprobe' declares a backbone and a transform; after ``mm_registries`` an
mmdet/mmseg config builds them by qualified name (also nested inside the toolkit's own builders),
fw's registries and the children hold the same objects, and mmengine's default scope is untouched.
"""

from __future__ import annotations

import pytest
import torch

from framework import FwError, mm_registries

PLUGIN = 'fwprobe'


class ProbeBackbone(torch.nn.Module):
    """A 1x1 conv backbone returning one feature map; ``width``: output channels."""

    def __init__(self, width=4):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, width, 1)

    def forward(self, x):
        return (self.conv(x),)


class ProbeTransform:
    """Marks the results dict; ``value``: what it writes under ``'probe'``."""

    def __init__(self, value=1):
        self.value = value

    def __call__(self, results):
        results['probe'] = self.value
        return results


def _entry(kind, name, attr):
    return {'kind': kind, 'name': name, 'import': f'{__name__}:{attr}'}


COMPONENTS = [
    _entry('backbone', 'ProbeBackbone', 'ProbeBackbone'),
    _entry('transform', 'ProbeTransform', 'ProbeTransform'),
    _entry('cache', 'ProbeCache', 'ProbeTransform'),
]


def _current_scope():
    from mmengine.registry import DefaultScope

    current = DefaultScope.get_current_instance()
    return None if current is None else current.scope_name


@pytest.mark.parametrize('toolkit', ['mmdet', 'mmseg'])
def test_children_under_toolkit_and_buildable_from_its_configs(toolkit):
    pytest.importorskip(toolkit)
    import importlib

    from mmcv.transforms import Compose

    from framework import mm_scope, registry_for_kind
    from framework.registry import register_manifest

    scope_before = _current_scope()
    register_manifest(PLUGIN, COMPONENTS)  # what `activate` does for an installed plugin
    regs = mm_registries(PLUGIN, toolkit, components=COMPONENTS)
    assert _current_scope() == scope_before  # the process-global default scope is untouched
    own = importlib.import_module(f'{toolkit}.registry')
    assert regs.scope == PLUGIN and regs.toolkit == toolkit
    assert regs.MODELS.parent is own.MODELS and own.MODELS._children[PLUGIN] is regs.MODELS
    assert regs.TRANSFORMS.parent is own.TRANSFORMS
    assert set(regs.nodes) >= {'MODELS', 'DATASETS', 'TRANSFORMS', 'METRICS', 'HOOKS', 'LOOPS'}
    # the same object in fw's registry and in the child; the cache kind has no mm node
    assert (
        registry_for_kind('backbone').get(f'{PLUGIN}.ProbeBackbone')
        is own.MODELS.get(f'{PLUGIN}.ProbeBackbone')
        is ProbeBackbone
    )
    assert 'ProbeCache' not in regs.MODELS.module_dict
    # an mm config: qualified plugin names beside the toolkit's own bare names
    with mm_scope(toolkit):
        from mmengine.registry import MODELS as ROOT

        net = ROOT.build(dict(type=f'{PLUGIN}.ProbeBackbone', width=3))
        pipeline = Compose([dict(type=f'{PLUGIN}.ProbeTransform', value=7)])
        assert pipeline({})['probe'] == 7
        # nested inside the toolkit's own model builder
        if toolkit == 'mmseg':
            seg = ROOT.build(
                dict(
                    type='EncoderDecoder',
                    backbone=dict(type=f'{PLUGIN}.ProbeBackbone', width=4),
                    decode_head=dict(
                        type='FCNHead',
                        in_channels=4,
                        channels=4,
                        num_convs=1,
                        num_classes=2,
                        in_index=0,
                    ),
                )
            )
            assert isinstance(seg.backbone, ProbeBackbone)
            assert seg._forward(torch.zeros(1, 3, 8, 8)).shape == (1, 2, 8, 8)
        else:
            det = ROOT.build(
                dict(
                    type='SingleStageDetector',
                    backbone=dict(type=f'{PLUGIN}.ProbeBackbone', width=4),
                    bbox_head=dict(
                        type='RetinaHead',
                        num_classes=2,
                        in_channels=4,
                        feat_channels=4,
                        stacked_convs=1,
                        anchor_generator=dict(
                            type='AnchorGenerator',
                            octave_base_scale=4,
                            scales_per_octave=1,
                            ratios=[1.0],
                            strides=[1],
                        ),
                        bbox_coder=dict(type='DeltaXYWHBBoxCoder'),
                    ),
                )
            )
            assert isinstance(det.backbone, ProbeBackbone)
            assert len(det._forward(torch.zeros(1, 3, 8, 8))) == 2
    assert isinstance(net, ProbeBackbone) and net.conv.out_channels == 3
    # idempotent: the same children, no clash for the same objects
    assert mm_registries(PLUGIN, toolkit, components=COMPONENTS) is regs


def test_a_different_object_under_a_registered_name_is_an_error():
    pytest.importorskip('mmdet')
    mm_registries(PLUGIN, 'mmdet', components=COMPONENTS)
    clash = [{'kind': 'backbone', 'name': 'ProbeBackbone', 'import': 'torch.nn:Identity'}]
    with pytest.raises(FwError, match='ProbeBackbone.*rename'):
        mm_registries(PLUGIN, 'mmdet', components=clash)


def test_bad_toolkit_and_reserved_names():
    with pytest.raises(FwError, match="unknown OpenMMLab toolkit 'mmfoo'"):
        mm_registries(PLUGIN, 'mmfoo', components=[])
    with pytest.raises(FwError, match="cannot be named 'mmdet'"):
        mm_registries('mmdet', 'mmdet', components=[])


def test_a_plugin_that_is_not_installed_needs_its_components():
    pytest.importorskip('mmdet')
    with pytest.raises(FwError, match="no installed plugin 'not_a_plugin'"):
        mm_registries('not_a_plugin', 'mmdet')
