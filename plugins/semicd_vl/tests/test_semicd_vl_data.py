"""Data layer: paired-transform alignment, label mapping, splits, loaders."""

import os
import sys

import cv2
import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from framework import FwError  # noqa: E402
from fw_semicd_vl import transforms as T  # noqa: E402
from fw_semicd_vl.data import (  # noqa: E402
    BiTemporalCDDataset,  # noqa: E402
    make_splits,
    read_ids,
    write_splits,
)

H, W, S = 60, 100, 64
MAPS = ('gt', 'ignore', 'vl_a', 'vl_b', 'vl_change')


def coded():
    yy, xx = np.mgrid[:H, :W]
    a = np.stack([xx * 2, yy * 3, np.full_like(xx, 50)], -1).astype(np.uint8)
    r = dict(
        img_a=a,
        img_b=a[..., [1, 0, 2]].copy(),
        gt=xx.astype(np.uint8),
        vl_a=yy.astype(np.uint8),
        vl_b=xx.astype(np.uint8),
        vl_change=yy.astype(np.uint8),
        ignore=np.zeros((H, W), np.uint8),
        seg_fields=list(MAPS),
    )
    return r


def check_aligned(r):
    a, b = r['img_a'].astype(float), r['img_b'].astype(float)
    assert a.shape[:2] == r['gt'].shape
    np.testing.assert_array_equal(b[..., 0], a[..., 1])  # A and B share geometry exactly
    np.testing.assert_array_equal(b[..., 1], a[..., 0])
    pad = r['gt'] == 255
    for k in MAPS:  # padding: 255 in every map, 0 in both images
        assert ((r[k] == 255) == pad).all(), k
    assert (a[pad] == 0).all() and (b[pad] == 0).all()
    v = ~pad
    assert (a[v][:, 2] > 0).all()
    np.testing.assert_array_equal(r['gt'][v], r['vl_b'][v])
    np.testing.assert_array_equal(r['vl_a'][v], r['vl_change'][v])
    assert (r['ignore'][v] == 0).all()
    assert np.abs(a[..., 0][v] / 2 - r['gt'][v]).max() <= 1.5  # map location == image location
    assert np.abs(a[..., 1][v] / 3 - r['vl_a'][v]).max() <= 1.5


@pytest.mark.parametrize(
    'tf', [T.JointRandomRescale(), T.JointRandomCrop(S), T.JointRandomFlip(), 'weak']
)
def test_alignment_200_draws(tf):
    np.random.seed(0)
    pipe = (
        [T.JointRandomRescale(), T.JointRandomCrop(S), T.JointRandomFlip()]
        if tf == 'weak'
        else [tf]
    )
    flipped = padded = 0
    for _ in range(200):
        r = coded()
        for t in pipe:
            r = t(r)
        check_aligned(r)
        v = r['gt'] != 255
        flipped += int(r['gt'][v][0] > r['gt'][v][-1]) if v.sum() > 1 else 0
        padded += int((~v).any())
    if tf == 'weak' or isinstance(tf, T.JointRandomFlip):
        assert 40 < flipped < 160
    if tf == 'weak':
        assert padded > 10  # the short side sometimes rescales below the crop size


def test_strong_photometric_changes_images_only_and_per_date():
    np.random.seed(1)
    differ = 0
    for _ in range(20):
        r = T.JointRandomCrop(S)(coded())
        before = {k: r[k].copy() for k in MAPS + ('img_a', 'img_b')}
        r = T.StrongPhotometric(jitter_prob=1.0)(r)
        for k in before:
            np.testing.assert_array_equal(r[k], before[k])  # weak view and maps untouched
        da = r['img_a_s'].astype(int) - r['img_a']
        db = r['img_b_s'].astype(int) - r['img_b']
        differ += int(np.abs(da[..., [1, 0, 2]] - db).mean() > 1)
    assert differ >= 18


def test_cutmix_box_distribution():
    np.random.seed(2)
    boxes = [T.cutmix_box(64, prob=0.5) for _ in range(400)]
    on = [b for b in boxes if b.any()]
    assert 150 < len(on) < 250
    for b in on:
        ys, xs = np.nonzero(b)
        assert b[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].all()  # one rectangle
        assert 0.015 * 64 * 64 <= b.sum() <= 0.41 * 64 * 64


