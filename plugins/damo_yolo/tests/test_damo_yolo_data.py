"""Shapes COCO generator, loader and DAMO transforms."""

import json
import logging
import types

import numpy as np
import pytest

from fw_damo_yolo.data import CLASSES, make_shapes_coco


@pytest.fixture(scope='module')
def shapes_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('shapes')
    make_shapes_coco(str(root), n_train=12, n_val=4, size=96, seed=0)
    return root


def test_exact_coco_json(shapes_root):
    from pycocotools.coco import COCO

    d = json.loads((shapes_root / 'annotations' / 'instances_train.json').read_text())
    assert set(d) >= {'images', 'annotations', 'categories', 'info', 'licenses'}
    assert [c['name'] for c in d['categories']] == list(CLASSES)
    ids = [a['id'] for a in d['annotations']]
    assert len(set(ids)) == len(ids) and min(ids) == 1
    for a in d['annotations']:
        x, y, w, h = a['bbox']
        img = d['images'][a['image_id'] - 1]
        assert 0 <= x and 0 <= y and x + w <= img['width'] + 1e-6 and y + h <= img['height'] + 1e-6
        assert a['area'] > 0 and a['category_id'] in (1, 2, 3)
        if a['iscrowd']:
            assert set(a['segmentation']) == {'counts', 'size'}
        else:
            assert len(a['segmentation'][0]) >= 6
    for img in d['images']:
        assert (shapes_root / 'train' / img['file_name']).is_file()
    # edge cases: empty image, crowd, tiny box, border box, non-square image
    per_img = {
        i['id']: [a for a in d['annotations'] if a['image_id'] == i['id']] for i in d['images']
    }
    assert per_img[1] == []
    assert any(a['iscrowd'] for a in per_img[2])
    assert any(a['bbox'][2] < 2 and a['bbox'][3] < 2 for a in per_img[3])
    assert any(a['bbox'][0] == 0 for a in per_img[4])
    assert d['images'][4]['height'] != d['images'][4]['width']
    coco = COCO(str(shapes_root / 'annotations' / 'instances_train.json'))  # pycocotools reads it
    assert len(coco.getImgIds()) == 12
    mask = coco.annToMask([a for a in per_img[2] if a['iscrowd']][0])
    assert mask.sum() > 0


def test_deterministic(tmp_path):
    a = make_shapes_coco(str(tmp_path / 'a'), 3, 2, 64, seed=5)
    b = make_shapes_coco(str(tmp_path / 'b'), 3, 2, 64, seed=5)
    assert open(a['train']).read() == open(b['train']).read()


def _dataset(root, pipeline, split='train'):
    pytest.importorskip('mmdet')
    from mmdet.registry import DATASETS

    from framework import mm_scope

    with mm_scope('mmdet'):  # as an mmdet config: the plugin's names qualified
        return DATASETS.build(
            dict(
                type='damo_yolo.ShapesCocoDataset',
                data_root=str(root) + '/',
                ann_file=f'annotations/instances_{split}.json',
                data_prefix=dict(img=f'{split}/'),
                metainfo=dict(classes=CLASSES),
                filter_cfg=dict(filter_empty_gt=False, min_size=0),
                pipeline=pipeline,
            )
        )


def test_pipeline_edge_cases(shapes_root):
    from framework import mm_scope

    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(
            type='damo_yolo.RandomAffineDAMO',
            max_rotate_degree=0.0,
            max_translate_ratio=0.0,
            scaling_ratio_range=(1.0, 1.0),
            max_shear_degree=0.0,
        ),
        dict(type='Resize', scale=(128, 128), keep_ratio=False),
        dict(type='PackDetInputs'),
    ]
    ds = _dataset(shapes_root, pipeline)
    assert len(ds) == 12  # the empty image is kept
    with mm_scope('mmdet'):
        samples = [ds[i] for i in range(6)]
    empty, crowd, tiny, border, nonsq = (samples[i]['data_samples'] for i in range(5))
    assert len(empty.gt_instances) == 0
    raw = json.loads((shapes_root / 'annotations' / 'instances_train.json').read_text())[
        'annotations'
    ]
    n_img2 = sum(1 for a in raw if a['image_id'] == 2 and not a['iscrowd'])
    assert (
        len(crowd.gt_instances) == n_img2 and len(crowd.ignored_instances) == 1
    )  # crowd -> ignored
    n_img3 = sum(1 for a in raw if a['image_id'] == 3)
    assert len(tiny.gt_instances) == n_img3 - 1  # the < 2 px box is dropped by RandomAffineDAMO
    assert len(border.gt_instances) >= 1
    for s in samples:
        b = s['data_samples'].gt_instances.bboxes.tensor
        assert s['inputs'].shape[1:] == (128, 128)
        assert (b >= 0).all() and (b <= 128).all()
    assert nonsq.ori_shape[0] != nonsq.ori_shape[1]


