"""Training works end to end: the shapes-T model (half width) fits two training images.

Why the official loss needs long to fit two images: the GIoU and DFL terms of every positive are
weighted by its highest class probability (detached; GFL / official ZeroHead) and normalised by
max(sum of weights, 1). The two images hold 4 objects of 3 classes, two of them seen once. While a
GT's class score is ~0.01 its box loss is ~100x smaller than that of a learnt class (the
normalisation floor of 1 does not compensate on a tiny batch), its predicted box stays poor
(IoU ~0.2), AlignOTA gives it a single positive (dynamic k = int(sum of top IoUs) = 1) and its
QFL target (the IoU) stays low: the class never takes off. Seed 3: AP50 0.333 at 150, 200, 250
and 300 steps (the one class seen twice is found, AP 1.0; the two others 0.0), with loss_cls
0.005. With every positive's box weight 1 (``ZeroHead(box_weight='uniform')``) the same runs
reach AP50 1.0 by 100 steps: the pipeline (assignment, losses, decoding, NMS) fits; the slow start
is the loss weighting on a tiny set, not a bug. The CI test uses the uniform weight at 150
steps; the benchmark keeps the official weighting.
"""

import contextlib
import io

import pytest
import torch

pytest.importorskip('mmdet')

# AP50 on the two images after 150 steps, seeds 0-4 x 1 thread: 0.667 / 0.667 / 0.667 / 0.333 /
# 0.667 (min 0.333); 2 threads not measured (machine load). Margin 0.13 below the minimum.
AP50_MIN = 0.2


def overfit_run(tmp_path, seed=0, threads=1, iters=40, eval_at=None, box_weight='score'):
    """Train the shapes-T detector on two images for ``iters`` steps; returns {step: AP50 on the
    two images} for the steps in ``eval_at`` (default: the last)."""
    from mmdet.registry import DATASETS

    from framework import mm_scope
    from fw_damo_yolo.data import CLASSES, make_shapes_coco
    from fw_damo_yolo.detector import build_model

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    paths = make_shapes_coco(str(tmp_path), n_train=8, n_val=2, size=128, seed=3)
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='Resize', scale=(128, 128), keep_ratio=False),
        dict(
            type='PackDetInputs',
            meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'),
        ),
    ]
    with mm_scope('mmdet'):
        ds = DATASETS.build(
            dict(
                type='damo_yolo.ShapesCocoDataset',
                data_root=str(tmp_path) + '/',
                ann_file='annotations/instances_train.json',
                data_prefix=dict(img='train/'),
                metainfo=dict(classes=CLASSES),
                pipeline=pipeline,
            )
        )
        items = [ds[i] for i in (5, 6)]  # two ordinary images (0-4 are the edge cases)
    model = build_model('damo_yolo_t_shapes')
    model.bbox_head.box_weight = box_weight
    data = dict(
        inputs=[d['inputs'] for d in items], data_samples=[d['data_samples'] for d in items]
    )
    batch = model.data_preprocessor(data, True)
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, nesterov=True)
    model.train()
    eval_at, aps = set(eval_at or (iters,)), {}
    for it in range(iters):
        for g in opt.param_groups:
            g['lr'] = 0.02 * min(1.0, ((it + 1) / 20) ** 2)
        loss = sum(model.loss(batch['inputs'], batch['data_samples']).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        if it + 1 in eval_at:
            aps[it + 1] = round(_ap50(model, data, paths['train']), 4)
            model.train()
    return aps


def _ap50(model, data, ann_file):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    model.eval()
    test = model.data_preprocessor(data, False)
    with torch.no_grad():
        outs = model.predict(test['inputs'], test['data_samples'], rescale=True)
    dets = [
        dict(
            image_id=o.img_id,
            category_id=int(lab) + 1,
            score=float(s),
            bbox=[b[0], b[1], b[2] - b[0], b[3] - b[1]],
        )
        for o in outs
        for b, s, lab in zip(
            o.pred_instances.bboxes.tolist(), o.pred_instances.scores, o.pred_instances.labels
        )
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(ann_file)
        ev = COCOeval(gt, gt.loadRes(dets), 'bbox')
        ev.params.imgIds = [o.img_id for o in outs]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[1])


@pytest.mark.slow
@pytest.mark.benchmark
def test_overfit_two_images_ap50(tmp_path):
    aps = overfit_run(tmp_path, seed=0, threads=1, iters=150)
    assert aps[150] >= AP50_MIN, f'AP50 on the two training images {aps[150]:.3f}'


# CI: 150 steps with ZeroHead(box_weight='uniform') (see the module docstring). AP50 on the two
# images at 150 steps, seeds 0-4: 1.0 in all 10 runs (1 and 2 threads); margin 0.5.
# At 100 steps the spread is wider (1 thread 1.0 / 1.0 / 0.667 / 1.0 / 0.75; 2 threads 0.333 to
# 1.0, and 2-thread runs are not reproducible run to run), hence 150. Threshold 0.5; the test
# runs seed 0 with 1 thread (deterministic).
AP50_MIN_CI = 0.5


def test_overfit_two_images_ci(tmp_path):
    aps = overfit_run(tmp_path, seed=0, threads=1, iters=150, box_weight='uniform')
    assert aps[150] >= AP50_MIN_CI, f'AP50 on the two training images {aps[150]:.3f}'
