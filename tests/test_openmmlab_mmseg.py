"""The OpenMMLab segmentation stack end to end on CPU, through fw.

mmseg's own DeepLabV3+ R-18 config (``mmseg::deeplabv3plus/deeplabv3plus_r18-d8_...``: ResNetV1c,
depthwise-separable ASPP head, FCN auxiliary head, SyncBN that mmengine reverts to BN off a process
group), shrunk to 64 px and two classes, trains a few iterations with ``fw train`` (fw's config
loading + mmengine's Runner) on an image/label-map folder dataset written to disk here (PNG images
and PNG index maps, mmseg's ``img_dir``/``ann_dir`` layout) and is evaluated by mmseg's
``IoUMetric``; ``fw test`` on the saved checkpoint reproduces the metrics. Needs
``tools/install_openmmlab.sh``; skipped where the stack is not installed at all, failing where it is
installed but broken. The config ships in a throw-away plugin (``mmseg_e2e``, only configs) so that
``fw train mmseg_e2e deeplabv3plus_r18_toy`` runs the real command line.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

try:
    metadata.version('mmcv')
    metadata.version('mmsegmentation')
except metadata.PackageNotFoundError:
    pytest.skip(
        'OpenMMLab stack not installed: run tools/install_openmmlab.sh (make openmmlab)',
        allow_module_level=True,
    )

CLASSES = ('background', 'blob')
SIZE = 64


def write_seg_folder(root: Path, split: str, n_images: int, seed: int) -> None:
    """``root/img_dir/split/*.png`` (BGR noise with bright discs and squares) and
    ``root/ann_dir/split/*.png`` (uint8 index maps: 0 background, 1 blob)."""
    import cv2

    rng = np.random.default_rng(seed)
    for sub in ('img_dir', 'ann_dir'):
        (root / sub / split).mkdir(parents=True, exist_ok=True)
    for i in range(n_images):
        img = rng.integers(30, 110, (SIZE, SIZE, 3), dtype=np.uint8)
        label = np.zeros((SIZE, SIZE), np.uint8)
        for _ in range(int(rng.integers(1, 4))):
            cx, cy, r = (int(v) for v in (*rng.integers(8, SIZE - 8, 2), rng.integers(5, 13)))
            if rng.random() < 0.5:
                cv2.circle(label, (cx, cy), r, 1, thickness=-1)
            else:
                label[max(cy - r, 0) : cy + r, max(cx - r, 0) : cx + r] = 1
        color = rng.integers(170, 256, 3)
        img[label == 1] = color
        cv2.imwrite(str(root / 'img_dir' / split / f'{i:03d}.png'), img)
        cv2.imwrite(str(root / 'ann_dir' / split / f'{i:03d}.png'), label)


CONFIG = """
# mmseg's DeepLabV3+ R-18-D8, unchanged but for classes, no download, and a toy data/schedule.
_base_ = 'mmseg::deeplabv3plus/deeplabv3plus_r18-d8_4xb2-80k_cityscapes-512x1024.py'
fw_base = []                  # mmseg's default_runtime comes with _base_ (default_scope='mmseg')
data_root = '{root}/'
crop_size = ({size}, {size})
model = dict(
    pretrained=None,          # the config names open-mmlab://resnet18_v1c; nothing downloads
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(num_classes=2),
    auxiliary_head=dict(num_classes=2))
toy_dataset = dict(type='BaseSegDataset', data_root=data_root, img_suffix='.png',
               seg_map_suffix='.png', reduce_zero_label=False,
               metainfo=dict(classes={classes!r}, palette=[[0, 0, 0], [255, 255, 255]]))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    _delete_=True, batch_size=4, num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(toy_dataset, pipeline=train_pipeline,
                 data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train')))
val_dataloader = dict(
    _delete_=True, batch_size=1, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(toy_dataset, data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
iters = {iters}
train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=iters)
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=iters, by_epoch=False)]
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(by_epoch=False, interval=iters),
                     visualization=dict(draw=False))
log_processor = dict(by_epoch=False, window_size=1)  # log each iteration's own loss
randomness = dict(seed=0)
"""


PLUGIN = 'mmseg_e2e'
REQUIRES = {'mmcv': '>=2.0.0rc4,<2.2.0', 'mmseg': '>=1.2,<1.3', 'mmengine': '>=0.10.7,<1.0'}


@pytest.fixture(scope='module')
def seg_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('seg')
    write_seg_folder(root, 'train', 16, seed=0)
    write_seg_folder(root, 'val', 6, seed=1)
    return root


def test_iou_metric_on_the_generated_folder_dataset(seg_root):
    """mmseg's loader reads the PNG maps back exactly; IoUMetric gives 100 for ground truth and
    the hand-computed value (background IoU / 2) for an all-background prediction."""
    import cv2
    import torch
    from mmseg.evaluation import IoUMetric
    from mmseg.registry import DATASETS

    from framework.openmmlab import mm_scope

    with mm_scope('mmseg'):  # LoadAnnotations etc. resolve to mmseg's, not mmcv's
        dataset = DATASETS.build(
            dict(
                type='BaseSegDataset',
                data_root=str(seg_root),
                img_suffix='.png',
                seg_map_suffix='.png',
                data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
                metainfo=dict(classes=CLASSES),
                reduce_zero_label=False,
                pipeline=[
                    dict(type='LoadImageFromFile'),
                    dict(type='LoadAnnotations'),
                    dict(type='PackSegInputs'),
                ],
            )
        )
    assert len(dataset) == 6
    gts = [dataset[i]['data_samples'].gt_sem_seg.data for i in range(len(dataset))]
    on_disk = [
        cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        for p in sorted((seg_root / 'ann_dir' / 'val').glob('*.png'))
    ]
    for gt, raw in zip(gts, on_disk):
        assert np.array_equal(gt[0].numpy(), raw)

    def score(preds) -> dict:
        metric = IoUMetric(iou_metrics=['mIoU'])
        metric.dataset_meta = dict(classes=CLASSES)
        metric.process(
            {},
            [dict(pred_sem_seg=dict(data=p), gt_sem_seg=dict(data=g)) for p, g in zip(preds, gts)],
        )
        return metric.evaluate(len(gts))

    assert score(gts)['mIoU'] == pytest.approx(100.0)
    background = float(np.mean([(raw == 0).mean() for raw in on_disk]))  # images are equal-sized
    all_bg = score([torch.zeros_like(g) for g in gts])
    assert all_bg['mIoU'] == pytest.approx(100 * background / 2, abs=0.01)
    assert all_bg['aAcc'] == pytest.approx(100 * background, abs=0.01)


def test_deeplabv3plus_trains_and_is_evaluated_by_iou_metric(
    seg_root, tmp_path, write_dist, make_fw, e2e
):
    site = tmp_path / 'site'
    write_dist(
        site,
        PLUGIN,
        e2e.plugin_files(
            PLUGIN,
            REQUIRES,
            {
                'deeplabv3plus_r18_toy': CONFIG.format(
                    root=seg_root, classes=CLASSES, size=SIZE, iters=20
                )
            },
        ),
    )
    fw = make_fw(site, load=PLUGIN)  # only this plugin, whatever else is installed
    work = tmp_path / 'work'
    out = fw(
        'train',
        PLUGIN,
        'deeplabv3plus_r18_toy',
        '--work-dir',
        str(work),
        timeout=1800,
        OMP_NUM_THREADS='1',
    )
    log = out.stdout + out.stderr + ''.join(p.read_text() for p in work.glob('*/*.log'))
    assert out.returncode == 0, log[-6000:]
    # mmseg's config asks for SyncBN; off a process group mmengine's Runner reverts it to BN
    assert 'SyncBatchNorm (SyncBN) layers in the model will be automatically reverted' in log

    records = e2e.read_scalars(work)
    losses = np.array([r['loss'] for r in records if 'loss' in r])
    assert len(losses) == 20 and np.isfinite(losses).all()
    # last-5 / first-3 mean loss over seeds 0-4 x 1 and 2 threads: 0.526-0.585; margin 0.115
    assert losses[-5:].mean() < 0.7 * losses[:3].mean(), losses
    val = [r for r in records if 'mIoU' in r][-1]  # IoUMetric after the last iteration
    for key in ('mIoU', 'aAcc', 'mAcc'):
        assert 0.0 <= val[key] <= 100.0, val

    # the checkpoint holds mmseg's DeepLabV3+ (ResNetV1c-18 stem, separable ASPP, aux FCN head)
    import torch

    ckpt = work / 'iter_20.pth'
    state = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']  # ours
    assert 'backbone.stem.0.weight' in state  # the V1c deep stem
    assert state['decode_head.conv_seg.weight'].shape[0] == len(CLASSES)
    assert state['auxiliary_head.conv_seg.weight'].shape[0] == len(CLASSES)
    assert any(k.startswith('decode_head.aspp_modules.1.depthwise_conv') for k in state)

    # fw test on that checkpoint (loaded through fw's trusted loader) reproduces the metrics
    out = fw(
        'test',
        PLUGIN,
        'deeplabv3plus_r18_toy',
        str(ckpt),
        '--work-dir',
        str(tmp_path / 'test'),
        '--json',
    )
    assert out.returncode == 0, (out.stdout + out.stderr)[-6000:]
    metrics = e2e.last_json_line(out.stdout)
    for key in ('mIoU', 'aAcc'):
        assert metrics[key] == pytest.approx(val[key], abs=1e-4)
