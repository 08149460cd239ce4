"""SADA (scale-aware box-level auto-augmentation): policy decoding, box alignment of the box-level
ops, boxes added by translation (clipped; empty ones dropped), the progress ramp, the configs."""

import numpy as np
import pytest

pytest.importorskip('mmdet')

from fw_damo_yolo.sada import (  # noqa: E402
    OFFICIAL_POLICY,
    SADA,
    color_op,
    decode_policy,
    geometric_op,
)


class _Sign:
    """rng stub: random() < 0.5 flips the op's direction."""

    def __init__(self, value):
        self.value = value

    def random(self, *a):
        return self.value


def _image(h=96, w=128, seed=0):
    return np.random.default_rng(seed).random((h, w, 3)).astype(np.float32)


def test_official_policy_decodes_by_hand():
    # vector[4:]: 5 x (colour idx mod 7, p*10, level, geometric idx mod 6, p*10, level) + tables
    subs, tables = decode_policy(OFFICIAL_POLICY)
    assert subs == [
        (('Color', 0.4, 2), ('translateX', 0.4, 4)),
        (('Brightness', 0.2, 4), ('rotate', 0.4, 2)),
        (('Sharpness', 0.4, 2), ('shearX', 0.2, 6)),
        (('SolarizeAdd', 0.2, 2), ('hflip', 0.5, 1)),
        (('Color', 0.0, 8), ('translateY', 0.2, 8)),
    ]
    assert tables == {'area': [7, 5, 1], 'prob': [3, 3, 3]}


@pytest.mark.parametrize('op', ['hflip', 'rotate', 'shearY'])
def test_geometric_ops_change_only_the_picked_box(op):
    img = _image()
    boxes = np.array([[10, 20, 42, 60], [70, 10, 110, 40]], np.float32)
    out, nb, nl = geometric_op(
        op, img, 6, boxes, np.array([0, 1]), np.array([True, False]), _Sign(0.9)
    )
    inside = np.zeros(img.shape[:2], bool)
    inside[20:60, 10:42] = True
    assert np.array_equal(out[~inside], img[~inside])  # nothing outside the picked box moves
    assert np.abs(out[inside] - img[inside]).max() > 0.1
    assert len(nb) == 0 and len(nl) == 0  # boxes of flip/rotate/shear are unchanged
    if op == 'hflip':  # Gaussian weight 1 at the crop centre: the mirrored pixel exactly
        cy, cx = 20 + 40 // 2, 10 + 32 // 2
        np.testing.assert_allclose(out[cy, cx], img[cy, 10 + 42 - 1 - cx], atol=1e-6)


def test_translation_copies_the_box_and_adds_an_aligned_box():
    img = _image()
    boxes = np.array([[40, 30, 60, 50]], np.float32)
    out, nb, nl = geometric_op(
        'translateX', img, 2, boxes, np.array([2]), np.array([True]), _Sign(0.9)
    )
    # level 2 -> 24 px to the right; the copy lands on the new box; the label is kept
    np.testing.assert_array_equal(nb, [[64, 30, 84, 50]])
    assert nl.tolist() == [2]
    np.testing.assert_allclose(out[40, 74], img[40, 50], atol=1e-6)  # centre pixel copied
    assert np.array_equal(out[30:50, 40:60], img[30:50, 40:60])  # the source stays
    outside = np.ones(img.shape[:2], bool)
    outside[30:50, 64:84] = False
    assert np.array_equal(out[outside], img[outside])


def _results(img, boxes, labels):
    from mmdet.structures.bbox import HorizontalBoxes

    return dict(
        img=(img * 255).round().astype(np.uint8),
        gt_bboxes=HorizontalBoxes(np.asarray(boxes, np.float32)),
        gt_bboxes_labels=np.asarray(labels, np.int64),
        gt_ignore_flags=np.zeros(len(boxes), bool),
    )