def _write_set(root, n=4, label_values=(0, 255)):
    for d in ('A', 'B', 'label'):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    ids = [f'train_{i}_1.png' for i in range(n)]
    rng = np.random.RandomState(0)
    for i in ids:
        cv2.imwrite(os.path.join(root, 'A', i), rng.randint(0, 255, (32, 32, 3), np.uint8))
        cv2.imwrite(os.path.join(root, 'B', i), rng.randint(0, 255, (32, 32, 3), np.uint8))
        cv2.imwrite(
            os.path.join(root, 'label', i), rng.choice(label_values, (32, 32)).astype(np.uint8)
        )
    return ids


def test_label_mapping_strict_threshold_and_3channel(tmp_path):
    ids = _write_set(str(tmp_path))
    ds = BiTemporalCDDataset(
        str(tmp_path),
        ids=ids,
        mode='test',
        pipeline=[T.LoadBiTemporalImages(), T.LoadCDLabel(), T.PackBiTemporalInputs()],
    )
    s = ds[0]
    raw = cv2.imread(str(tmp_path / 'label' / ids[0]), 0)
    assert set(np.unique(s['gt'].numpy())) <= {0, 1}
    np.testing.assert_array_equal(s['gt'].numpy(), (raw == 255).astype(int))
    # RGB order: loader converts cv2's BGR
    np.testing.assert_array_equal(
        s['img'][:3].permute(1, 2, 0).numpy().astype(np.uint8),
        cv2.imread(str(tmp_path / 'A' / ids[0]))[..., ::-1],
    )
    bad = raw.copy()
    bad[0, 0] = 128
    cv2.imwrite(str(tmp_path / 'label' / ids[1]), bad)
    with pytest.raises(FwError, match='128'):
        ds[1]
    assert T.map_cd_label(bad, 'threshold')[0, 0] == 1
    cv2.imwrite(str(tmp_path / 'label' / ids[2]), np.stack([raw] * 3, -1))
    np.testing.assert_array_equal(ds[2]['gt'].numpy(), (raw == 255).astype(int))


def test_unlabeled_never_reads_label(tmp_path):
    ids = _write_set(str(tmp_path))
    import shutil

    shutil.rmtree(tmp_path / 'label')
    ds = BiTemporalCDDataset(
        str(tmp_path),
        ids=ids,
        mode='unlabeled',
        num_samples=10,
        pipeline=[
            T.LoadBiTemporalImages(),
            T.JointRandomCrop(40),
            T.StrongPhotometric(),
            T.CutMixBox(),
            T.PackBiTemporalInputs(),
        ],
    )
    assert len(ds) == 10 and ds.ids[4] == ids[0]
    s = ds[0]
    assert 'gt' not in s and s['img_s'].shape == (6, 40, 40)
    ign = s['ignore'].numpy()  # padding only: 32 -> 40
    assert (ign[32:] == 255).all() and (ign[:, 32:] == 255).all() and (ign[:32, :32] == 0).all()


def test_vl_missing_file_names_path(tmp_path):
    ids = _write_set(str(tmp_path))
    ds = BiTemporalCDDataset(
        str(tmp_path),
        ids=ids,
        mode='labeled',
        vl_seg_root=str(tmp_path / 'vl'),
        vl_change_root=str(tmp_path / 'vlc'),
        pipeline=[T.LoadBiTemporalImages(), T.LoadVLPseudoLabels()],
    )
    with pytest.raises(FwError, match=str(tmp_path / 'vl' / 'A' / ids[0])):
        ds[0]


def test_splits(tmp_path):
    ids = [f'x_{i}.png' for i in range(400)]
    lab, unl = make_splits(ids, '5%', seed=3)
    assert len(lab) == 20 and len(unl) == 380 and not set(lab) & set(unl)
    assert make_splits(ids, '5%', seed=3) == (lab, unl) and make_splits(ids, '5%', seed=4)[0] != lab
    write_splits(tmp_path / 'splits' / 'toy', ids, test_ids=ids[:5])
    assert read_ids(tmp_path / 'splits' / 'toy' / '40%' / 'labeled.txt').__len__() == 160
    assert read_ids(tmp_path / 'splits' / 'toy' / 'test.txt') == ids[:5]
    # LEVIR-CD-256 5 %: 356 / 6764 (the LEVIR-CD-256 split files)
    assert [len(v) for v in make_splits([f'{i}' for i in range(7120)], '5%')] == [356, 6764]