def test_box_candidates():
    from fw_damo_yolo.transforms import box_candidates

    before = np.array(
        [[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 1.5, 1.5]], np.float32
    )
    after = np.array([[0, 0, 10, 10], [0, 0, 1, 10], [0, 0, 100, 3], [0, 0, 1.5, 1.5]], np.float32)
    assert box_candidates(before, after, 1.0).tolist() == [True, False, False, False]


def test_mixup_prob_and_mode_switch(shapes_root):
    pytest.importorskip('mmdet')
    from mmdet.engine.hooks import YOLOXModeSwitchHook
    from mmdet.registry import DATASETS

    from framework import mm_scope

    load = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True)]
    mix_pipeline = [
        dict(type='Mosaic', img_scale=(96, 96), pad_val=114.0),
        dict(type='damo_yolo.RandomAffineDAMO', scaling_ratio_range=(0.5, 1.5), border=(-48, -48)),
        dict(
            type='damo_yolo.MixUpP',
            img_scale=(96, 96),
            ratio_range=(0.8, 1.6),
            pad_val=114.0,
            prob=1.0,
        ),
        dict(type='PackDetInputs'),
    ]
    with mm_scope('mmdet'):
        inner = _dataset(shapes_root, load)
        ds = DATASETS.build(dict(type='MultiImageMixDataset', dataset=inner, pipeline=mix_pipeline))
        s = ds[5]
        assert s['inputs'].shape[1:] == (
            96,
            96,
        )  # mosaic 2x canvas cropped back by the affine border
        b = s['data_samples'].gt_instances.bboxes.tensor
        assert (b >= 0).all() and (b <= 96).all()
        hook = YOLOXModeSwitchHook(
            num_last_epochs=2,
            skip_type_keys=('Mosaic', 'damo_yolo.RandomAffineDAMO', 'damo_yolo.MixUpP'),
        )
        model = types.SimpleNamespace(bbox_head=types.SimpleNamespace())
        loader = types.SimpleNamespace(dataset=ds)
        runner = types.SimpleNamespace(
            epoch=0,
            max_epochs=5,
            train_dataloader=loader,
            model=model,
            logger=logging.getLogger('t'),
        )
        hook.before_train_epoch(runner)
        assert ds._skip_type_keys is None
        runner.epoch = 2  # (2 + 1) >= 5 - 2
        hook.before_train_epoch(runner)
        assert ds._skip_type_keys == ('Mosaic', 'damo_yolo.RandomAffineDAMO', 'damo_yolo.MixUpP')
        s = ds[5]
        assert s['inputs'].shape[1:] == (96, 96) and s['data_samples'].img_shape == (96, 96)
    # prob=0: MixUpP leaves the image untouched
    from mmdet.structures.bbox import HorizontalBoxes

    from fw_damo_yolo.transforms import MixUpP

    img = np.full((32, 32, 3), 7, np.uint8)
    res = dict(
        img=img.copy(),
        gt_bboxes=HorizontalBoxes(np.zeros((0, 4), np.float32)),
        gt_bboxes_labels=np.zeros(0, np.int64),
        gt_ignore_flags=np.zeros(0, bool),
        mix_results=[
            dict(
                img=np.zeros((32, 32, 3), np.uint8),
                gt_bboxes=HorizontalBoxes(np.array([[1, 1, 9, 9]], np.float32)),
                gt_bboxes_labels=np.zeros(1, np.int64),
                gt_ignore_flags=np.zeros(1, bool),
            )
        ],
    )
    out = MixUpP(img_scale=(32, 32), prob=0.0).transform(res)
    assert (out['img'] == 7).all() and 'mix_results' not in out