def _forced(colour, geometric):
    """A policy vector whose 5 sub-policies are all (colour, geometric) with probability 1,
    and whose size tables pick every small box (box_prob 1 x ratio 1)."""
    sub = [colour[0], 10, colour[1], geometric[0], 10, geometric[1]]
    return (0, 0, 0, 0, *(sub * 5), 1, 0, 0, 1, 0, 0)


def test_sada_translation_out_of_the_image_is_dropped():
    np.random.seed(0)
    # translateX (index 4) at level 4: 48 px; a box at the left border moved left is empty
    sada = SADA(policy=_forced((0, 0), (4, 4)), box_prob=1.0)
    sada.subpolicies = [((sada.subpolicies[0][0][0], 0.0, 0), sada.subpolicies[0][1])]
    counts = set()
    for _ in range(12):  # both directions occur
        res = sada(_results(_image(seed=1), [[0, 10, 12, 30]], [1]))
        b = res['gt_bboxes'].tensor.numpy()
        assert (b[:, 2] > b[:, 0]).all() and (b[:, 3] > b[:, 1]).all()  # no empty box
        assert b[:, 0].min() >= 0 and b[:, 2].max() <= 128
        assert len(res['gt_ignore_flags']) == len(b) == len(res['gt_bboxes_labels'])
        counts.add(len(b))
    assert counts == {1, 2}  # moved right: a second box; moved left: empty, dropped


def test_sada_colour_blend_is_centred_on_boxes():
    np.random.seed(0)
    sada = SADA(policy=_forced((5, 2), (0, 1)), box_prob=1.0)  # Brightness level 2 (factor 0.46)
    sada.subpolicies = [(sada.subpolicies[0][0], ('hflip', 0.0, 1))]
    img = _image(seed=2)
    res = sada(_results(img, [[50, 40, 60, 50]], [0]))
    src = (img * 255).round()
    out = res['img'].astype(np.float32)
    cy, cx = 45, 55
    expected = color_op('Brightness', src[cy, cx][None, None] / 255.0, 2)[0, 0] * 255
    np.testing.assert_allclose(out[cy, cx], expected, atol=1.0)  # full op at the box centre
    assert np.abs(out[:5, :5] - src[:5, :5]).max() <= 1.0  # far away: unchanged
    np.testing.assert_array_equal(res['gt_bboxes'].tensor.numpy(), [[50, 40, 60, 50]])


def test_sada_ramps_with_progress_and_stops():
    sada = SADA(max_iters=10, batch_size=2, num_workers=1)
    assert sada.progress() == 0.0
    sada.calls = 10
    assert sada.progress() == 0.5
    sada.calls = 21  # past the augmentation phase: the image is returned untouched
    res = _results(_image(), [[10, 10, 50, 50]], [0])
    img = res['img'].copy()
    assert np.array_equal(sada(res)['img'], img)
    # at progress 0 nothing fires either (probabilities p * 0)
    sada0 = SADA(policy=_forced((5, 9), (0, 1)), box_prob=1.0, max_iters=1000)
    assert np.array_equal(sada0(_results(_image(), [[10, 10, 50, 50]], [0]))['img'], img)


def test_coco_configs_use_sada_and_the_mode_switch_drops_it():
    from mmengine.config import Config

    from framework import config_path

    for name in ('t', 's', 'm', 'l'):
        cfg = Config.fromfile(str(config_path('damo_yolo', f'damo_yolo_{name}_300e_coco')))
        types = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
        assert types[-2:] == ['damo_yolo.SADA', 'PackDetInputs']
        assert types.index('RandomFlip') == len(types) - 3
        sada = cfg.train_dataloader.dataset.pipeline[-2]
        assert sada['max_iters'] == 284 * 459
        switch = [h for h in cfg.custom_hooks if h['type'] == 'YOLOXModeSwitchHook'][0]
        assert 'damo_yolo.SADA' in switch['skip_type_keys']
    shapes = Config.fromfile(str(config_path('damo_yolo', 'damo_yolo_t_shapes')))
    assert 'damo_yolo.SADA' not in [t['type'] for t in shapes.train_dataloader.dataset.pipeline]
